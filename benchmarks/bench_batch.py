"""CPU time a plate of `il6assay batch` costs, at several batch sizes, measured in one run.

Makes the largest number of simulated plates asked for (grid CSV exports of
the shipped layout, each with its sample sheet: ``bench_study.make_plates``),
then runs `il6assay batch` as a technician types it (a fresh process, no study
database) over the first N of them for each N, and prints the CPU time of
the command and its workers (user + system, children included) per plate.
Flat means the per-plate figure does not grow with N. Goal (issue 27): at most
0.05 s of CPU a plate, flat from 100 to 2,000 plates. Figures: docs/speed.md.

With ``--before COMMIT`` the code of that commit (from git) runs the same plates
too, alternating with this code at each N, so both are measured in the same conditions.

Python's bytecode of il6assay is cached, as after ``pip install``, in a temporary
``PYTHONPYCACHEPREFIX`` (as ``bench_cli.py`` does, even where the environment sets
``PYTHONDONTWRITEBYTECODE``: then every batch would compile il6assay's modules anew,
about 0.35 s of CPU), warmed by a batch of two plates of each code, not counted.
``--no-bytecode-cache`` measures with the environment as it is.

With ``--repeat R`` each size runs R times (alternating the codes); the table gives
the least CPU (as timeit takes the least of its repeats: another program's load on the
shared cores only ever adds) and the most.

Usage: python benchmarks/bench_batch.py [--plates 100 500 2000] [--jobs 2] [--keep DIR]
       [--before COMMIT] [--repeat R] [--no-bytecode-cache]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cli import bytecode_cached_env
from bench_study import LAYOUT, ROOT, il6assay_command, make_plates

# The children's environment (main() sets the bytecode cache).
CHILD_ENV: dict[str, str] = dict(os.environ)


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def batch_cpu(plates: Path, runs: Path, jobs: int, code: Path | None = None) -> tuple[float, float]:
    """(CPU s, wall s) of one `il6assay batch` over the exports in ``plates`` (``code``: the
    il6assay source tree to run instead of the installed one)."""
    env = {k: v for k, v in CHILD_ENV.items() if k != "IL6ASSAY_DB"}
    command = il6assay_command()
    if code is not None:  # run from outside both trees, so that only ``code`` is found
        env["PYTHONPATH"] = str(code)
        command = [sys.executable, "-m", "il6assay.cli"]
    argv = [*command, "batch", str(plates), "--layout", str(LAYOUT), "--out",
            str(runs), "--jobs", str(jobs)]  # fmt: skip
    cpu0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=plates.parent)
    if proc.returncode not in (0, 3):
        raise SystemExit(f"batch exited {proc.returncode}: {proc.stderr[-2000:]}")
    return children_cpu() - cpu0, time.perf_counter() - t0


def main() -> None:
    """Print a markdown table: code, plates, batch CPU, CPU per plate, wall."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep it.")
    parser.add_argument("--before", help="Also run the code of this git commit, alternating.")
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="Batches of each size and code (alternating); the table gives the least and the most.",
    )  # fmt: skip
    parser.add_argument(
        "--no-bytecode-cache", action="store_true", help="Leave PYTHON* as the environment sets it."
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="il6assay-bench-batch-"))
    try:
        if not args.no_bytecode_cache:
            CHILD_ENV.update(bytecode_cached_env(str(work / "pycache")))
        every = work / "plates"
        if not every.exists():
            make_plates(every, max(args.plates), args.seed)
        codes: list[tuple[str, Path | None]] = [("this code", None)]
        if args.before:
            before = work / f"code-{args.before}"
            if not before.exists():
                before.mkdir()
                archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before],
                                         capture_output=True, check=True).stdout  # fmt: skip
                subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
            codes.insert(0, (args.before, before))
        warm = work / "plates-warm"
        if not warm.exists():
            warm.mkdir()
            for i in range(2):  # two: the workers are forked, as in every measured batch
                for name in (f"plate_{i:04d}.csv", f"plate_{i:04d}.samples.csv"):
                    os.link(every / name, warm / name)
        for _label, code in codes:  # caches each code's bytecode (and the files), not counted
            shutil.rmtree(work / "runs-warm", ignore_errors=True)
            batch_cpu(warm, work / "runs-warm", args.jobs, code)
        cache = "no bytecode cache" if args.no_bytecode_cache else "bytecode cached"
        print(f"{os.cpu_count()} cores, --jobs {args.jobs}, no study database, {cache}\n")
        print("| code | plates | batch CPU (s), least | CPU a plate (s), least | most | wall (s) |")
        print("|---|---|---|---|---|---|")
        for n in sorted(args.plates):
            subset = work / f"plates-{n}"
            if not subset.exists():
                subset.mkdir()
                for i in range(n):
                    for name in (f"plate_{i:04d}.csv", f"plate_{i:04d}.samples.csv"):
                        os.link(every / name, subset / name)
            seen: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in codes}
            for _ in range(max(args.repeat, 1)):
                for label, code in codes:
                    runs = work / f"runs-{n}"
                    shutil.rmtree(runs, ignore_errors=True)
                    seen[label].append(batch_cpu(subset, runs, args.jobs, code))
            for label, _code in codes:
                cpu, wall = min(seen[label])
                most = max(c for c, _ in seen[label])
                row = (label, n, f"{cpu:.1f}", f"{cpu / n:.3f}", f"{most / n:.3f}", f"{wall:.0f}")
                print("| " + " | ".join(map(str, row)) + " |", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
