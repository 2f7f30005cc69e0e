"""The sample sheet against hostile input: one spelling per subject, bounded fields, clean refusals.

Each case is the example plate's sheet with the one edit that broke it
(issue 12): a zero-width space, a bidi override, a newline or a NUL in a
study ID, a fullwidth study ID, a field over 128 KB, a bare CR, a column
given twice, a dilution of 1e308. A refused run leaves nothing in ``--out``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.plate.samples import clean_label, load_samples, spelling_key
from tests.conftest import EXAMPLE

EXPORT = EXAMPLE / "plate_001.xlsx"
LAYOUT = EXAMPLE / "plate_001.layout.toml"
SHEET = (EXAMPLE / "plate_001.samples.csv").read_text(encoding="utf-8")


def sheet(tmp_path: Path, text: str, name: str = "sheet.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def with_study_id(sample: str, study_id: str) -> str:
    """The example sheet with ``sample``'s study ID replaced (written as a CSV writer would)."""
    rows = list(csv.reader(io.StringIO(SHEET)))
    for row in rows:
        if row[0] == sample:
            row[1] = study_id
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def refused(path: Path, *fragments: str) -> str:
    with pytest.raises(InputError) as info:
        load_samples(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line "), message
    assert "\n" not in message and "\r" not in message and "\x00" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize(
    "study_id, char",
    [
        ("AML-\u200b002", "U+200B ZERO WIDTH SPACE"),
        ("\u202eAML-002", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("AML-\n002", "U+000A"),
        ("AML-\x00002", "U+0000"),
        ("AML-\u2028002", "U+2028 LINE SEPARATOR"),
    ],
)
def test_study_id_with_a_control_or_invisible_character_is_refused_naming_line_and_column(
    tmp_path, study_id, char
):
    message = refused(sheet(tmp_path, with_study_id("P02", study_id)), "line 3", "study_id", char)
    assert "\u200b" not in message and "\u202e" not in message


def test_fullwidth_study_id_is_read_as_its_nfkc_form(tmp_path):
    rows = load_samples(sheet(tmp_path, with_study_id("P02", "  ＡＭＬ-００２ "))).rows
    assert rows["P02"].study_id == "AML-002"


def test_spelling_key_ignores_case_spaces_width_and_dash_style():
    key = spelling_key("AML-001")
    for other in ("aml-001", "AML- 001", "ＡＭＬ-００１", "AML\u2010001", "AML\u2013001"):
        assert spelling_key(other) == key, other
    assert spelling_key("AML-010") != key
    assert clean_label("  Ｐ０１ ") == "P01"


def test_nul_in_a_study_id_is_one_line_and_leaves_nothing_in_out(tmp_path):
    samples = sheet(tmp_path, with_study_id("P02", "AML-\x00002"))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["process", str(EXPORT), "--layout", str(LAYOUT), "--samples", str(samples),
               "--out", str(out)]
    )  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "U+0000" in result.stderr
    assert not out.exists()


def test_a_run_refused_while_writing_leaves_no_plotly_copy_behind(tmp_path, monkeypatch):
    from il6assay.record import outputs
    from il6assay.run import process_plate

    run = process_plate(EXPORT, LAYOUT, EXAMPLE / "plate_001.samples.csv")

    def full_disk(*args, **kwargs):
        raise InputError("no space left on device")

    monkeypatch.setattr(outputs, "write_xlsx", full_disk)
    out = tmp_path / "runs" / "today"
    with pytest.raises(InputError, match="no space left"):
        outputs.write_run(run, out)
    assert not (tmp_path / "runs").exists()  # no plotly.js, no partial folder, no --out
    existing = tmp_path / "kept"
    existing.mkdir()
    with pytest.raises(InputError):
        outputs.write_run(run, existing)
    assert list(existing.iterdir()) == []


def test_field_over_128_kb_is_refused_naming_its_line(tmp_path):
    text = SHEET.replace("P03,AML-003,D0,,", "P03,AML-003,D0,," + "x" * 140_000)
    refused(sheet(tmp_path, text), "line 4", "longer than 128 KB")


def test_bare_cr_inside_a_line_is_refused_naming_it(tmp_path):
    text = SHEET.replace("P02,AML-002,D0,,\n", "P02,AML-\r002,D0,,\n")
    refused(sheet(tmp_path, text), "line 3", "bare carriage return")


def test_a_sheet_with_only_cr_line_ends_is_read_as_lines(tmp_path):
    rows = load_samples(sheet(tmp_path, SHEET.replace("\n", "\r"))).rows
    assert rows["P02"].study_id == "AML-002" and len(rows) == SHEET.count("\n") - 1


def test_crlf_line_ends_are_read_as_usual(tmp_path):
    rows = load_samples(sheet(tmp_path, SHEET.replace("\n", "\r\n"))).rows
    assert rows["P02"].study_id == "AML-002"


@pytest.mark.parametrize(
    "header", ["sample,study_id,visit,dilution,study_id", "sample,Study ID,visit,dilution,study_id"]
)
def test_a_column_given_twice_is_refused(tmp_path, header):
    text = SHEET.replace("sample,study_id,visit,dilution,note", header)
    refused(sheet(tmp_path, text), "line 1", "given twice", "columns 2 and 5")


@pytest.mark.parametrize("dilution", ["1e308", "inf", "0.5", "2000000"])
def test_dilution_outside_1_to_a_million_is_refused(tmp_path, dilution):
    text = SHEET.replace("P02,AML-002,D0,,", f"P02,AML-002,D0,{dilution},")
    refused(sheet(tmp_path, text), "line 3", "P02")


_DIALECT = ("delimiter", "quotechar", "doublequote", "skipinitialspace", "quoting", "escapechar")


def _sniffer_dialect(text: str):
    """The dialect as il6assay found it before: csv.Sniffer on 4 KB, else Excel's."""
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _sniffed(text: str) -> tuple:
    return tuple(getattr(_sniffer_dialect(text), a) for a in _DIALECT)


def _sheet_texts() -> list[str]:
    """Every CSV of the fixtures and ../shared, and made-up sheets on the fast check's edges."""
    from il6assay.plate.readers.source import decode
    from il6assay.plate.samples import _line_ends

    roots = [EXAMPLE.parent, EXAMPLE.parents[1] / "benchmarks", EXAMPLE.parents[2] / "shared"]
    texts = [
        _line_ends(decode(p.read_bytes()))
        for root in roots
        if root.is_dir()
        for p in sorted(root.rglob("*.csv"))
    ]
    head = "sample,study_id,visit,dilution,note\n"
    made = [
        head + "S1,AML-001,D0,,\n" * 20,
        head + "S1,AML-001,D0,2,\n" * 9 + "S1;x,AML-001,D0,2,\n",  # ';' in the first ten lines
        head + "S1,AML-001,D0,2,\n" * 10 + "S1;x,AML,\n",  # ... and only after them
        head + "S1,AML-001\n",  # a line with fewer commas
        "sample, study_id, visit\n" + "S1, AML-001, D0\n" * 3,  # spaces after the commas
        "sample, study_id,visit\n" + "S1, AML-001,D0\n" * 3,
        "sample,study_id\r\n" + "S1,AML-001\r\n" * 3,
        "sample,study_id\n" + "S1,O'Brien\n",  # a quote: sniffed
        "sample\tstudy_id\n" + "S1\tAML-001\n" * 3,
        "sample;study_id\n" + "S1;AML-001\n" * 3,
        "sample,study_id\n\n\nS1,AML-001\n\n",
        "x" * 5000 + ",a\n" + "S1,AML\n",  # the 4 KB cut inside the first line
        head + ("S1,AML-001,D0,,\n" * 400)[:-3],  # the 4 KB cut inside a line
        "sample,study_id,visit,note\n" + "S1,AML-001,D0,a,b\n" * 3,
        "only one column\nS1\n",
    ]
    return texts + made


def test_a_sheets_dialect_is_what_csv_sniffer_finds_for_every_shipped_and_edge_sheet():
    from il6assay.plate.samples import sheet_dialect

    texts = _sheet_texts()
    assert len(texts) > 20
    for text in texts:
        dialect = sheet_dialect(text)
        assert tuple(getattr(dialect, a) for a in _DIALECT) == _sniffed(text), text[:80]
        rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
        assert rows == list(csv.reader(io.StringIO(text, newline=""), _sniffer_dialect(text)))


@pytest.mark.slow  # a sweep of random text against csv.Sniffer
def test_a_sheets_dialect_is_what_csv_sniffer_finds_for_random_comma_heavy_text():
    import random

    from il6assay.plate.samples import sheet_dialect

    rng = random.Random(3)
    pieces = [*"ab1 ,;\t\n", "\r\n", ", ", ",,", "\n\n"]
    for _ in range(300):  # the sniffer takes ~3 ms a text (20,000 agreed once, by hand)
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 80)))
        assert tuple(getattr(sheet_dialect(text), a) for a in _DIALECT) == _sniffed(text), text
