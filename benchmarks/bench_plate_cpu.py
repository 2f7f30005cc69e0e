"""CPU time a plate costs inside one process (imports excluded), this code against a commit's.

What `il6assay batch --jobs 1` spends on each plate once everything is imported: reading,
fitting, judging and writing its run folder. Makes N simulated plates
(``bench_study.make_plates``), then, in alternating rounds, runs the code of ``--before``
(from git) and this code, each in a fresh interpreter that imports what a batch needs,
processes two plates to warm up (not counted), and times the batch of the N plates with
``time.process_time`` (the process's user + system CPU). Both codes are measured in the
same conditions, round after round; the medians and their ratio are printed.
Figures: docs/speed.md ("A plate's CPU inside the process").

Usage: python benchmarks/bench_plate_cpu.py --before COMMIT [--plates 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cli import bytecode_cached_env
from bench_study import LAYOUT, ROOT, make_plates

# Run in each interpreter: warm up on two plates, then time the batch of all of them.
MEASURE = """
import shutil, sys, time
from pathlib import Path
from il6assay.cli import main
from il6assay.study.batch import warm_imports

plates, warm, out, layout = (Path(a) for a in sys.argv[1:5])
warm_imports()

def batch(folder, runs):
    shutil.rmtree(runs, ignore_errors=True)
    args = ["batch", str(folder), "--layout", str(layout), "--out", str(runs), "--jobs", "1"]
    try:
        main(args, standalone_mode=False)
    except SystemExit:
        pass

batch(warm, out / "warm")
n = len(list(plates.glob("*.samples.csv")))
start = time.process_time()
batch(plates, out / "runs")
print((time.process_time() - start) / n)
"""


def per_plate(code: Path, plates: Path, warm: Path, out: Path, env: dict[str, str]) -> float:
    """CPU seconds a plate with the il6assay source tree ``code``, imports excluded."""
    env = {**env, "PYTHONPATH": str(code)}
    env.pop("IL6ASSAY_DB", None)
    argv = [sys.executable, "-c", MEASURE, str(plates), str(warm), str(out), str(LAYOUT)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=out)
    if proc.returncode != 0:
        raise SystemExit(f"the measurement failed: {proc.stderr[-2000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print each round's figure a plate (ms) for both codes, the medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="The git commit to compare with.")
    parser.add_argument("--plates", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=27)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="il6assay-bench-plate-"))
    try:
        env = {**os.environ, **bytecode_cached_env(str(work / "pycache"))}
        plates, warm = work / "plates", work / "warm"
        make_plates(plates, args.plates, args.seed)
        warm.mkdir()
        for name in ("plate_0000.csv", "plate_0000.samples.csv", "plate_0001.csv",
                     "plate_0001.samples.csv"):  # fmt: skip
            os.link(plates / name, warm / name)
        before = work / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "il6assay"],
                                 capture_output=True, check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        codes = {args.before: before, "this code": ROOT}
        figures: dict[str, list[float]] = {label: [] for label in codes}
        print(f"{args.plates} plates, batch --jobs 1 in one process, imports excluded\n")
        print("| round | code | CPU a plate (ms) |\n|---|---|---|")
        for round_ in range(1, args.rounds + 1):
            for label, code in codes.items():
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                cpu = per_plate(code, plates, warm, out, env)
                figures[label].append(cpu)
                print(f"| {round_} | {label} | {1000 * cpu:.1f} |", flush=True)
        old, new = (statistics.median(figures[label]) for label in codes)
        print(f"\nmedian: {args.before} {1000 * old:.1f} ms, this code {1000 * new:.1f} ms "
              f"({100 * (new / old - 1):+.1f} %)")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
