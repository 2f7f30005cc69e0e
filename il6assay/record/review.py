"""QC review: a named person accepts or rejects a processed run, on the record.

The decision goes into the run's append-only audit log (time in UTC, the
name given, the operating-system account, the action, the reason, and the
SHA-256 of every output reviewed), into run.json ("review") and into
review.js, which the report shows. A run whose outputs no longer match their
hashes, or whose audit chain is broken, is refused (naming what differs): a
reviewer must see what is recorded. run.json's review and review.js are
derived from the entry as written, and must agree with the chain.
Accepting a plate that fails the acceptance rules needs ``override`` and a
reason. Masking a well afterwards returns the run to "unreviewed".
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.record.audit import (
    append_entry,
    chain_head,
    now_utc,
    os_account,
    read_entries,
    review_of,
)
from il6assay.record.folder import RunFolder, open_run, read_record
from il6assay.record.schema import LegacyRunFolder, RunChanged, RunRecord

DECISIONS = ("accept", "reject")


def review_run(
    run_dir: str | Path,
    decision: str,
    by: str,
    reason: str,
    *,
    override: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an accept/reject decision for a run; returns the audit entry.

    ``extra`` adds keys to the audit entry (the web review's electronic signature).
    """
    folder, entry = prepare_review(run_dir, decision, by, reason, override, extra)
    return record_review(folder, entry)


def review_runs(
    run_dirs: list[Path],
    decision: str,
    by: str,
    reason: str,
    *,
    override: bool = False,
    extra: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Record one decision for several runs: every run is checked before any is recorded."""
    prepared = [prepare_review(d, decision, by, reason, override, extra) for d in run_dirs]
    return [record_review(folder, entry) for folder, entry in prepared]


def prepare_review(
    run_dir: str | Path,
    decision: str,
    by: str,
    reason: str,
    override: bool,
    extra: dict[str, Any] | None = None,
) -> tuple[RunFolder, dict[str, Any]]:
    """The checked run and the audit entry a decision on it would add; nothing is written."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}")
    folder = open_run(run_dir)
    if not by or not by.strip():
        raise InputError("a review needs the reviewer's name (--by)", path=folder.path)
    if not reason or not reason.strip():
        raise InputError("a review needs a reason (--reason)", path=folder.path)
    record = folder.record
    if override and decision != "accept":
        raise InputError("--override applies to --accept only", path=folder.path)
    if decision == "accept" and not record.accepted and not override:
        raise InputError(
            f"the plate fails the acceptance rules ({record.verdict}); "
            "accepting it needs --override and a reason",
            path=folder.path,
        )
    status = "accepted" if decision == "accept" else "rejected"
    entry = {
        "action": f"review-{decision}",
        "by": by.strip(),
        "reason": reason.strip(),
        "override": bool(override),
        "verdict_by_rules": "accepted" if record.accepted else "rejected",
        "review_before": record.review.status,
        "review_after": status,
        "outputs_sha256": dict(record.outputs_sha256),
        # The log as checked: if another command appends meanwhile, this entry is refused.
        "prev_sha256": chain_head(folder.entries),
        **(extra or {}),
    }
    return folder, entry


def record_review(folder: RunFolder, entry: dict[str, Any]) -> dict[str, Any]:
    """Stage run.json and review.js, append the audit entry, then swap both in.

    run.json's review and review.js are derived from the entry as written
    (``review_of``), so they say exactly what the audit log says.
    """
    from il6assay.record.outputs import disk_error
    from il6assay.record.report import review_js_of

    staged: list[tuple[Path, Path]] = []
    try:
        written = {"time_utc": now_utc(), "os_account": os_account(), **entry}
        review = review_of(written)
        record = dict(folder.record.raw, review=review)
        texts = [("run.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")]
        if folder.record.report is not None:
            texts.append(("review.js", review_js_of([*folder.entries, written])))
        for name, text in texts:
            tmp = folder.path / f".{name}.partial"
            tmp.write_text(text, encoding="utf-8")
            staged.append((tmp, folder.path / name))
        full = append_entry(folder.path, written, stamp=False)
        for tmp, target in staged:
            os.replace(tmp, target)
    except OSError as err:
        raise disk_error(err, folder.path) from None
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return full


def refresh_review_js(folder: str | Path) -> None:
    """Rewrite a run's review.js from its audit log, whole (after an entry the report shows)."""
    from il6assay.record.report import review_js_of

    folder = Path(folder)
    if not (folder / "review.js").exists():
        return  # a run written without a report
    from il6assay.record.outputs import disk_error

    tmp = folder / ".review.js.partial"
    try:
        tmp.write_text(review_js_of(read_entries(folder)), encoding="utf-8")
        os.replace(tmp, folder / "review.js")
    except OSError as err:
        raise disk_error(err, folder) from None
    finally:
        tmp.unlink(missing_ok=True)


