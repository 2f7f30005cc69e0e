"""The report in a real headless browser: offline, every figure drawn, no console errors.

Uses Debian's chromium (/usr/bin/chromium) through Playwright, which is told
where the browser is: nothing downloads a browser. The context is offline and
no request is intercepted: every request the page makes is recorded, and any
leaving the report's own files, or failing to load, fails the test.
Screenshots are saved in test-artifacts/ (the QC walk-through in
docs/review.md uses the one of the failing plate).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from il6assay.cli import main
from tests.browser import ARTIFACTS, needs_browser
from tests.conftest import EXAMPLE, STANDARD_LAYOUT, run_dirs

pytestmark = needs_browser


def open_report(browser, report: Path, screenshot: str | None = None) -> dict:
    """Load a report offline; return what happened (errors, requests, figures, texts)."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Nothing is intercepted: the browser fetches what it fetches. Every request it makes
    # is watched; one leaving the report's files, or a file that fails to load, is recorded.
    page.on("request", lambda r: None if r.url.startswith("file:") else outside.append(r.url))
    page.on("requestfailed", lambda r: errors.append(f"failed to load {r.url}"))
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
    assert "Wells at fault: C3, D3, C12, D12." in info["text"]  # the low QC, both sets
    assert "Wells at fault: C1, C2, D1, D2, E1, E2, F1, F2, G1, G2." in info["text"]  # means
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


def _reviewed_run(tmp_path: Path, lang: str) -> Path:
    """The example plate in ``lang``: A5 masked with a reason, rejected, then accepted."""
    run = process(EXAMPLE / "plate_001.xlsx", tmp_path / "out", "--lang", lang)
    for args in (
        ["mask", str(run), "--well", "A5", "--reason", "bubble in well", "--by", "Chen Jie"],
        ["review", str(run), "--reject", "--by", "Lin Wei", "--reason", "first look: A5"],
        ["review", str(run), "--accept", "--by", "Lin Wei", "--reason", "QC ok after mask"],
    ):
        done = CliRunner().invoke(main, args)
        assert done.exit_code == 0, done.output
    return run


def _page_facts(browser, report: Path, screenshot: str) -> dict:
    """What a reviewer reads off the page: plate-map cells, legend, history, masks, samples."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")

    def cell(well: str) -> str:
        return page.locator(f'#plate-map td[title^="{well} "]').inner_text()

    def column(table: str, header: str) -> list[str]:
        heads = page.locator(f"#{table} thead th").all_inner_texts()
        i = heads.index(header) + 1
        return page.locator(f"#{table} tbody td:nth-child({i})").all_inner_texts()

    facts = {
        "errors": errors,
        "A1": cell("A1"),
        "A3": cell("A3"),
        "C3": cell("C3"),
        "E4": cell("E4"),
        "A5_classes": page.locator('#plate-map td[title^="A5 "]').get_attribute("class"),
        "A4_classes": page.locator('#plate-map td[title^="A4 "]').get_attribute("class"),
        "B12_classes": page.locator('#plate-map td[title^="B12 "]').get_attribute("class"),
        "legend": page.locator("#plate-legend").inner_text(),
        "history": [
            r.split("\t") for r in page.locator("#review-history tbody tr").all_inner_texts()
        ],
        "masked": page.locator("#masked tbody tr").all_inner_texts(),
        "flag_legend": page.locator("#flag-legend tbody tr").all_inner_texts(),
        "headers": page.locator("#samples thead th").all_inner_texts(),
        "results": page.locator("#samples tbody td:nth-child(7)").all_inner_texts(),
        "ids": page.locator("#samples tbody td:nth-child(1)").all_inner_texts(),
        "zero": [r for r in page.locator("#standards tbody tr").all_inner_texts() if "H1" in r],
        "verdict": page.locator("h2.verdict").inner_text(),
        "text": page.inner_text("body"),
    }
    advice_header = facts["headers"][-1]
    facts["advice"] = column("samples", advice_header)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True, type="jpeg", quality=70)
    context.close()
    return facts


@pytest.fixture(scope="module")
def both_languages(browser, tmp_path_factory):
    """The same reviewed plate's report in English and in Simplified Chinese."""
    out = {}
    for lang in ("en", "zh-CN"):
        run = _reviewed_run(tmp_path_factory.mktemp(lang), lang)
        out[lang] = _page_facts(browser, run / "report.html", f"report_{lang}.jpg")
    return out


