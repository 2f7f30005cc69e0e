"""`il6assay db verify` against study size: the whole chain of a study database of N runs.

The example plate is processed and accepted for real once; each of the N runs
is its rows stored again under renumbered study IDs: the run, its curve, 96
wells, 35 results, 35 dilution rows, 36 audit rows, its QC figures (a run and
its controls) and one web signature. Each run is one ORM transaction, so its
rows are chained at commit by the same session events as ``push``'s (no
verification of the folder, no re-assay rules: this builds a big chain
quickly, it does not time push). Then ``verify_chain`` walks every entry and
every row; the CPU time of this process is printed (with SQLite the database
engine runs in this process, so that is all the CPU the check costs).
Figures are quoted in docs/database.md ("The database's own chain").

Usage: python benchmarks/bench_chain.py [--runs 1000] [--db PATH_OR_URL]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def example_rows(root: Path) -> Any:
    """The example plate processed, accepted and read as push reads it (``RunData``)."""
    from benchmarks.bench_push_study_size import example_run
    from il6assay.db.push import load_run

    return load_run(example_run(root))


def _run_rows(data: Any, n: int) -> list[Any]:
    """Run number ``n``'s rows (all but those that need the run's id)."""
    from il6assay.db.models import DbRun

    record = data.folder.record
    return [
        DbRun(
            run_id=f"{data.run_id}-{n:05d}",
            content_sha256=data.content_sha256,
            plate_id=f"bench-{n}",
            export_sha256=data.content_sha256,
            settings=json.dumps(record.get("settings") or {}),
            accepted_by_rules=True,
            verdict=str(record.get("verdict", "")),
            review_status="accepted",
            reviewed_by="Bench",
            review_override=False,
            pushed_utc="2026-01-01T00:00:00+00:00",
            pushed_os_account="bench",
            run_json=json.dumps(record),
        )
    ]


def add_runs(engine: Any, data: Any, first: int, count: int) -> None:
    """Store runs ``first`` .. ``first + count - 1``, one chained ORM transaction each."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from il6assay.db.engine import writer
    from il6assay.db.models import (
        DbAccount,
        DbAudit,
        DbCurve,
        DbQcControl,
        DbQcRun,
        DbSignature,
        DbWell,
    )
    from il6assay.db.push import dilution_from_row, result_from_row

    with Session(engine) as session:
        account_id = session.scalar(select(DbAccount.id).limit(1))
    if account_id is None:
        with Session(writer(engine)) as session, session.begin():
            account = DbAccount(
                username="bench", printed_name="Bench", role="reviewer", password_hash="-",
                active=True, failed_logins=0, created_utc="2026-01-01T00:00:00+00:00",
                password_changed_utc="2026-01-01T00:00:00+00:00",
            )  # fmt: skip
            session.add(account)
            session.flush()
            account_id = account.id
    for n in range(first, first + count):
        with Session(writer(engine)) as session, session.begin():
            (run,) = _run_rows(data, n)
            session.add(run)
            session.flush()
            session.add(DbCurve(run_pk=run.id, params="[]", curve_json=json.dumps(data.curve)))
            for w in data.wells:
                session.add(
                    DbWell(run_pk=run.id, well=w["well"], role=w.get("role") or None,
                           sample=w.get("sample") or None, reads=json.dumps(w),
                           status=w.get("status") or None, flags=w.get("flags") or None)
                )  # fmt: skip
            renamed = [
                {**r, "study_id": f"S{n:05d}-{r['study_id']}"}
                for r in data.results
                if r.get("study_id")
            ]
            for row in renamed:
                session.add(result_from_row(row, run.id))
            for row in data.dilutions:
                if row.get("study_id"):
                    row = {**row, "study_id": f"S{n:05d}-{row['study_id']}"}
                    session.add(dilution_from_row(row, run.id))
            session.add(
                DbAudit(time_utc=run.pushed_utc, os_account="bench", action="push",
                        run_id=run.run_id, what=f"run {run.run_id} pushed")
            )  # fmt: skip
            for row in renamed:
                session.add(
                    DbAudit(time_utc=run.pushed_utc, os_account="bench", action="add",
                            run_id=run.run_id, study_id=row["study_id"], visit=row["visit"],
                            what="result", new_value=json.dumps(row))
                )  # fmt: skip
            qc = DbQcRun(
                run_id=run.run_id, run_time=run.pushed_utc, time_source="bench",
                accepted_by_rules=True, verdict="accepted", review_status="accepted",
                recorded_utc=run.pushed_utc, recorded_os_account="bench",
            )  # fmt: skip
            session.add(qc)
            session.flush()
            for level in ("low", "high"):
                session.add(DbQcControl(qc_run_pk=qc.id, level=level, n_wells=2, n_values=2))
            session.add(
                DbSignature(
                    run_id=run.run_id, run_version=1, content_sha256=data.content_sha256,
                    account_id=account_id, username="bench", printed_name="Bench",
                    role="reviewer", decision="accept", meaning="approved", reason="bench",
                    override=False, signed_utc=run.pushed_utc, signed_local=run.pushed_utc,
                    separation="{}", audit_entry="{}",
                )
            )  # fmt: skip


def verify_cpu(engine: Any) -> tuple[float, Any]:
    """CPU seconds of one ``verify_chain`` of the whole database, and its report."""
    from il6assay.db.chain_check import verify_chain

    start = time.process_time()
    report = verify_chain(engine)
    return time.process_time() - start, report


def main() -> None:
    """Build a study database of --runs runs, then time verify_chain on it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--db", default=None, help="SQLite path or PostgreSQL URL (new, empty)")
    args = parser.parse_args()
    from il6assay.db.engine import make_engine, upgrade

    with tempfile.TemporaryDirectory(prefix="il6assay-bench-chain-") as tmp:
        root = Path(tmp)
        data = example_rows(root)
        engine = make_engine(args.db or str(root / "study.db"))
        upgrade(engine)
        start = time.process_time()
        add_runs(engine, data, 1, args.runs)
        build = time.process_time() - start
        cpu, report = verify_cpu(engine)
        assert report.intact, report.problems[:5]
        print(
            f"{args.runs} runs: {report.entries} chain entries, {report.rows} rows in "
            f"{report.tables} tables; built (with chaining) in {build:.1f} s CPU; "
            f"db verify {cpu:.2f} s CPU ({engine.dialect.name})"
        )


if __name__ == "__main__":
    main()
