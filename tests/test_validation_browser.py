"""The validation report (issue 24) in a real headless browser: offline, drawn, printable."""

from __future__ import annotations

import json

from il6assay.study.validation_report import HTML_FILE, write_validation
from tests.browser import needs_browser
from tests.conftest import ROOT

pytestmark = needs_browser
EXAMPLE = ROOT / "docs" / "validation_example" / "validation.json"


def test_the_validation_report_shows_offline_without_errors_and_prints(browser, tmp_path):
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))  # the worked example's figures
    out = write_validation(doc, tmp_path / "validation")
    context = browser.new_context(offline=True, viewport={"width": 1000, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / HTML_FILE).as_uri())
    page.wait_for_load_state("load")
    assert "PASSES" in page.locator("h1").inner_text()
    assert page.locator("svg circle").count() == 5 + 4 + 3  # 5 QC levels; PAR1 4, PAR2 3 points
    text = page.inner_text("body")
    for run in doc["runs"]:
        assert run["run_id"] in text and run["run_json_sha256"] in text
    assert page.pdf(format="A4")[:4] == b"%PDF"  # printable
    context.close()
    assert not errors
