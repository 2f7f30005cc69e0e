"""A processed run on disk: open it, check it against its record, process it again.

``open_run`` refuses a folder that is not what il6assay wrote: run.json that
does not match its schema (``il6assay.record.schema``), any file of the run
as the tool defines it (every output, review.js, every input copy, the audit
log) missing or different from its recorded SHA-256, an audit log whose
chain is broken or that does not end at the run as it is now, and a review
in run.json or review.js that the log does not say. ``reprocess`` runs the
plate again from the folder's own ``inputs/`` copies, as masking and
verification (``il6assay.record.verify``) need.

This is the one module that parses a run folder's files: the ``RunFolder``
``open_run`` gives reads run.json (``record``, typed), curve.json (``curve``),
results.csv, dilutions.csv and wells.csv (``results``, ``dilutions``,
``wells``) once each, checked, and keeps them; ``read_record`` and
``read_run`` read a folder without checking its files, for what must show a
changed run.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_file
from il6assay.qc.rules import STUDY_RULES, study_judgement
from il6assay.record.audit import AUDIT_FILE, read_chain, review_state
from il6assay.record.schema import (
    CURVE_FILE,
    CURVE_RECORD,
    RECORD_FILE,
    REVIEW_JS,
    RunChanged,
    RunRecord,
    check,
    content_files,
    json_copy,
    load_record,
    output_files,
    read_only,
    unguarded,
)
from il6assay.run import Run, process_plate
from il6assay.settings import Settings


@dataclass(frozen=True)
class RunFolder:
    """A processed run on disk, checked: its folder, run.json and the verified audit log.

    The one way to read a run folder's content: ``record`` (run.json, typed),
    ``curve`` (curve.json), ``results``, ``dilutions`` and ``wells`` (the CSV
    tables' rows) and ``audit`` (the log's entries) are each parsed once, checked
    against their schema, and kept on the object. ``open_run`` has verified every
    file against its recorded SHA-256 first, so what they give is what was recorded.
    """

    path: Path
    record: RunRecord
    entries: list[dict[str, Any]] = field(default_factory=list)
    checked: bool = True  # False: read by ``read_run``, its files and audit log not verified

    def input_copy(self, kind: str) -> Path | None:
        """The run's own copy of its export, layout or sample sheet."""
        entry = self.record.input_copy(kind)
        return self.path / entry.copy if entry is not None else None

    @property
    def audit(self) -> tuple[dict[str, Any], ...]:
        """The audit log's entries, as verified by ``open_run`` (oldest first)."""
        return tuple(self.entries)

    @functools.cached_property
    def curve(self) -> CurveRecord:
        """curve.json, parsed once and checked."""
        return read_curve(self.path)

    @functools.cached_property
    def results(self) -> tuple[Mapping[str, str], ...]:
        """results.csv's rows (one per specimen), each cell as text without its formula guard."""
        return read_table(self.path, "results.csv", TABLE_COLUMNS["results.csv"])

    @functools.cached_property
    def dilutions(self) -> tuple[Mapping[str, str], ...]:
        """dilutions.csv's rows (every sample label at every dilution), as ``results``."""
        return read_table(self.path, "dilutions.csv", TABLE_COLUMNS["dilutions.csv"])

    @functools.cached_property
    def wells(self) -> tuple[Mapping[str, str], ...]:
        """wells.csv's rows (one per well), as ``results``."""
        return read_table(self.path, "wells.csv", TABLE_COLUMNS["wells.csv"])


@dataclass(frozen=True)
class CurveRecord:
    """curve.json, checked: the fit, the calibrated range and the verdict; ``raw`` is all of it."""

    fit: Mapping[str, Any]
    lloq_pg_ml: float | None
    uloq_pg_ml: float | None
    accepted: bool
    verdict: str
    rules: tuple[Mapping[str, Any], ...]
    _doc: dict[str, Any] = field(repr=False)

    @property
    def params(self) -> dict[str, Any]:
        """The fitted curve's parameters by name (empty when the fit gave none)."""
        return dict(self.fit.get("params") or {})

    @property
    def raw(self) -> dict[str, Any]:
        """curve.json as a plain dict, a fresh copy (to store or change)."""
        return json_copy(self._doc)


