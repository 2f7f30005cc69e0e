"""Push time against study size: one run pushed into SQLite study databases of 10 to 10,000 runs.

The study database is filled with N stored runs (35 results each, five
subjects of seven visits per run, as the example plate has: N = 10,000 is
350,000 results of 50,000 subjects), inserted in bulk; then the example plate
(processed and accepted for real) is pushed with ``push_runs``, as
``il6assay push`` does. For each N the push is repeated on fresh copies of
the database and the median CPU time of the process is printed, with the
time of the two-spellings check alone: the indexed ``study_key`` lookup the
push does, and, for comparison, the check as il6assay 0.1 did it (every
stored study ID read and compared in Python). Figures are quoted in
docs/database.md ("Push time and study size").

Usage: python benchmarks/bench_push_study_size.py [--sizes 10,100,1000,10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EXAMPLE = ROOT / "fixtures" / "example"
RESULTS_PER_RUN = 35


def example_run(root: Path) -> Path:
    """The example plate processed and accepted: the run every size pushes."""
    from il6assay.record.outputs import write_run
    from il6assay.record.review import review_run
    from il6assay.run import process_plate

    run = process_plate(
        EXAMPLE / "plate_001.xlsx",
        EXAMPLE / "plate_001.layout.toml",
        EXAMPLE / "plate_001.samples.csv",
    )
    folder = write_run(run, root / "runs", report=False)
    review_run(folder, "accept", "Bench", "benchmark")
    return folder


def seeded(path: Path, n_runs: int) -> Path:
    """A new study database holding ``n_runs`` stored runs of 35 results each."""
    from sqlalchemy import insert

    from il6assay.db.engine import make_engine, upgrade
    from il6assay.db.models import DbResult, DbRun
    from il6assay.plate.samples import spelling_key

    engine = make_engine(str(path))
    upgrade(engine)
    runs, results = [], []
    for r in range(1, n_runs + 1):
        runs.append(
            {
                "id": r,
                "run_id": f"seed-{r:05d}",
                "content_sha256": f"{r:064x}",
                "settings": "{}",
                "accepted_by_rules": True,
                "verdict": "accepted",
                "review_status": "accepted",
                "review_override": False,
                "pushed_utc": "2026-01-01T00:00:00+00:00",
                "pushed_os_account": "bench",
                "run_json": "{}",
            }
        )
        for k in range(RESULTS_PER_RUN):
            study_id = f"S{r:05d}-{k // 7}"
            results.append(
                {
                    "run_pk": r,
                    "study_id": study_id,
                    "study_key": spelling_key(study_id),
                    "visit": f"V{k % 7}",
                    "result": "12.5",
                    "conc_pg_ml": 12.5,
                    "flags": "",
                    "status": "current",
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(DbRun), runs)
        for start in range(0, len(results), 20_000):
            conn.execute(insert(DbResult), results[start : start + 20_000])
    engine.dispose()
    return path


def old_check(session: Any, rows: list[dict[str, str]]) -> None:
    """The two-spellings check of il6assay 0.1: every stored study ID read into Python."""
    import re

    from sqlalchemy import select

    from il6assay.db.models import DbResult

    def key(s: str) -> str:
        return re.sub(r"\s+", "", s).casefold()

    wanted = {key(r["study_id"]): r["study_id"] for r in rows}
    for sid in session.scalars(select(DbResult.study_id).distinct()).all():
        new = wanted.get(key(sid))
        if new is not None and new != sid:
            raise SystemExit("unexpected spelling clash")


def measure(db: Path, folder: Path) -> tuple[float, float, float]:
    """CPU seconds of one push, of the indexed spelling check, of the 0.1 check."""
    from sqlalchemy.orm import Session

    from il6assay.db.engine import make_engine
    from il6assay.db.push import _check_against_database, load_run, push_runs

    engine = make_engine(str(db), must_exist=True)
    rows = [r for r in load_run(folder).results if r.get("study_id")]
    with Session(engine) as session:
        start = time.process_time()
        _check_against_database(session, rows)
        indexed = time.process_time() - start
        start = time.process_time()
        old_check(session, rows)
        old = time.process_time() - start
    start = time.process_time()
    outcome = push_runs(engine, [folder])[0]
    push = time.process_time() - start
    if outcome.status != "pushed":
        raise SystemExit(f"push did not store the run: {outcome.message()}")
    engine.dispose()
    return push, indexed, old


def main() -> None:
    """Print, per study size, the median CPU time of a push and of each spelling check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from il6assay.db.chain_key import KEY_SUFFIX

    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="il6assay-bench-push-"))
    try:
        folder = example_run(root)
        print("stored runs | results | push CPU s | indexed check ms | 0.1 check ms")
        print("---:|---:|---:|---:|---:")
        for n in sizes:
            seed = seeded(root / f"seed-{n}.db", n)
            figures = []
            for i in range(args.repeat):
                copy = root / f"copy-{n}-{i}.db"
                shutil.copyfile(seed, copy)
                shutil.copyfile(f"{seed}{KEY_SUFFIX}", f"{copy}{KEY_SUFFIX}")  # the chain's key
                figures.append(measure(copy, folder))
                copy.unlink()
            push, indexed, old = (statistics.median(f[j] for f in figures) for j in range(3))
            print(
                f"{n:,} | {n * RESULTS_PER_RUN:,} | {push:.3f} | {indexed * 1000:.1f} | "
                f"{old * 1000:.1f}"
            )
            seed.unlink()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
