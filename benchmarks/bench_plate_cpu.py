"""CPU time a plate costs inside one process (imports excluded), this code against a commit's.

What processing a plate and writing its run folder cost once everything is imported: reading,
fitting, judging, writing (``process_plate`` and ``write_run``, as a batch's worker calls
them). Makes N simulated plates (``bench_study.make_plates``), takes the code of ``--before``
from git as the package ``il6assay_before`` (its own imports renamed), imports both codes in
one interpreter, and processes and writes each plate with both, alternating which goes first,
timing each with ``time.process_time``: the two codes meet the same load from other work on
the machine, plate by plate. Prints each code's CPU a plate and their ratio, for each round.
Figures: docs/speed.md ("A plate's CPU in the process").

Usage: python benchmarks/bench_plate_cpu.py --before COMMIT [--plates 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_study import LAYOUT, ROOT, make_plates

# Run in a fresh interpreter with both codes importable: one line a round.
MEASURE = """
import shutil, sys, time
from pathlib import Path
import il6assay, il6assay_before
from il6assay.study.batch import warm_imports
from il6assay_before.study.batch import warm_imports as warm_imports_before
from il6assay.run import process_plate
from il6assay.record.outputs import write_run
from il6assay_before.run import process_plate as process_before
from il6assay_before.record.outputs import write_run as write_before

plates, out, layout, rounds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
assert il6assay.__file__.startswith(sys.argv[5]), il6assay.__file__
warm_imports(), warm_imports_before()
exports = sorted(p for p in plates.glob("*.csv") if not p.name.endswith(".samples.csv"))
codes = {"before": (process_before, write_before), "this code": (process_plate, write_run)}
for first in exports[:2]:  # warm: the lazily imported modules and the caches, not counted
    for label, (process, write) in codes.items():
        write(process(first, layout, first.with_suffix(".samples.csv")), out / "warm" / label)
for _ in range(rounds):
    cpu = dict.fromkeys(codes, 0.0)
    shutil.rmtree(out / "runs", ignore_errors=True)
    for i, export in enumerate(exports):
        for label in (list(codes) if i % 2 == 0 else list(codes)[::-1]):
            process, write = codes[label]
            start = time.process_time()
            write(process(export, layout, export.with_suffix(".samples.csv")), out / "runs" / label)
            cpu[label] += time.process_time() - start
    print(cpu["before"] / len(exports), cpu["this code"] / len(exports), flush=True)
"""


def before_package(commit: str, folder: Path) -> None:
    """The il6assay of ``commit`` as the package ``il6assay_before`` in ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "il6assay"],
                             capture_output=True, check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    package = folder / "il6assay_before"
    (folder / "il6assay").rename(package)
    name = re.compile(r"\bil6assay\b")
    for path in package.rglob("*.py"):
        path.write_text(name.sub("il6assay_before", path.read_text(encoding="utf-8")))


def main() -> None:
    """Print each round's CPU a plate (ms) of both codes and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="The git commit to compare with.")
    parser.add_argument("--plates", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=27)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="il6assay-bench-plate-"))
    try:
        make_plates(work / "plates", args.plates, args.seed)
        before_package(args.before, work)
        env = {k: v for k, v in os.environ.items() if k != "IL6ASSAY_DB"}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(work)])
        argv = [sys.executable, "-c", MEASURE, str(work / "plates"), str(work / "out"),
                str(LAYOUT), str(args.rounds), str(ROOT)]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=work)
        if proc.returncode != 0:
            raise SystemExit(f"the measurement failed: {proc.stderr[-2000:]}")
        print(f"{args.plates} plates, each processed and written by both codes in turn, "
              "in one process, imports excluded\n")  # fmt: skip
        print(f"| round | {args.before} (ms a plate) | this code (ms a plate) | ratio |")
        print("|---|---|---|---|")
        for i, line in enumerate(proc.stdout.split("\n")):
            if line.strip():
                old, new = (float(v) for v in line.split())
                print(f"| {i + 1} | {1000 * old:.1f} | {1000 * new:.1f} | {new / old:.3f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
