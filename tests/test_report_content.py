"""What report.html says, read from its HTML (the browser test reads the rendered page).

Its language (--lang, or lang in il6assay.toml), the zero standard, the
advice column, the flag legend, the review history and mask reasons that
review.js carries from the audit log, and rule sources that cite the guidance.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.messages import has_text
from il6assay.qc.results import FLAGS
from il6assay.record.audit import read_entries
from il6assay.record.i18n import Words, check_lang
from il6assay.record.report import review_payload
from il6assay.run import process_plate
from tests.conftest import EXAMPLE, ROOT, processed_copy, run_dirs

PLATE = EXAMPLE / "plate_001.xlsx"


def _process(tmp_path: Path, *extra: str, export: str = "plate_001.xlsx") -> Path:
    result = CliRunner().invoke(
        main, ["process", str(EXAMPLE / export), "--out", str(tmp_path / "out"), *extra]
    )
    assert result.exit_code in (0, 3), result.output
    (run,) = run_dirs(tmp_path / "out")
    return run


def _review_js(run: Path) -> dict:
    text = (run / "review.js").read_text(encoding="utf-8")
    return json.loads(text.removeprefix("window.IL6_REVIEW = ").rstrip().rstrip(";"))


def test_lang_zh_cn_writes_the_report_in_chinese_and_records_it(tmp_path):
    run = _process(tmp_path, "--lang", "zh-CN")
    page = (run / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "验收规则" in page and "板图" in page
    assert json.loads((run / "run.json").read_text())["report"]["lang"] == "zh-CN"
    # Masking rewrites the report in the language it was written in.
    done = CliRunner().invoke(
        main, ["mask", str(run), "--well", "A5", "--reason", "气泡", "--by", "陈杰"]
    )
    assert done.exit_code in (0, 3), done.output
    assert "验收规则" in (run / "report.html").read_text(encoding="utf-8")


def test_lang_comes_from_il6assay_toml_and_the_flag_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "il6assay.toml").write_text('lang = "zh-CN"\n', encoding="utf-8")
    run = _process(tmp_path)
    assert "验收规则" in (run / "report.html").read_text(encoding="utf-8")
    run2 = _process(tmp_path / "b", "--lang", "en")
    assert "Acceptance rules" in (run2 / "report.html").read_text(encoding="utf-8")


def test_an_unknown_language_is_refused_before_anything_is_written(tmp_path):
    result = CliRunner().invoke(
        main,
        ["process", str(EXAMPLE / "plate_001.xlsx"), "--out", str(tmp_path / "o"), "--lang", "fr"],
    )
    assert result.exit_code == 2
    assert "unknown report language 'fr'; expected one of en, zh-CN" in result.stderr
    assert not (tmp_path / "o").exists()
    assert check_lang("zh") == check_lang("ZH_cn") == "zh-CN"
    with pytest.raises(InputError):
        check_lang("de")


def test_every_flag_and_rule_source_has_a_chinese_text():
    assert all(has_text("zh-CN", f"flag.{code}") for code in FLAGS)
    run = process_plate(
        EXAMPLE / "plate_002_rejected.csv",
        EXAMPLE / "plate_002_rejected.layout.toml",
        EXAMPLE / "plate_002_rejected.samples.csv",
    )
    zh = Words("zh-CN")
    for rule in run.rules:
        assert zh.source(rule.source) != rule.source, rule.id
        assert zh.description(rule) != rule.description, rule.id
        # The detail's numbers are carried over unchanged.
        english_numbers = re.findall(r"\d+(?:\.\d+)?", rule.detail)
        zh_numbers = re.findall(r"\d+(?:\.\d+)?", zh.detail(rule))
        assert sorted(zh_numbers) == sorted(english_numbers)


def test_rule_sources_cite_the_guidance_not_a_file_outside_the_repository():
    run = process_plate(
        EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.layout.toml", allow_unmatched=True
    )
    for rule in run.rules:
        assert "DOMAIN.md" not in rule.source, rule.id
        assert re.search(r"ICH M10 \(2022\) section 4\.\d\.\d|CLSI EP17", rule.source), rule.id
    sources = "\n".join(p.read_text() for p in (ROOT / "il6assay" / "qc").glob("*.py"))
    assert "DOMAIN.md" not in sources


def test_the_zero_standard_is_in_the_standards_table_as_an_anchor(tmp_path):
    page = (processed_copy(PLATE, tmp_path / "out") / "report.html").read_text(encoding="utf-8")
    table = page[page.index('<table id="standards">') :]
    table = table[: table.index("</table>")]
    for well in ("H1", "H2"):
        row = re.search(rf"<tr><td>S8</td><td>{well}</td><td>0</td>.*?</tr>", table)
        assert row and "anchor: fitted, not judged" in row.group(0)


def test_the_samples_table_has_the_advice_column(tmp_path):
    page = (processed_copy(PLATE, tmp_path / "out") / "report.html").read_text(encoding="utf-8")
    table = page[page.index('<table id="samples">') :]
    assert "<th>advice</th></tr></thead>" in table
    # P10 is above the ULOQ neat: re-assay at 1:10.
    row = re.search(r"<tr[^>]*><td>AML-010</td><td>D0</td><td>P10</td>.*?</tr>", table)
    assert row and "re-assay at a higher dilution (e.g. 1:10)" in row.group(0)


def test_the_flag_legend_explains_every_flag_in_the_report(tmp_path):
    page = (processed_copy(PLATE, tmp_path / "out") / "report.html").read_text(encoding="utf-8")
    legend = page[page.index('<table id="flag-legend">') :]
    legend = legend[: legend.index("</table>")]
    body = page[: page.index('<table id="flag-legend">')]
    shown = {code for code in FLAGS if re.search(rf"\b{code}\b", body)}
    listed = set(re.findall(r"<tr><td>([A-Z_]+)</td>", legend))
    assert shown and shown <= listed
    assert "Flags are explained in curve.json" not in page


def test_review_js_carries_every_review_decision_and_each_masks_reason(tmp_path):
    run = processed_copy(PLATE, tmp_path / "out")
    steps = [
        ["mask", str(run), "--well", "A5", "--well", "A4", "--reason", "bubble", "--by", "Chen"],
        ["unmask", str(run), "--well", "A4", "--reason", "no bubble in A4", "--by", "Chen"],
        ["review", str(run), "--reject", "--by", "Lin", "--reason", "first look"],
        ["review", str(run), "--accept", "--by", "Wu", "--reason", "second look"],
    ]
    for args in steps:
        done = CliRunner().invoke(main, args)
        assert done.exit_code in (0, 3), done.output
    review = _review_js(run)
    assert review["status"] == "accepted" and review["by"] == "Wu"
    assert [(h["decision"], h["by"], h["reason"]) for h in review["history"]] == [
        ("rejected", "Lin", "first look"),
        ("accepted", "Wu", "second look"),
    ]
    assert list(review["masks"]) == ["A5"]
    assert review["masks"]["A5"]["reason"] == "bubble" and review["masks"]["A5"]["by"] == "Chen"
    # The same as the audit log says, read through the audit module.
    assert review_payload(read_entries(run), {"status": "accepted"})["history"] == review["history"]
    # After a mask, the run is unreviewed again, and the history is kept.
    done = CliRunner().invoke(
        main, ["mask", str(run), "--well", "B5", "--reason", "splash", "--by", "Chen"]
    )
    assert done.exit_code in (0, 3), done.output
    review = _review_js(run)
    assert review["status"] == "unreviewed" and len(review["history"]) == 2
    assert set(review["masks"]) == {"A5", "B5"}
    page = (run / "report.html").read_text(encoding="utf-8")
    assert '<tr data-well="A5">' in page and '<tr data-well="B5">' in page


def test_the_od_heat_map_marks_faults_not_censored_samples():
    from il6assay.record.report import plate_figure

    run = process_plate(
        EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.layout.toml",
        EXAMPLE / "plate_001.samples.csv",
    )  # fmt: skip
    fig = plate_figure(run)
    (marks,) = [t for t in fig["data"] if t.get("name") == "fault"]
    marked = {f"{y}{x}" for x, y in zip(marks["x"], marks["y"], strict=True)}
    # P33 saturated, P19 (C8, C9) HIGH_CV; P01 (A4, A5) below the LLOQ is not a fault
    assert marked == {"A12", "B12", "C8", "C9"}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_what_a_user_wrote_is_shown_as_text_in_the_report_never_as_markup(tmp_path, lang):
    from il6assay.record.report import write_report

    hostile = "AML-<script>alert('x')</script>"
    text = (EXAMPLE / "plate_001.samples.csv").read_text(encoding="utf-8-sig")
    (tmp_path / "s.csv").write_text(text.replace("AML-001", hostile, 1), encoding="utf-8")
    run = process_plate(
        EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.layout.toml", tmp_path / "s.csv"
    )
    write_report(run, tmp_path / "report.html", lang=lang)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert "<td>AML-&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</td>" in page
