"""CPU time of reading a layout as TOML and as a sheet, and of writing the report.

Usage: python benchmarks/bench_layouts.py [--repeat 20]

All in one process (so the ratios compare like with like on a shared
machine): the standard layout read from its TOML (with the include), from
its XLSX twin and from its CSV twin; and report.html written for the example
plate in English and in Simplified Chinese. Figures are quoted in
docs/review.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = ROOT / "plate_layouts"
EXAMPLE = ROOT / "fixtures" / "example"


def cpu_ms(fn, repeat: int) -> float:
    """Median CPU time of ``fn()`` in milliseconds (one warm-up call first)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    """Print the median CPU time of each reading and of the report in both languages."""
    from il6assay.plate.layout import load_layout
    from il6assay.plate.layout_sheet import read_layout
    from il6assay.record.report import write_report
    from il6assay.run import process_plate

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    repeat = parser.parse_args().repeat
    toml = cpu_ms(lambda: load_layout(LAYOUTS / "il6_96_standard.toml"), repeat)
    xlsx = cpu_ms(lambda: read_layout(LAYOUTS / "il6_96_standard.xlsx"), repeat)
    csv = cpu_ms(lambda: read_layout(LAYOUTS / "il6_96_standard.csv"), repeat)
    print(f"layout from TOML   {toml:7.2f} ms")
    print(f"layout from XLSX   {xlsx:7.2f} ms  ({xlsx / toml:.1f} x TOML)")
    print(f"layout from CSV    {csv:7.2f} ms  ({csv / toml:.1f} x TOML)")
    run = process_plate(
        EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.layout.toml",
        EXAMPLE / "plate_001.samples.csv",
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        en = cpu_ms(lambda: write_report(run, out), max(3, repeat // 4))
        zh = cpu_ms(lambda: write_report(run, out, lang="zh-CN"), max(3, repeat // 4))
    print(f"report.html (en)   {en:7.1f} ms")
    print(f"report.html (zh)   {zh:7.1f} ms  ({zh / en:.2f} x en)")


if __name__ == "__main__":
    main()
