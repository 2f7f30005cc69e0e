"""Push warm, against study size, and `results --format analysis` over a study of 2,000 plates.

The study database is filled with N stored runs of 35 results each by direct
inserts (``bench_push_study_size.seeded``), each run with a simulated run's
curve. Then, in one process after imports, with one engine per study (as a
lab's server or a script pushing a day's plates keeps it), accepted runs of
simulated plates of the shipped layout (``bench_study.make_plates``: each its
own export and study IDs) are pushed with ``push_runs``, as ``il6assay push``
does, two ways:

- ``first push``: the run never verified in this database: processed again
  from its inputs, every output compared, the verification remembered;
- ``verified before``: the run verified by ``verify --db`` first (not timed):
  every file, the audit chain and the review checked, not processed again
  (the same path as a run ``process``/``batch`` wrote with the database
  configured, or a second push).

Printed: the median CPU time (``time.process_time``) of each, per study size,
and the CPU time of ``analysis_rows`` + CSV rendering (what ``results
--format analysis`` does) over the largest study. Figures are quoted in
docs/database.md ("Push time and study size") and README's Speed section.

Usage: python benchmarks/bench_push_warm.py [--sizes 10,100,1000,2000] [--repeat 3] [--report]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def accepted_runs(root: Path, count: int, report: bool) -> list[Path]:
    """``count`` accepted runs of simulated plates of the shipped layout (bench_study's)."""
    from bench_study import LAYOUT, make_plates

    from il6assay.record.outputs import write_run
    from il6assay.record.review import review_run
    from il6assay.run import process_plate

    make_plates(root / "plates", count, seed=27)
    folders = []
    for i in range(count):
        export = root / "plates" / f"plate_{i:04d}.csv"
        run = process_plate(export, LAYOUT, export.with_suffix(".samples.csv"))
        folder = write_run(run, root / "runs", report=report)
        review_run(folder, "accept", "Bench", "benchmark", override=not run.accepted)
        folders.append(folder)
    return folders


def study(path: Path, n_runs: int, curve_json: str) -> Path:
    """A study database of ``n_runs`` stored runs (35 results and a simulated run's curve each)."""
    from bench_push_study_size import seeded
    from sqlalchemy import insert

    from il6assay.db.engine import make_engine
    from il6assay.db.models import DbCurve

    seeded(path, n_runs)
    engine = make_engine(str(path), must_exist=True)
    curves = [
        {"run_pk": r, "model": "4pl", "params": "{}", "curve_json": curve_json}
        for r in range(1, n_runs + 1)
    ]
    with engine.begin() as conn:
        conn.execute(insert(DbCurve), curves)
    engine.dispose()
    return path


def timed_push(engine, folder: Path) -> float:
    """CPU seconds of one push of ``folder``, as ``il6assay push`` does it."""
    from il6assay.db.push import push_runs

    start = time.process_time()
    outcome = push_runs(engine, [folder])[0]
    spent = time.process_time() - start
    if outcome.status != "pushed":
        raise SystemExit(f"push did not store the run: {outcome.message()}")
    return spent


def main() -> None:
    """Print per study size the median CPU time of a push, then the analysis dataset's time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,2000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--report", action="store_true", help="runs with report.html too")
    args = parser.parse_args()
    from il6assay.db.analysis import ANALYSIS_COLUMNS, analysis_rows
    from il6assay.db.engine import make_engine
    from il6assay.db.read import render
    from il6assay.db.verified import StudyMemory
    from il6assay.record.verify import verify_run

    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="il6assay-bench-push-warm-"))
    try:
        folders = accepted_runs(root, (1 + 2 * args.repeat) * len(sizes), args.report)
        curve_json = (folders[0] / "curve.json").read_text(encoding="utf-8")
        json.loads(curve_json)
        print(f"{platform.node()}, Python {platform.python_version()}, {date.today()}")
        print("stored runs | first push CPU s | verified-before push CPU s")
        print("---:|---:|---:")
        spare = iter(folders)
        for n in sizes:
            db = study(root / f"study-{n}.db", n, curve_json)
            engine = make_engine(str(db), must_exist=True)
            timed_push(engine, next(spare))  # warm-up: the engine compiles its statements
            first = [timed_push(engine, next(spare)) for _ in range(args.repeat)]
            before = []
            for _ in range(args.repeat):
                folder = next(spare)
                assert verify_run(folder, StudyMemory(engine)).ok
                before.append(timed_push(engine, folder))
            print(f"{n:,} | {statistics.median(first):.3f} | {statistics.median(before):.3f}")
            engine.dispose()
        largest = root / f"study-{sizes[-1]}.db"
        engine = make_engine(str(largest), must_exist=True)
        analysis_rows(engine)  # warm-up
        start = time.process_time()
        rows = analysis_rows(engine)
        render(rows, ANALYSIS_COLUMNS, "csv", None)
        spent = time.process_time() - start
        n = sizes[-1]
        print(f"results --format analysis: {len(rows):,} rows, {n:,} runs, {spent:.2f} s CPU")
        engine.dispose()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
