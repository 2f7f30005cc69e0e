"""The runs the review app serves: found in run folders, joined with the study database.

A run is named by its folder's name (the run id). The queue reads the run
index (il6assay.db.run_index: rows copied from run.json, brought up to date by
a change check on every page), never the folders. It lists runs with
their date, plate, kit lot, verdict by the rules, review state, who processed
them, their last signature and whether they are in the database, filtered by
date, verdict, kit lot and review state; rejected runs first, then runs with
a Westgard warning, then the rest, each group newest first. A run folder that
is a symbolic link is not served.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from il6assay.db.chain_check import check_rows
from il6assay.db.models import DbRun, DbSignature
from il6assay.db.run_index import folder_of, listed, refresh, refresh_run, scan
from il6assay.db.run_index import kit_lots as indexed_lots


def run_index(roots: list[Path]) -> dict[str, Path]:
    """Run id -> folder, for run folders and folders of runs (hidden folders skipped)."""
    return {run_id: Path(f.folder) for run_id, f in scan(roots).items()}


def queue(
    engine: Engine,
    roots: list[Path],
    *,
    since: str | None = None,
    until: str | None = None,
    verdict: str | None = None,
    kit_lot: str | None = None,
    review: str | None = "unreviewed",
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The queue's rows, newest first; ``review=None`` (or "all") lists every review state."""
    return queue_page(
        engine,
        roots,
        {"since": since, "until": until, "verdict": verdict, "kit_lot": kit_lot, "review": review},
        limit=limit,
        offset=offset,
    )[0]


def queue_page(
    engine: Engine,
    roots: list[Path],
    filters: dict[str, str | None],
    *,
    limit: int | None = None,
    offset: int = 0,
    check_every: float = 0.0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the queue (indexed rows, after the change check) and how many runs match.

    ``check_every``: look into every run folder at most this often (seconds; new runs at once).
    """
    refresh(engine, roots, at_most_every=check_every)
    found, total = listed(engine, roots, filters, limit=limit, offset=offset)
    ids = [r.run_id for r in found]
    last_signed: dict[str, DbSignature] = {}
    pushed: set[str] = set()
    with Session(engine) as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            pushed.update(session.scalars(select(DbRun.run_id).where(DbRun.run_id.in_(chunk))))
            for sig in session.scalars(
                select(DbSignature).where(DbSignature.run_id.in_(chunk)).order_by(DbSignature.id)
            ):
                last_signed[sig.run_id] = sig
        check_rows(session, "web_signatures", [s.id for s in last_signed.values()])
    rows = []
    for r in found:
        sig = last_signed.get(r.run_id)
        rows.append(
            {
                "run_id": r.run_id,
                "created_utc": r.created_utc,
                "plate_id": r.plate_id,
                "kit_lot": r.kit_lot,
                "verdict": "accepted" if r.accepted else "rejected",
                "failed": r.failed,
                "warning": r.warning,
                "review": r.review,
                "processed_by": r.processed_by,
                "signed": f"{sig.meaning} by {sig.printed_name}, {sig.signed_utc}" if sig else "",
                "in_database": r.run_id in pushed,
            }
        )
    return rows, total


def kit_lots(engine: Engine, roots: list[Path]) -> list[str]:
    """The kit lots of the served runs, for the queue's filter."""
    return indexed_lots(engine, roots)


def find_run(engine: Engine, roots: list[Path], run_id: str) -> Path | None:
    """The folder of a served run, its index row first brought in step with it (one ``stat``:
    a run added, changed by hand or removed shows on its own page at once)."""
    refresh_run(engine, roots, run_id)
    return folder_of(engine, roots, run_id)


# How the plate map marks a well (as the offline report does, il6assay.record.report).
FAULT_FLAGS = ("STANDARD_FAILED", "CONTROL_FAILED", "HIGH_CV", "SATURATED")
CENSOR_FLAGS = {"BELOW_LLOQ": "<", "ABOVE_ULOQ": ">"}


def _sample_results(folder: Path) -> dict[str, dict[str, str]]:
    """Well -> its sample's row of dilutions.csv (result and flags at that dilution)."""
    from il6assay.record.folder import TABLE_COLUMNS, read_table

    found: dict[str, dict[str, str]] = {}
    for row in read_table(folder, "dilutions.csv", TABLE_COLUMNS["dilutions.csv"]):
        for well in (row.get("wells") or "").split():
            found[well] = dict(row)
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
    """wells.csv as rows A-H of wells: name, role, label, OD (or why none: ``od_status``),
    result (a standard's: ``recovery_pct``), flags and the well's mark (masked, fault,
    censored), as the offline report marks them."""
    from il6assay.record.folder import TABLE_COLUMNS, read_table

    table = read_table(folder, "wells.csv", TABLE_COLUMNS["wells.csv"])
    wells = {r["well"]: dict(r) for r in table}
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
            # Said in the page's words by the caller: an OD the reader did not give, a recovery.
            od_status = w["status"].lower() if w.get("status") in ("SATURATED", "MISSING") else ""
            result = sample.get("result") or ""
            recovery = ""
            if not result and w.get("role") == "standard" and w.get("recovery_pct"):
                recovery = f"{float(w['recovery_pct']):.1f}"
            line.append(
                {
                    "well": name,
                    "role": w.get("role", "") or "empty",
                    "label": w.get("sample") or w.get("level") or "",
                    "status": w.get("status", ""),
                    "flags": " ".join(sorted(flags)),
                    "kind": kind,
                    "mark": mark,
                    "od": "" if od_status else od,
                    "od_status": od_status,
                    "result": f"{result} pg/mL" if result else "",
                    "recovery_pct": recovery,
                }
            )
        grid.append(line)
    return grid
