"""A processed run on disk: open it, check it against its record, process it again.

``open_run`` refuses a folder whose outputs or input copies no longer match the
SHA-256 recorded in run.json; ``reprocess`` runs the plate again from the
folder's own ``inputs/`` copies, as masking (and verification) need.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_file
from il6assay.run import Run, process_plate
from il6assay.settings import Settings


@dataclass
class RunFolder:
    """A processed run on disk: its folder and run.json."""

    path: Path
    record: dict[str, Any]

    def input_copy(self, kind: str) -> Path | None:
        """The run's own copy of its export, layout or sample sheet."""
        entries = self.record.get("inputs", {}).get(kind) or []
        return self.path / entries[0]["copy"] if entries else None


def open_run(path: str | Path) -> RunFolder:
    """A run folder, checked: run.json present and every output as recorded."""
    folder = Path(path)
    record_path = folder / "run.json"
    if not record_path.is_file():
        raise InputError("not an il6assay run folder (no run.json)", path=folder)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"run.json is not valid JSON ({err})", path=folder) from None
    for name, digest in record.get("outputs_sha256", {}).items():
        target = folder / name
        if not target.is_file():
            raise InputError(f"{name} is missing from the run folder", path=folder)
        if sha256_file(target) != digest:
            raise InputError(
                f"{name} was changed after processing (its SHA-256 no longer matches run.json)",
                path=folder,
            )
    for kind, entries in record.get("inputs", {}).items():
        for entry in entries:
            copy = folder / entry["copy"]
            if not copy.is_file() or sha256_file(copy) != entry["sha256"]:
                raise InputError(
                    f"input copy {entry['copy']} ({kind}) is missing or changed", path=folder
                )
    return RunFolder(folder, record)


def reprocess(folder: RunFolder, settings: Settings) -> Run:
    """Process the run again from its own input copies with ``settings``; same folder name."""
    export = folder.input_copy("export")
    layout = folder.input_copy("layout")
    if export is None or layout is None:
        raise InputError("run.json names no export or layout copy", path=folder.path)
    run = process_plate(
        export,
        layout,
        folder.input_copy("samples"),
        settings,
        reader=folder.record["export"]["format"],
        allow_unmatched=bool(folder.record.get("allow_unmatched", False)),
    )
    recorded = [e["sha256"] for e in folder.record["inputs"]["layout"]]
    used = [sha256_file(p) for p in run.layout.files]
    if used != recorded:
        raise InputError(
            "the layout now resolves to different files than when the run was processed "
            "(an include outside the run folder changed)",
            path=folder.path,
        )
    run.run_id = folder.path.name
    run.processed_by = folder.record.get("processed_by")  # a refit is not a new processing
    return run
