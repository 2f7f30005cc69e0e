"""Wall time of `il6assay --help` and of `il6assay process` on the shipped example.

Each command runs as a fresh process (interpreter start included, as a
technician experiences it), several times; the median and the worst are
printed. Targets (issue: the process pipeline): --help under 0.25 s, process
under 2 s. Figures are quoted in the README.

Usage: python benchmarks/bench_cli.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "fixtures" / "example" / "plate_001.xlsx"


def il6assay_command() -> list[str]:
    """The installed console script, else the module through this interpreter."""
    script = shutil.which("il6assay") or str(Path(sys.executable).with_name("il6assay"))
    return [script] if Path(script).exists() else [sys.executable, "-m", "il6assay.cli"]


def timed(argv: list[str], ok: tuple[int, ...] = (0,)) -> float:
    """Seconds one run of ``argv`` takes; fails loudly if the command fails."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr}")
    return elapsed


def main() -> None:
    """Print median and worst wall time of each command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    cmd = il6assay_command()
    timed([*cmd, "--help"])  # warm the file cache once
    help_times = [timed([*cmd, "--help"]) for _ in range(args.repeat)]
    process_times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            process_times.append(timed([*cmd, "process", str(EXAMPLE), "--out", f"{tmp}/run{i}"]))
    for name, times, goal in (
        ("il6assay --help", help_times, 0.25),
        ("il6assay process (example plate)", process_times, 2.0),
    ):
        median = statistics.median(times)
        verdict = "ok" if median < goal else "OVER GOAL"
        print(
            f"{name:36} median {median:.3f} s  worst {max(times):.3f} s  "
            f"(goal < {goal} s: {verdict})"
        )


if __name__ == "__main__":
    main()
