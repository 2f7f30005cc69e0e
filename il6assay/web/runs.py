"""The runs the review app serves: found in run folders, joined with the study database.

A run is named by its folder's name (the run id). The queue lists runs with
their date, plate, kit lot, verdict by the rules, review state, who processed
them, their last signature and whether they are in the database, filtered by
date, verdict, kit lot and review state.
"""

from __future__ import annotations

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
                if not p.name.startswith(".") and (p / "run.json").is_file():
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
        rows.append(
            {
                "run_id": run_id,
                "created_utc": created,
                "plate_id": (record.get("export") or {}).get("plate_id") or "",
                "kit_lot": lot,
                "verdict": by_rules,
                "failed": record.get("verdict") or "",
                "review": state,
                "processed_by": record.get("processed_by") or "",
                "signed": f"{sig.meaning} by {sig.printed_name}, {sig.signed_utc}" if sig else "",
                "in_database": run_id in pushed,
            }
        )
    rows.sort(key=lambda r: (r["created_utc"], r["run_id"]), reverse=True)
    return rows


def kit_lots(roots: list[Path]) -> list[str]:
    """The kit lots of the served runs, for the queue's filter."""
    lots = {_record(f).get("kit_lot") for f in run_index(roots).values()}
    return sorted(lot for lot in lots if lot)


def plate_map(folder: Path) -> list[list[dict[str, str]]]:
    """wells.csv as rows A-H of wells: name, role, sample or level, status, flags."""
    with (folder / "wells.csv").open(encoding="utf-8-sig", newline="") as fh:
        wells = {row["well"]: row for row in csv.DictReader(fh)}
    letters = sorted({w[0] for w in wells})
    cols = sorted({int(w[1:]) for w in wells})
    grid = []
    for r in letters:
        line = []
        for c in cols:
            w = wells.get(f"{r}{c}", {})
            line.append(
                {
                    "well": f"{r}{c}",
                    "role": w.get("role", ""),
                    "label": w.get("sample") or w.get("level") or "",
                    "status": w.get("status", ""),
                    "flags": w.get("flags", ""),
                }
            )
        grid.append(line)
    return grid
