"""CPU time of writing report.html: the f-string code before the templates against today's.

Loads the report as it was at commit 9a547cd (record/report.py and record/i18n.py
from git, f-string HTML and the English->Chinese dictionaries) beside today's
(Jinja2 templates, the message catalogue), processes the example plate once,
and writes its report with each in turn, interleaved, in English and Chinese.
Prints the median CPU time (time.process_time) of one report per code and
language, and their ratio. Run from the repository: ``python
benchmarks/bench_report_render.py [ROUNDS]``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "9a547cd"


def old_module(name: str, path: str, replace: tuple[str, str] | None = None) -> types.ModuleType:
    """The module at ``path`` as commit BEFORE had it, loaded under ``name``."""
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    if replace:
        source = source.replace(*replace)
    module = types.ModuleType(name)
    module.__file__ = str(ROOT / path)
    sys.modules[name] = module
    exec(compile(source, path, "exec"), module.__dict__)  # our own code, from git
    return module


def main(rounds: int = 15) -> None:
    """Print the median CPU time of one report, before and after, per language."""
    from il6assay.record import report as new
    from il6assay.run import process_plate

    old_module("old_i18n", "il6assay/record/i18n.py")
    old = old_module(
        "old_report",
        "il6assay/record/report.py",
        ("from il6assay.record.i18n import Words", "from old_i18n import Words"),
    )
    example = ROOT / "fixtures" / "example"
    run = process_plate(
        example / "plate_001.xlsx",
        example / "plate_001.layout.toml",
        example / "plate_001.samples.csv",
    )
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        for module in (old, new):  # warm up: imports, caches, templates compiled once
            module.write_report(run, path, lang="zh-CN")
        for _ in range(rounds):
            for lang in ("en", "zh-CN"):
                for label, module in (("before", old), ("after", new)):
                    start = time.process_time()
                    module.write_report(run, path, lang=lang)
                    times.setdefault((label, lang), []).append(time.process_time() - start)
    for lang in ("en", "zh-CN"):
        before = statistics.median(times[("before", lang)])
        after = statistics.median(times[("after", lang)])
        print(
            f"report.html {lang:5}: before {1000 * before:6.1f} ms CPU, after "
            f"{1000 * after:6.1f} ms CPU (after/before {after / before:.2f}; median of {rounds})"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
