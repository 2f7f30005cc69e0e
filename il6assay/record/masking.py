"""Masking and unmasking wells of a processed run, with a reason, on the record.

``mask_wells`` reprocesses the run from its own ``inputs/`` copies with the
wells excluded (the reads stay in wells.csv, status MASKED), rewrites the
run's outputs whole, returns the run to "unreviewed", and appends to the
audit log who, when, why, and the before/after of every value that changed.
A run whose outputs were edited by hand, or whose inputs no longer match
their recorded hashes, is refused: the record must describe what is there.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.record.audit import append_entry, read_entries
from il6assay.record.folder import open_run, reprocess
from il6assay.run import Run
from il6assay.settings import Settings


def _snapshot(folder: Path) -> dict[str, Any]:
    """The values a mask can change: results by sample, curve, range, verdict."""
    with (folder / "results.csv").open(encoding="utf-8-sig") as fh:
        results = {
            row["sample"]: {k: row[k] for k in ("result", "conc_pg_ml", "flags")}
            for row in csv.DictReader(fh)
        }
    curve = json.loads((folder / "curve.json").read_text(encoding="utf-8"))
    return {
        "results": results,
        "params": curve["fit"]["params"],
        "lloq_pg_ml": curve["lloq_pg_ml"],
        "uloq_pg_ml": curve["uloq_pg_ml"],
        "accepted": curve["accepted"],
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    changes = []
    for key in ("accepted", "lloq_pg_ml", "uloq_pg_ml"):
        if before[key] != after[key]:
            changes.append({"what": key, "before": before[key], "after": after[key]})
    for name, value in before["params"].items():
        if value != after["params"].get(name):
            changes.append(
                {"what": f"curve {name}", "before": value, "after": after["params"].get(name)}
            )
    for sample in sorted(set(before["results"]) | set(after["results"])):
        old, new = before["results"].get(sample), after["results"].get(sample)
        if old != new:
            changes.append({"what": f"sample {sample}", "before": old, "after": new})
    return changes


def changes_between(before: Path, after: Path) -> list[dict[str, Any]]:
    """What differs between two run folders' results, curve, range and verdict (a mask's diff)."""
    return _diff(_snapshot(before), _snapshot(after))


def mask_wells(
    run_dir: str | Path,
    wells: list[str],
    reason: str,
    by: str,
    *,
    unmask: bool = False,
    extra: dict[str, Any] | None = None,
) -> tuple[Run, dict[str, Any]]:
    """Mask (or unmask) wells of a run, refit, rewrite its outputs, and record it all.

    ``extra`` adds keys to the audit entry (the web review's account of who masked).
    """
    folder = open_run(run_dir)
    action = "unmask" if unmask else "mask"
    if not reason or not reason.strip():
        raise InputError(f"a {action} needs a reason (--reason)", path=folder.path)
    if not by or not by.strip():
        raise InputError(f"a {action} needs the name of who decides (--by)", path=folder.path)
    wells = [w.strip().upper() for w in wells]
    if not wells:
        raise InputError(f"name the well(s) to {action} with --well", path=folder.path)
    settings = Settings.from_dict(folder.record["settings"])
    masked = set(settings.masked)
    if unmask:
        not_masked = [w for w in wells if w not in masked]
        if not_masked:
            raise InputError(f"well {not_masked[0]} is not masked", path=folder.path)
        masked -= set(wells)
    else:
        already = [w for w in wells if w in masked]
        if already:
            raise InputError(f"well {already[0]} is already masked", path=folder.path)
        masked |= set(wells)
    new_settings = replace(settings, masked=tuple(sorted(masked)))
    run = reprocess(folder, new_settings)
    before = _snapshot(folder.path)
    from il6assay.record.outputs import replace_run

    previous_review = folder.record.get("review", {}).get("status", "unreviewed")
    entry: dict[str, Any] = {}

    def record_change(new_folder: Path) -> None:
        record = json.loads((new_folder / "run.json").read_text(encoding="utf-8"))
        entry.update(
            append_entry(
                new_folder,
                {
                    "action": action,
                    "by": by.strip(),
                    "reason": reason.strip(),
                    "wells": wells,
                    "masked_after": list(new_settings.masked),
                    "review_before": previous_review,
                    "review_after": "unreviewed",
                    "changes": _diff(before, _snapshot(new_folder)),
                    "outputs_sha256": record["outputs_sha256"],
                    **(extra or {}),
                },
            )
        )
        from il6assay.record.report import review_js_of

        # The report shows each mask's reason and the review history from review.js.
        (new_folder / "review.js").write_text(
            review_js_of(read_entries(new_folder)), encoding="utf-8"
        )

    standalone = (folder.record.get("report") or {}).get("plotly_js") == "embedded"
    lang = (folder.record.get("report") or {}).get("lang", "en")
    replace_run(
        run,
        folder.path,
        keep=("audit.jsonl",),
        before_swap=record_change,
        standalone_report=standalone,
        lang=lang,
    )
    return run, entry