def unknown_status(folder: Path, integrity: str) -> dict[str, Any]:
    """``run_status``'s row for a folder whose run cannot be read: only what is wrong."""
    return {
        "run_dir": str(folder),
        "run_id": folder.name,
        "plate_id": None,
        "verdict": "unknown",
        "failed": None,
        "review": "unknown",
        "reviewed_by": None,
        "reviewed_utc": None,
        "override": False,
        "integrity": integrity,
    }


def run_status(path: str | Path) -> dict[str, Any]:
    """One run's verdict, review state and integrity, for ``il6assay status``.

    A malformed run.json is an InputError (exit 2); a changed run, a broken
    chain or a run folder too old to check is reported in ``integrity``.
    """
    folder = Path(path)
    try:
        record = read_record(folder)
    except LegacyRunFolder as err:
        return unknown_status(folder, err.message)
    try:
        record = open_run(folder).record
        integrity = "ok"
    except RunChanged as err:
        integrity = err.message
    return _status(folder, record, integrity)


def folder_state(path: str | Path) -> tuple[tuple[str, int, int, int, int], ...]:
    """Every file of a run folder (inputs/ too) with its size, inode, mtime and ctime.

    Any write, rename, removal or addition changes it (a file's ctime cannot be set
    back): the state of a folder right after this process wrote it tells whether it
    is still as written, without hashing its files again.
    """
    base = str(Path(path))
    cut = len(base.rstrip(os.sep)) + 1  # os.walk's roots start with the folder's own path
    found = []
    for root, _dirs, files in os.walk(base):
        inner = root[cut:]  # the root relative to the folder ("" for the folder itself)
        for name in files:
            st = os.stat(os.path.join(root, name))
            rel = os.path.join(inner, name) if inner else name  # as os.path.relpath gives it
            found.append((rel, st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(sorted(found))


def written_status(
    folder: Path, record: RunRecord, as_written: tuple[Any, ...]
) -> dict[str, Any] | None:
    """``run_status`` of a run folder this process wrote, while every file is as written.

    ``as_written`` is :func:`folder_state` taken right after the write (its hashes were
    computed from the bytes written). None once anything in the folder changed: then
    ``run_status`` checks it whole. ``il6assay status`` always checks every file's hash.
    """
    if folder_state(folder) != tuple(as_written):
        return None
    return _status(folder, record, "ok")


def shared_plotly_integrity(folder: Path, embedded: bool) -> str:
    """ "ok", or what is wrong with the shared plotly.js beside ``folder`` that its report
    loads (``embedded``: the report carries its own, or there is no report: "ok")."""
    if embedded:
        return "ok"
    from il6assay.record.verify import shared_plotly_differences

    return next(iter(shared_plotly_differences(folder.parent, [])), "ok")


def _status(folder: Path, record: RunRecord, integrity: str) -> dict[str, Any]:
    report = record.report
    if integrity == "ok":
        integrity = shared_plotly_integrity(folder, report is None or report.embedded)
    review = record.review
    return {
        "run_dir": str(folder),
        "run_id": record.run_id,
        "plate_id": record.export.plate_id,
        "verdict": "accepted" if record.accepted else "rejected",
        "failed": record.verdict,
        "review": review.status,
        "reviewed_by": review.by,
        "reviewed_utc": review.time_utc,
        "override": review.override,
        "integrity": integrity,
    }


def expand_runs(
    paths: list[Path], *, folders_of_runs: bool = True, one_per_plate: bool = False
) -> list[Path]:
    """Run folders named directly, or (``folders_of_runs``) found one level inside a folder.

    With ``one_per_plate``, naming two runs of the same plate (the same export
    and plate id, processed twice, as ``runs/plate_001-*`` can match) is
    refused, naming both: the command must be told which run is meant.
    """
    found: list[Path] = []
    for p in paths:
        if (p / "run.json").is_file():
            found.append(p)
        elif p.is_dir() and folders_of_runs:
            # Hidden folders are never runs: unfinished or set-aside copies (status names those).
            inner = sorted(
                q for q in p.iterdir() if not q.name.startswith(".") and (q / "run.json").is_file()
            )
            if not inner:
                raise InputError("neither a run folder nor a folder of runs", path=p)
            found += inner
        elif p.is_dir():
            raise InputError("not an il6assay run folder (no run.json)", path=p)
        elif p.exists():
            raise InputError(
                "a file, neither a run folder nor a file il6assay shares in a results folder",
                path=p,
            )
        else:
            raise InputError("no such folder", path=p)
    found = list(dict.fromkeys(found))
    if one_per_plate:
        seen: dict[tuple[str, str | None], Path] = {}
        for p in found:
            record = read_record(p)
            plate = (record.export_sha256, record.export.plate_id)
            if plate in seen:
                raise InputError(
                    f"{seen[plate]} and {p} are the same plate ({plate[1] or 'its export'}) "
                    "processed twice; name the one run you mean"
                )
            seen[plate] = p
    return found
