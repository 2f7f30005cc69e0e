"""CPU cost of checking a run folder: ``open_run`` (hashes, audit chain, review) and ``verify``.

The example plate is processed and accepted once into a scratch folder; then,
in this one process, each of these is timed as CPU time (``time.process_time``,
so other work on the 2 shared cores does not count), median of ``--repeat``:

- processing the plate and writing its folder (``process_plate`` + ``write_run``),
  the yardstick;
- ``open_run``: every file against its hash, the schema, the chain, the review;
- ``verify_run`` uncached: processing the plate again from ``inputs/`` and
  writing and comparing every output (what ``push`` adds per run);

and printed with the ratio of verification to processing. Figures go in
docs/integrity.md.

Usage: python benchmarks/bench_verify.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from il6assay.record import verify
from il6assay.record.folder import open_run
from il6assay.record.outputs import write_run
from il6assay.record.review import review_run
from il6assay.run import process_plate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "fixtures" / "example"


def cpu_ms(call, repeat: int) -> float:
    """Median CPU time of one call, in ms."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        call()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    """Time processing, open_run and verify_run on the example plate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="il6assay-bench-verify-"))
    inputs = (EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.layout.toml")
    sheet = EXAMPLE / "plate_001.samples.csv"
    n = iter(range(10**6))

    def process() -> Path:
        run = process_plate(*inputs, sheet)
        return write_run(run, scratch / f"out{next(n)}")

    folder = process()
    review_run(folder, "accept", "Lin", "benchmark")

    def verify_uncached() -> None:
        verify._cache.clear()
        assert verify.verify_run(folder).ok

    process_ms = cpu_ms(process, args.repeat)
    open_ms = cpu_ms(lambda: open_run(folder), args.repeat)
    verify_ms = cpu_ms(verify_uncached, args.repeat)
    print(f"process + write the run folder: {process_ms:8.1f} ms CPU")
    print(f"open_run (hashes, schema, chain, review): {open_ms:8.1f} ms CPU")
    print(f"verify_run (process again, compare all): {verify_ms:8.1f} ms CPU")
    print(f"verify / process: {verify_ms / process_ms:.2f}")


if __name__ == "__main__":
    main()
