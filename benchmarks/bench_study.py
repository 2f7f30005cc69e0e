"""A study at scale: N simulated plates batched, pushed, and the trends and overview read back.

Makes N plates of the shipped layout with ``il6assay.simulate`` (grid CSV
exports, each with its sample sheet of 36 specimens, study IDs unique per
plate and sample), then, timing each step:

1. ``il6assay batch PLATES --layout L --out RUNS --jobs J --db STUDY.db``, one
   process as a technician runs it (interpreter start included): wall time,
   CPU time of the command and its workers, per plate. The study database
   makes it judge every plate's controls (Westgard) and record its QC figures.
2. review (accept) every accepted run, then push the runs in chunks of 100
   (``push_runs``, one transaction per run): the CPU and wall time per run of
   each chunk show whether a push slows as the database grows.
3. after each chunk, ``controls_html`` and ``summary_html`` (the pages the
   ``controls`` and ``summary`` commands and the web app build) and their
   ``--json`` data: how reading back grows with the study.

Goals (issue 14): 100 plates in under 30 s on the project's 2-core machine;
per-plate time flat from 100 to 1,000 plates; push and queries flat as the
study grows. Figures are quoted in docs/study.md.

Usage: python benchmarks/bench_study.py [--plates 100] [--jobs 2] [--keep DIR] [--runs DIR]
(``--runs DIR``: the reviewed run folders of an earlier ``--keep`` run: record, push, read.)
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = ROOT / "plate_layouts" / "il6_96_standard.toml"
CHUNK = 100


def il6assay_command() -> list[str]:
    """The installed console script, else the module through this interpreter."""
    script = Path(sys.executable).with_name("il6assay")
    return [str(script)] if script.exists() else [sys.executable, "-m", "il6assay.cli"]


def make_plates(folder: Path, n: int, seed: int) -> None:
    """N simulated grid exports with their sample sheets (study IDs SIM-PPPP-SS, visit D0/C1D28)."""
    from il6assay.plate.layout import load_layout
    from il6assay.simulate import grid_text, simulate_plate

    layout = load_layout(LAYOUT)
    rng = np.random.default_rng(seed)
    labels = sorted({w.sample for w in layout.wells.values() if w.role == "sample" and w.sample})
    folder.mkdir(parents=True)
    for i in range(n):
        sim = simulate_plate(layout, rng, plate_id=f"plate_{i:04d}")
        (folder / f"plate_{i:04d}.csv").write_text(grid_text(sim.plate), encoding="utf-8")
        with (folder / f"plate_{i:04d}.samples.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["sample", "study_id", "visit", "dilution", "note"])
            for j, label in enumerate(labels):
                visit = "D0" if j % 3 else "C1D28"
                writer.writerow([label, f"SIM-{i:04d}-{j:02d}", visit, "", ""])


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_batch(plates: Path, runs: Path, db: Path, jobs: int) -> tuple[float, float]:
    """(wall s, CPU s) of one `il6assay batch` process (its workers included)."""
    argv = [*il6assay_command(), "batch", str(plates), "--layout", str(LAYOUT), "--out", str(runs),
            "--jobs", str(jobs), "--db", str(db)]  # fmt: skip
    cpu0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if proc.returncode not in (0, 3):
        raise SystemExit(f"batch exited {proc.returncode}: {proc.stderr[-2000:]}")
    return wall, cpu


def main() -> None:
    """Print the figures as markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep it.")
    parser.add_argument(
        "--runs", type=Path, help="Reuse the reviewed run folders of an earlier run (push, read)."
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="il6assay-bench-study-"))
    try:
        run(work, args.plates, args.jobs, args.seed, args.runs)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path, n: int, jobs: int, seed: int, reuse: Path | None = None) -> None:
    """Make, batch, review, push and read back; print the tables.

    ``reuse``: run folders of an earlier run of this benchmark (processed and
    reviewed): only their QC figures are recorded in a new database, then pushed
    and read back.
    """
    import json

    from il6assay.db.engine import make_engine, upgrade
    from il6assay.record.review import expand_runs, review_run
    from il6assay.study.qc import from_folder
    from il6assay.study.store import record_qc

    db = work / "study.db"
    engine = make_engine(str(db))
    upgrade(engine)  # a study database is made by il6assay db upgrade, never by a push
    if reuse is None:
        plates, runs = work / "plates", work / "runs"
        t0 = time.perf_counter()
        make_plates(plates, n, seed)
        print(f"made {n} plates in {time.perf_counter() - t0:.1f} s ({os.cpu_count()} cores)")
        wall, cpu = timed_batch(plates, runs, db, jobs)
        print(
            "\n| plates | batch wall (s) | per plate wall (s) | batch CPU (s) | per plate CPU (s) |"
        )
        print("|---|---|---|---|---|")
        print(f"| {n} | {wall:.1f} | {wall / n:.3f} | {cpu:.1f} | {cpu / n:.3f} |")
        again, _ = timed_batch(plates, runs, db, jobs)
        print(f"\nsecond batch (every plate skipped): {again:.1f} s")
    else:
        runs = reuse
    folders = expand_runs([runs])
    accepted = [f for f in folders if json.loads((f / "run.json").read_text())["accepted"]]
    if reuse is None:
        t0 = time.perf_counter()
        for f in accepted:
            review_run(f, "accept", "bench", "benchmark")
        print(f"{len(accepted)} of {len(folders)} runs accepted by the rules; reviewed in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    else:
        cpu0, t0 = time.process_time(), time.perf_counter()
        record_qc(engine, [from_folder(f) for f in folders])
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        print(
            f"controls --record of {len(folders)} run folders: {wall:.1f} s wall, {cpu:.1f} s CPU"
        )
    push_and_read(engine, accepted)


def push_and_read(engine: object, accepted: list[Path]) -> None:
    """Push in chunks; after some, build the pages and their data. CPU and wall seconds."""
    from il6assay.db.push import push_runs
    from il6assay.study.pages import controls_html, load_trends, summary_html
    from il6assay.study.summary import overview

    print("\n| runs pushed | push per run, CPU / wall (s) | controls page | controls data "
          "| summary page | summary data | specimens |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    pushed = 0
    for start in range(0, len(accepted), CHUNK):
        chunk = accepted[start : start + CHUNK]
        cpu, wall = _seconds(lambda chunk=chunk: push_runs(engine, chunk, by="bench"))
        pushed += len(chunk)
        push = f"{cpu / len(chunk):.3f} / {wall / len(chunk):.3f}"
        last = start + CHUNK >= len(accepted)
        if not (last or pushed == CHUNK or pushed % (5 * CHUNK) == 0):
            print(f"| {pushed} | {push} | | | | | |")
            continue
        cells = [
            "{:.2f} / {:.2f}".format(*_seconds(fn))
            for fn in (
                lambda: controls_html(engine),
                lambda: load_trends(engine).to_dict(),
                lambda: summary_html(engine),
                lambda: overview(engine).to_dict(),
            )
        ]
        n = overview(engine).totals.specimens
        print(f"| {pushed} | {push} | {' | '.join(cells)} | {n} |")


def _seconds(fn: Callable[[], object]) -> tuple[float, float]:
    """(CPU s, wall s) of one call."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu0, time.perf_counter() - t0


if __name__ == "__main__":
    main()
