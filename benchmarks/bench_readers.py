"""Time our readers (and allotropy, when installed) on every shared export, and their ratio.

Run from the project root: ``.venv/bin/python benchmarks/bench_readers.py``
(``--repeat N`` reads each file N times and keeps the best; ``--no-allotropy``
skips it). Prints one line per file: our time (detection + reading, from a
fresh Source, imports already done: no interpreter start) and allotropy's
(conversion to ASM with the vendor given) and how many times faster ours is,
measured in the same run; then our median per file, which must stay under
20 ms, and the median of the per-file ratios, which must stay at least 50
(the smallest is printed too: workbooks, where the XLSX parse itself is most
of our time, are the closest). Reads
../shared/reference_exports and ../shared/signal_exports in place.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from il6assay.errors import InputError  # noqa: E402
from il6assay.plate.readers import read_export  # noqa: E402

EXPORTS = ROOT.parent / "shared" / "reference_exports"
SIGNALS = ROOT.parent / "shared" / "signal_exports"
LIMIT_MS = 20.0
MIN_RATIO = 50.0  # allotropy's time / ours, per file
ALLOTROPY_VENDORS = {
    "gen5_": "AGILENT_GEN5",
    "softmaxpro_": "MOLDEV_SOFTMAX_PRO",
    "envision_": "PERKIN_ELMER_ENVISION",
    "kaleido_": "REVVITY_KALEIDO",
    "bmg_smartcontrol": "BMG_LABTECH_SMART_CONTROL",
    "bmg_": "BMG_MARS",
    "tecan_": "TECAN_MAGELLAN",
    "skanit_": "THERMO_SKANIT",
}


def best_of(repeat: int, fn: object) -> float:
    """The fastest of ``repeat`` calls, in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def ours(path: Path) -> None:
    """Detect and read one export (a refusal, e.g. a kinetic file, is timed too)."""
    with contextlib.suppress(InputError):
        read_export(path)


def main() -> int:
    """Print the table; exit 1 if our median per file is over the limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-allotropy", action="store_true")
    args = parser.parse_args()
    files = [
        p
        for folder in (EXPORTS, SIGNALS)
        if folder.is_dir()
        for p in sorted(folder.iterdir())
        if p.suffix in (".txt", ".csv", ".xlsx") and not p.name.startswith("LICENSE")
    ]
    convert = None
    if not args.no_allotropy:
        try:
            start = time.perf_counter()
            from allotropy.to_allotrope import allotrope_from_file

            print(f"allotropy import: {(time.perf_counter() - start) * 1000:.0f} ms")
            convert = allotrope_from_file
        except ImportError:
            print("allotropy not installed: our times only")
    ours(files[0])  # warm-up: imports of the readers and workbook library
    print(f"{'file':58} {'il6assay ms':>12} {'allotropy ms':>13} {'ratio':>7}")
    our_times = []
    ratios = []
    for path in files:
        t_ours = best_of(args.repeat, lambda p=path: ours(p))
        our_times.append(t_ours)
        t_allo = "-"
        ratio = "-"
        vendor = next((v for k, v in ALLOTROPY_VENDORS.items() if path.name.startswith(k)), None)
        if convert is not None and vendor:
            try:
                t = best_of(max(1, args.repeat // 2), lambda p=path, v=vendor: convert(str(p), v))
                t_allo = f"{t:.1f}"
                ratios.append(t / t_ours)
                ratio = f"{t / t_ours:.0f}x"
            except Exception as err:  # allotropy refuses some files (e.g. kinetic)
                t_allo = f"error ({type(err).__name__})"
        print(f"{path.name:58} {t_ours:12.1f} {t_allo:>13} {ratio:>7}")
    median = statistics.median(our_times)
    print(f"\nil6assay median per file: {median:.1f} ms (limit {LIMIT_MS:.0f} ms)")
    ok = median < LIMIT_MS
    if ratios:
        low, mid = min(ratios), statistics.median(ratios)
        print(
            f"allotropy / il6assay per file: median {mid:.0f}x (at least {MIN_RATIO:.0f}x), "
            f"smallest {low:.0f}x, over {len(ratios)} files"
        )
        ok = ok and mid >= MIN_RATIO
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