def read_curve(folder: Path) -> CurveRecord:
    """A run folder's curve.json, parsed and checked (InputError naming the file when not)."""
    try:
        doc = json.loads((folder / CURVE_FILE).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"{CURVE_FILE} cannot be read ({err.strerror})", path=folder) from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise InputError(f"{CURVE_FILE} is not valid JSON ({err})", path=folder) from None
    try:
        if not isinstance(doc, dict):
            raise InputError(f"{CURVE_FILE} is malformed: it should be a map")
        check(doc, CURVE_RECORD, "", CURVE_FILE)
    except InputError as err:
        raise err.at(folder) from None
    frozen = read_only(doc)
    return CurveRecord(
        fit=frozen["fit"],
        lloq_pg_ml=doc["lloq_pg_ml"],
        uloq_pg_ml=doc["uloq_pg_ml"],
        accepted=doc["accepted"],
        verdict=doc["verdict"],
        rules=frozen["rules"],
        _doc=doc,
    )


# The columns each table's readers rely on (il6assay.qc.tables writes more).
_SPECIMEN = ("sample", "study_id", "visit", "result", "conc_pg_ml", "flags")
TABLE_COLUMNS = {
    "results.csv": _SPECIMEN,
    "dilutions.csv": (*_SPECIMEN, "dilution"),
    "wells.csv": ("well", "role", "status"),
}


def read_table(folder: Path, name: str, required: tuple[str, ...]) -> tuple[Mapping[str, str], ...]:
    """A run folder's CSV table as read-only rows of text (InputError naming the file when bad)."""
    try:
        with (folder / name).open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or ())]
            if missing:
                raise InputError(f"{name} is malformed: it has no column {missing[0]}", path=folder)
            return tuple(
                MappingProxyType({k: unguarded(v) for k, v in row.items() if k is not None})
                for row in reader
            )
    except OSError as err:
        raise InputError(f"{name} cannot be read ({err.strerror})", path=folder) from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{name} is not CSV text il6assay writes ({err})", path=folder) from None


def check_files(folder: Path, record: dict[str, Any]) -> None:
    """Every output and input copy the tool defines for this run: present and as recorded."""
    recorded = record["outputs_sha256"]
    expected = output_files(record)
    for name in sorted(set(recorded) - set(expected)):
        raise RunChanged(f"run.json's outputs_sha256 names {name}, which il6assay does not write")
    for name in expected:
        target = folder / name
        if name not in recorded:
            raise RunChanged(
                f"run.json's outputs_sha256 has no entry for {name} "
                "(every output must be recorded; the entry was removed)"
            )
        if not target.is_file():
            raise RunChanged(f"{name} is missing from the run folder")
        if sha256_file(target) != recorded[name]:
            raise RunChanged(
                f"{name} was changed after processing (its SHA-256 no longer matches run.json)"
            )
    for kind, entries in record["inputs"].items():
        for entry in entries:
            copy = folder / entry["copy"]
            if not copy.is_file() or sha256_file(copy) != entry["sha256"]:
                raise RunChanged(f"input copy {entry['copy']} ({kind}) is missing or changed")
    allowed = {*content_files(record), RECORD_FILE, AUDIT_FILE}
    if record.get("report") is not None:
        allowed.add(REVIEW_JS)
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_dir() or name in allowed or _litter(path.relative_to(folder).parts):
            continue
        raise RunChanged(f"{name} is not a file of an il6assay run (added after processing)")


# What operating systems and file browsers leave in folders: never a run's content.
OS_LITTER = ("Thumbs.db", "desktop.ini")


