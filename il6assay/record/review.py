"""QC review: a named person accepts or rejects a processed run, on the record.

The decision goes into the run's append-only audit log (time in UTC, the
name given, the operating-system account, the action, the reason, and the
SHA-256 of every output reviewed), into run.json ("review") and into
review.js, which the report shows. A run whose outputs no longer match their
hashes is refused (the file is named): a reviewer must see what is recorded.
Accepting a plate that fails the acceptance rules needs ``override`` and a
reason. Masking a well afterwards returns the run to "unreviewed".
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.record.audit import append_entry, now_utc, os_account
from il6assay.record.folder import RunFolder, open_run

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
    if decision == "accept" and not record.get("accepted") and not override:
        raise InputError(
            f"the plate fails the acceptance rules ({record.get('verdict', 'rejected')}); "
            "accepting it needs --override and a reason",
            path=folder.path,
        )
    status = "accepted" if decision == "accept" else "rejected"
    entry = {
        "action": f"review-{decision}",
        "by": by.strip(),
        "reason": reason.strip(),
        "override": bool(override),
        "verdict_by_rules": "accepted" if record.get("accepted") else "rejected",
        "review_before": record.get("review", {}).get("status", "unreviewed"),
        "review_after": status,
        "outputs_sha256": record.get("outputs_sha256", {}),
        **(extra or {}),
    }
    _record(folder, entry, status)
    return entry


def _record(folder: RunFolder, entry: dict[str, Any], status: str) -> None:
    """Stage run.json and review.js, append the audit entry, then swap both in."""
    from il6assay.record.report import review_js

    staged: list[tuple[Path, Path]] = []
    try:
        written = {"time_utc": now_utc(), "os_account": os_account(), **entry}
        review = {
            "status": status,
            "by": written["by"],
            "reason": written["reason"],
            "time_utc": written["time_utc"],
            "os_account": written["os_account"],
            "override": written["override"],
        }
        record = dict(folder.record, review=review)
        for name, text in (
            ("run.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n"),
            ("review.js", review_js(review)),
        ):
            tmp = folder.path / f".{name}.partial"
            tmp.write_text(text, encoding="utf-8")
            staged.append((tmp, folder.path / name))
        append_entry(folder.path, written, stamp=False)
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def run_status(path: str | Path) -> dict[str, Any]:
    """One run's verdict, review state and integrity, for ``il6assay status``."""
    folder = Path(path)
    record_path = folder / "run.json"
    if not record_path.is_file():
        raise InputError("not an il6assay run folder (no run.json)", path=folder)
    record = json.loads(record_path.read_text(encoding="utf-8"))
    try:
        open_run(folder)
        integrity = "ok"
    except InputError as err:
        integrity = err.message
    review = record.get("review", {})
    return {
        "run_dir": str(folder),
        "run_id": record.get("run_id"),
        "plate_id": record.get("export", {}).get("plate_id"),
        "verdict": "accepted" if record.get("accepted") else "rejected",
        "failed": record.get("verdict"),
        "review": review.get("status", "unreviewed"),
        "reviewed_by": review.get("by"),
        "reviewed_utc": review.get("time_utc"),
        "override": review.get("override", False),
        "integrity": integrity,
    }


def expand_runs(paths: list[Path]) -> list[Path]:
    """Run folders named directly, or found one level inside a results folder."""
    found: list[Path] = []
    for p in paths:
        if (p / "run.json").is_file():
            found.append(p)
        elif p.is_dir():
            inner = sorted(q for q in p.iterdir() if (q / "run.json").is_file())
            if not inner:
                raise InputError("neither a run folder nor a folder of runs", path=p)
            found += inner
        else:
            raise InputError("no such folder", path=p)
    return found