LANG_WORDS = {
    # (blank well, advice header, decision words, fault legend, re-assay advice)
    "en": ("blank", "advice", ("rejected", "accepted"), "fault: failed standard or control",
           "re-assay at a higher dilution (e.g. 1:10)"),
    "zh-CN": ("空白", "建议", ("已拒绝", "已接受"), "问题：标准品或质控不通过",
              "以更高稀释度重测，例如 1:10"),
}  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_report_shows_labels_on_the_plate_map_a_legend_the_review_history_and_advice(
    both_languages, lang
):
    facts = both_languages[lang]
    blank, advice, decisions, fault, reassay = LANG_WORDS[lang]
    assert facts["errors"] == []
    # Every well shows its role and its label.
    std, smp = ("std", "smp") if lang == "en" else ("标准", "样本")
    assert "A1" in facts["A1"] and std in facts["A1"] and "S1" in facts["A1"]
    assert smp in facts["E4"]
    assert blank in facts["A3"] and "low" in facts["C3"] and "P05" in facts["E4"]
    # A fault, a censored well and a masked well are marked differently, with a legend.
    assert "masked" in facts["A5_classes"].split()
    assert "censored" in facts["A4_classes"].split()  # P01: below the LLOQ, normal
    assert "fault" in facts["B12_classes"].split()  # P33: saturated
    assert fault in facts["legend"] and "<" in facts["legend"]
    # Every review decision: who, when, why; the mask's reason from the audit log.
    assert [(h[1], h[2], h[4]) for h in facts["history"]] == [
        (decisions[0], "Lin Wei", "first look: A5"),
        (decisions[1], "Lin Wei", "QC ok after mask"),
    ]
    assert all(h[0].endswith("+00:00") for h in facts["history"])
    assert "Chen Jie" in facts["masked"][0] and "bubble in well" in facts["masked"][0]
    # The advice column; the zero standard in the standards table.
    assert facts["headers"][-1] == advice
    assert reassay in facts["advice"]
    assert facts["zero"] and "0" in facts["zero"][0].split("\t")[2]
    # A legend of every flag in the report, codes unchanged.
    codes = [r.split("\t")[0] for r in facts["flag_legend"]]
    assert {"BELOW_LLOQ", "ABOVE_ULOQ", "SATURATED", "MASKED"} <= set(codes)


def test_the_chinese_report_changes_words_never_numbers_ids_or_flag_codes(both_languages):
    en, zh = both_languages["en"], both_languages["zh-CN"]
    assert zh["results"] == en["results"] and zh["ids"] == en["ids"]
    assert [r.split("\t")[0] for r in zh["flag_legend"]] == [
        r.split("\t")[0] for r in en["flag_legend"]
    ]
    assert "判定" in zh["verdict"] and "接受" in zh["verdict"]
    assert "验收规则" in zh["text"] and "ICH M10（2022）第 4.2.3 节" in zh["text"]
    assert "Acceptance rules" not in zh["text"]
    assert "ICH M10 (2022) section 4.2.3" in en["text"] and "DOMAIN.md" not in en["text"]


def test_the_verdict_of_a_failing_plate_is_one_headline_with_the_details_below(browser, tmp_path):
    run = process(EXAMPLE / "plate_002_rejected.csv", tmp_path / "out")
    context = browser.new_context(offline=True)
    page = context.new_page()
    page.goto((run / "report.html").as_uri())
    headline = page.locator("h2.verdict").inner_text()
    assert headline == (
        "Verdict: rejected by QUANTIFICATION_RANGE, STANDARD_LEVELS, STANDARD_SHARE, CONTROLS, "
        "QC_RANGE"
    )
    why = page.locator("ul.why li").all_inner_texts()
    assert [w.split(":")[0] for w in why] == [
        "QUANTIFICATION_RANGE", "STANDARD_LEVELS", "STANDARD_SHARE", "CONTROLS", "QC_RANGE"
    ]  # fmt: skip
    assert "2 of 7 levels pass on their reportable values; failing: S3 (75: mean recovery" in why[1]
    context.close()


A4_PRINTABLE_PX = 703  # (210 mm - 2 x 12 mm margins) at 96 px per inch


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_report_prints_to_clean_a4_pages(browser, tmp_path, lang):
    run = process(EXAMPLE / "plate_001.xlsx", tmp_path / "out", "--lang", lang)
    context = browser.new_context(offline=True, viewport={"width": A4_PRINTABLE_PX, "height": 1000})
    page = context.new_page()
    page.goto((run / "report.html").as_uri())
    page.wait_for_load_state("load")
    page.emulate_media(media="print")
    # Nothing is wider than the printable width of an A4 page: no cut-off column.
    too_wide = page.evaluate(
        """(limit) => Array.from(document.querySelectorAll('table, .js-plotly-plot, h1, h2, p'))
             .filter(e => e.getBoundingClientRect().right > limit + 1)
             .map(e => e.id || e.className || e.tagName)""",
        A4_PRINTABLE_PX,
    )
    assert too_wide == []
    assert page.evaluate("document.documentElement.scrollWidth") <= A4_PRINTABLE_PX
    assert page.evaluate(
        "getComputedStyle(document.querySelector('.modebar') || document.body).display"
    ) in ("none", "block")
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    context.close()
    assert pdf.startswith(b"%PDF")
    pages = pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page>") + pdf.count(b"/Type /Page/")
    assert pages >= 3
    (ARTIFACTS / f"report_{lang}.pdf").write_bytes(pdf)
