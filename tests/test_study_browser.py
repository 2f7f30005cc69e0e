"""The study's pages in a real headless browser: offline, every chart drawn, no console errors.

Debian's chromium (/usr/bin/chromium) through Playwright, nothing intercepted
or blocked: a request leaving the file (none should) is recorded, and any
console error or failed request fails the test (tests/browser.py). The pages
are exactly what ``controls_html`` and ``summary_html`` return (the web app
serves the same strings), written beside the shared plotly.js. A kit lot
holding a script tag must show as text and never run. Screenshots go to
test-artifacts/ (docs/study.md shows the Levey-Jennings one).
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from il6assay.cli import main
from il6assay.db.engine import make_engine, upgrade
from il6assay.study.pages import controls_html, summary_html, write_page
from il6assay.study.store import record_qc
from tests.browser import ARTIFACTS, Watched, needs_browser
from tests.db_support import run_folder
from tests.study_support import history, in_control

HOSTILE_LOT = "L2<script>alert('lot')</script>"

pytestmark = needs_browser

FIGURES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => ({
  svg: d.querySelector('svg.main-svg') !== null,
  symbols: d.data.map(t => (t.marker && t.marker.symbol) || null),
  types: d.data.map(t => t.type || 'scatter'),
  shapes: (d.layout.shapes || []).length,
  ytype: d.layout.yaxis.type,
  points: d.querySelectorAll('.point').length,
}))"""


def open_page(browser, path: Path, screenshot: str) -> dict:
    """Load a page as a browser does (nothing intercepted); return what went wrong, its
    dialogs, figures and text."""
    w = Watched(browser)
    w.page.goto(path.as_uri())
    w.page.wait_for_load_state("load")
    outside = [u for u in w.urls if not u.startswith("file:")]
    info = {
        "errors": w.problems,
        "outside": outside,
        "dialogs": w.dialogs,
        "figures": w.page.evaluate(FIGURES_JS),
        "missing_visible": w.page.locator("#plotly-missing").is_visible(),
        "text": w.page.inner_text("body"),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    w.page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    w.context.close()
    return info


def test_levey_jennings_page_draws_every_chart_with_rejected_runs_hollow(browser, tmp_path):
    engine = make_engine(str(tmp_path / "study.db"))
    upgrade(engine)
    runs = history(in_control(30))
    runs[7].accepted_by_rules = False
    runs[7].controls[0].value_pg_ml = 27.0  # a rejected run, far off
    for r in runs[15:]:
        r.kit_lot = HOSTILE_LOT
    runs[28].controls[0].value_pg_ml = runs[29].controls[0].value_pg_ml = 22.2  # 2-2s
    record_qc(engine, runs)
    page = write_page(tmp_path / "controls.html", controls_html(engine))
    info = open_page(browser, page, "study_levey_jennings.png")
    assert info["errors"] == [] and info["outside"] == [] and info["dialogs"] == []
    assert not info["missing_visible"]
    figures = info["figures"]
    assert len(figures) == 6 and all(f["svg"] for f in figures)  # low, high; 4 standards
    low = figures[0]
    assert "circle-open" in low["symbols"] and "circle" in low["symbols"]
    assert low["shapes"] >= 8  # mean, ±1/2/3 SD and the lot change
    assert low["points"] >= 30
    assert "2-2s (low)" in info["text"] and "Westgard violations" in info["text"]
    assert "lot L2<script>" in info["text"]  # shown as text, never run


def test_summary_page_draws_the_distribution_per_visit_on_a_log_axis(browser, tmp_path):
    url = str(tmp_path / "study.db")
    assert CliRunner().invoke(main, ["db", "upgrade", "--db", url]).exit_code == 0
    assert CliRunner().invoke(main, ["push", str(run_folder("a")), "--db", url]).exit_code == 0
    page = write_page(tmp_path / "summary.html", summary_html(make_engine(url)))
    info = open_page(browser, page, "study_summary.png")
    assert info["errors"] == [] and info["outside"] == [] and info["dialogs"] == []
    (figure,) = info["figures"]
    assert figure["svg"] and figure["ytype"] == "log" and "box" in figure["types"]
    assert figure["points"] > 10
    assert "To re-assay" in info["text"] and "AML-001" in info["text"]
