"""The runs the review app serves: found in run folders, joined with the study database.

A run is named by its folder's name (the run id). The queue lists runs with
their date, plate, kit lot, verdict by the rules, review state, who processed
them, their last signature and whether they are in the database, filtered by
date, verdict, kit lot and review state; rejected runs first, then runs with
a Westgard warning, then the rest, each group newest first. A run folder that
is a symbolic link is not served.
"""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from il6assay.db.chain_check import check_rows
from il6assay.db.models import DbRun, DbSignature


def run_index(roots: list[Path]) -> dict[str, Path]:
    """Run id -> folder, for run folders and folders of runs (hidden folders skipped)."""
    found: dict[str, Path] = {}
    for root in roots:
        if (root / "run.json").is_file():
            found.setdefault(root.name, root)
        elif root.is_dir():
            for p in sorted(root.iterdir()):
                if p.name.startswith(".") or p.is_symlink():
                    continue
                if (p / "run.json").is_file():
                    found.setdefault(p.name, p)
    return found


def _record(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def queue(
    engine: Engine,
    roots: list[Path],
    *,
    since: str | None = None,
    until: str | None = None,
    verdict: str | None = None,
    kit_lot: str | None = None,
    review: str | None = "unreviewed",
) -> list[dict[str, Any]]:
    """The queue's rows, newest first; ``review=None`` (or "all") lists every review state."""
    with Session(engine) as session:
        pushed = set(session.scalars(select(DbRun.run_id)).all())
        last_signed: dict[str, DbSignature] = {}
        for sig in session.scalars(select(DbSignature).order_by(DbSignature.id)).all():
            last_signed[sig.run_id] = sig
        check_rows(session, "web_signatures", [s.id for s in last_signed.values()])
    rows = []
    for run_id, folder in run_index(roots).items():
        record = _record(folder)
        created = str(record.get("created_utc") or "")
        state = (record.get("review") or {}).get("status", "unreviewed")
        by_rules = "accepted" if record.get("accepted") else "rejected"
        lot = record.get("kit_lot") or ""
        if since and created[:10] < since:
            continue
        if until and created[:10] > until:
            continue
        if verdict and verdict != "all" and by_rules != verdict:
            continue
        if kit_lot and kit_lot.strip().casefold() not in lot.casefold():
            continue
        if review and review != "all" and state != review:
            continue
        sig = last_signed.get(run_id)
        failed = str(record.get("verdict") or "")
        if failed.startswith("rejected:"):
            failed = failed[len("rejected:") :].strip()
        warning = "; ".join(
            str(w) for w in record.get("warnings") or [] if "WESTGARD_WARNING" in str(w)
        )
        rows.append(
            {
                "run_id": run_id,
                "created_utc": created,
                "plate_id": (record.get("export") or {}).get("plate_id") or "",
                "kit_lot": lot,
                "verdict": by_rules,
                "failed": failed,
                "warning": warning,
                "review": state,
                "processed_by": record.get("processed_by") or "",
                "signed": f"{sig.meaning} by {sig.printed_name}, {sig.signed_utc}" if sig else "",
                "in_database": run_id in pushed,
            }
        )
    rows.sort(key=lambda r: (r["created_utc"], r["run_id"]), reverse=True)
    rows.sort(key=lambda r: 0 if r["verdict"] == "rejected" else 1 if r["warning"] else 2)
    return rows


def kit_lots(roots: list[Path]) -> list[str]:
    """The kit lots of the served runs, for the queue's filter."""
    lots = {_record(f).get("kit_lot") for f in run_index(roots).values()}
    return sorted(lot for lot in lots if lot)


# How the plate map marks a well (as the offline report does, il6assay.record.report).
FAULT_FLAGS = ("STANDARD_FAILED", "CONTROL_FAILED", "HIGH_CV", "SATURATED")
CENSOR_FLAGS = {"BELOW_LLOQ": "<", "ABOVE_ULOQ": ">"}


def _sample_results(folder: Path) -> dict[str, dict[str, str]]:
    """Well -> its sample's row of dilutions.csv (result and flags at that dilution)."""
    found: dict[str, dict[str, str]] = {}
    path = folder / "dilutions.csv"
    if not path.is_file():
        return found
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            for well in (row.get("wells") or "").split():
                found[well] = row
    return found


def _mark(status: str, flags: set[str]) -> tuple[str, str]:
    """The well's mark and its kind: masked, fault, censored, or none."""
    if status == "MASKED":
        return "masked", "M"
    if flags & set(FAULT_FLAGS):
        return "fault", "✕"
    if flags & set(CENSOR_FLAGS):
        return "censored", "".join(sym for f, sym in CENSOR_FLAGS.items() if f in flags)
    return "", ""


def plate_map(folder: Path) -> list[list[dict[str, str]]]:
    """wells.csv as rows A-H of wells: name, role, label, OD, result, flags and the well's mark
    (masked, fault, censored), as the offline report marks them."""
    with (folder / "wells.csv").open(encoding="utf-8-sig", newline="") as fh:
        wells = {row["well"]: row for row in csv.DictReader(fh)}
    samples = _sample_results(folder)
    letters = sorted({w[0] for w in wells})
    cols = sorted({int(w[1:]) for w in wells})
    grid = []
    for r in letters:
        line = []
        for c in cols:
            name = f"{r}{c}"
            w = wells.get(name, {})
            sample = samples.get(name, {})
            flags = set((w.get("flags") or "").split(";")) | {
                f for f in (sample.get("flags") or "").split(";") if f in CENSOR_FLAGS
            }
            flags.discard("")
            kind, mark = _mark(w.get("status", ""), flags)
            od = w.get("od_corrected") or ""
            with contextlib.suppress(ValueError):
                od = f"{float(od):.3f}"
            if not od and w.get("status") in ("SATURATED", "MISSING"):
                od = w["status"].lower()
            result = sample.get("result") or ""
            if not result and w.get("role") == "standard" and w.get("recovery_pct"):
                result = f"recovery {float(w['recovery_pct']):.1f} %"
            line.append(
                {
                    "well": name,
                    "role": w.get("role", "") or "empty",
                    "label": w.get("sample") or w.get("level") or "",
                    "status": w.get("status", ""),
                    "flags": " ".join(sorted(flags)),
                    "kind": kind,
                    "mark": mark,
                    "od": od,
                    "result": f"{result} pg/mL" if sample.get("result") else result,
                }
            )
        grid.append(line)
    return grid
