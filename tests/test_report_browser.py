"""The report in a real headless browser: offline, every figure drawn, no console errors.

Uses Debian's chromium (/usr/bin/chromium) through Playwright, which is told
where the browser is: nothing downloads a browser. The network is cut (the
context is offline and every non-file request is aborted and recorded).
Screenshots are saved in test-artifacts/ (the QC walk-through in
docs/review.md uses the one of the failing plate).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from il6assay.cli import main
from tests.conftest import EXAMPLE, ROOT, STANDARD_LAYOUT, run_dirs

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if os.environ.get("CI"):
    # CI must run these: a missing browser is a failure there, never a skip.
    from playwright import sync_api as playwright

    assert Path(CHROMIUM).exists(), "CI: Debian's chromium is missing (.ci/run installs it)"
else:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_report(browser, report: Path, screenshot: str | None = None) -> dict:
    """Load a report offline; return what happened (errors, requests, figures, texts)."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    plots = page.locator(".js-plotly-plot")
    info = {
        "errors": errors,
        "outside": outside,
        "plots": plots.count(),
        "plots_with_svg": sum(
            plots.nth(i).locator("svg.main-svg").count() > 0 for i in range(plots.count())
        ),
        "review": page.locator("#review").inner_text(),
        "verdict": page.locator("h2.verdict").inner_text(),
        "missing_visible": page.locator("#plotly-missing").is_visible(),
        "text": page.inner_text("body"),
    }
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    context.close()
    return info


def process(export: Path, out: Path, *extra: str) -> Path:
    result = CliRunner().invoke(main, ["process", str(export), "--out", str(out), *extra])
    assert result.exit_code in (0, 3), result.output
    return next(d for d in run_dirs(out) if d.name.startswith(export.stem))


def test_report_of_a_failing_plate_renders_offline_and_names_rules_and_wells(browser, tmp_path):
    run = process(EXAMPLE / "plate_002_rejected.csv", tmp_path / "out")
    info = open_report(browser, run / "report.html", screenshot="report_failing_plate.png")
    assert info["errors"] == [] and info["outside"] == []
    assert info["plots"] == 3 and info["plots_with_svg"] == 3
    assert not info["missing_visible"]
    assert "rejected" in info["verdict"] and "CONTROLS" in info["verdict"]
    # The walk-through of docs/review.md: rule and wells at fault, from the page alone.
    assert "Wells at fault: C3, D3" in info["text"]
    assert "Wells at fault: C1, C2, D1, D2, F1." in info["text"]  # recovery
    assert "QUANTIFICATION_RANGE" in info["verdict"]  # the swap's residuals: no precise level
    assert info["review"] == "unreviewed"


def test_report_shows_the_review_after_il6assay_review(browser, tmp_path):
    run = process(EXAMPLE / "plate_001.xlsx", tmp_path / "out")
    result = CliRunner().invoke(
        main, ["review", str(run), "--accept", "--by", "Lin Wei", "--reason", "QC ok"]
    )
    assert result.exit_code == 0, result.output
    info = open_report(browser, run / "report.html", screenshot="report_accepted_plate.png")
    assert info["errors"] == [] and info["plots_with_svg"] == 3
    assert info["review"].startswith("accepted by Lin Wei") and "QC ok" in info["review"]


def test_a_results_folder_moved_whole_keeps_its_reports_working(browser, tmp_path):
    run = process(EXAMPLE / "plate_001.xlsx", tmp_path / "out")
    moved = tmp_path / "elsewhere" / "archive"
    shutil.move(str(tmp_path / "out"), moved)
    info = open_report(browser, moved / run.name / "report.html")
    assert info["errors"] == [] and info["plots_with_svg"] == 3


def test_a_standalone_report_works_on_its_own(browser, tmp_path):
    run = process(EXAMPLE / "plate_001.xlsx", tmp_path / "out", "--standalone-report")
    alone = tmp_path / "alone"
    shutil.copytree(run, alone)
    info = open_report(browser, alone / "report.html")
    assert info["errors"] == [] and info["plots_with_svg"] == 3


def test_a_shared_report_copied_out_alone_says_what_it_misses(browser, tmp_path):
    run = process(EXAMPLE / "plate_001.xlsx", tmp_path / "out")
    alone = tmp_path / "alone" / run.name
    shutil.copytree(run, alone)
    info = open_report(browser, alone / "report.html")
    assert info["missing_visible"] and info["plots_with_svg"] == 0


def test_twenty_reports_share_one_copy_of_plotly_js(tmp_path):
    from il6assay.plate.layout import load_layout
    from il6assay.record.outputs import write_run
    from il6assay.run import process_plate
    from il6assay.simulate import grid_text, simulate_plate

    layout = load_layout(STANDARD_LAYOUT)
    rng = np.random.default_rng(20)
    out = tmp_path / "out"
    for i in range(20):
        export = tmp_path / f"plate{i:02d}.csv"
        export.write_text(grid_text(simulate_plate(layout, rng).plate))
        write_run(process_plate(export, layout, None, allow_unmatched=True), out)
    assert len(run_dirs(out)) == 20
    copies = [p for p in out.rglob("*.js") if "plotly" in p.name]
    assert [p.parent for p in copies] == [out]
    size = copies[0].stat().st_size
    for run_dir in run_dirs(out):
        assert (run_dir / "report.html").stat().st_size < size / 5