def _litter(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") for p in parts) or parts[-1] in OS_LITTER


class ReviewOutOfStep(RunChanged):
    """run.json's review or review.js is not what a verified audit log says (repairable)."""

    def __init__(self, message: str, folder: Path) -> None:
        super().__init__(
            f"{message}; if a review was interrupted, `il6assay repair {folder} --by NAME` "
            "rewrites them from audit.jsonl"
        )


def check_review(folder: Path, record: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    """run.json's review and review.js must say what the audit log says."""
    derived = review_state(entries)
    if record["review"] != derived:
        raise ReviewOutOfStep(
            f"run.json's review ({_said(record['review'])}) is not what audit.jsonl records "
            f"({_said(derived)})",
            folder,
        )
    if record.get("report") is None:
        return
    from il6assay.record.report import review_js_of

    path = folder / REVIEW_JS
    if not path.is_file():
        raise ReviewOutOfStep(f"{REVIEW_JS} is missing from the run folder", folder)
    if path.read_bytes() != review_js_of(entries).encode("utf-8"):
        raise ReviewOutOfStep(
            f"{REVIEW_JS} (what the report shows and runs) is not what audit.jsonl records "
            f"({_said(derived)}): it was rewritten",
            folder,
        )


def _said(review: dict[str, Any]) -> str:
    status = str(review.get("status"))
    return f"{status} by {review['by']}" if review.get("by") else status


def open_run(path: str | Path) -> RunFolder:
    """A run folder, checked: run.json, every file, the audit chain and the review agree."""
    folder = Path(path)
    record = load_record(folder)
    try:
        check_files(folder, record)
        entries = read_chain(folder, record)
        check_review(folder, record, entries)
    except InputError as err:
        raise err.at(folder) from None
    return RunFolder(folder, RunRecord(record), entries)


def read_record(path: str | Path) -> RunRecord:
    """A folder's run.json, checked against its schema and typed; its files are not checked.

    For what must be said about a run whose files changed (``status``), or to tell
    runs apart before opening them; anything that acts on a run uses ``open_run``.
    """
    return RunRecord(load_record(path))


def read_run(path: str | Path) -> RunFolder:
    """A run folder as it is, its files not checked against their hashes, no audit log read.

    For pages that list runs whatever their state (the results folder's index shows
    a changed run with what ``status`` says of it); never for acting on a run.
    """
    folder = Path(path)
    return RunFolder(folder, read_record(folder), [], checked=False)


def reprocess(folder: RunFolder, settings: Settings) -> Run:
    """Process the run again from its own input copies with ``settings``; same folder name."""
    export = folder.input_copy("export")
    layout = folder.input_copy("layout")
    if export is None or layout is None:
        raise InputError("run.json names no export or layout copy", path=folder.path)
    record = folder.record
    run = process_plate(
        export,
        layout,
        folder.input_copy("samples"),
        settings,
        reader=record.export.format,
        allow_unmatched=record.allow_unmatched,
    )
    recorded = [e.sha256 for e in record.inputs["layout"]]
    used = [sha256_file(p) for p in run.layout.files]
    if used != recorded:
        raise InputError(
            "the layout now resolves to different files than when the run was processed "
            "(an include outside the run folder changed)",
            path=folder.path,
        )
    run.run_id = folder.path.name
    run.processed_by = record.processed_by  # a refit is not a new processing
    run.processed_utc = record.created_utc  # nor a new processing time
    # The Westgard verdict came from the study's history at processing time, not from the
    # export: it is carried over as recorded (docs/integrity.md says what that leaves open).
    rules, warnings = study_judgement(folder.curve.raw["rules"], list(record.warnings))
    if rules or warnings:
        run.rules = [r for r in run.rules if r.id not in STUDY_RULES] + rules
        run.warnings = [*run.warnings, *(w for w in warnings if w not in run.warnings)]
    return run
