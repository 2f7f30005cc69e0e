"""Run folders: formula-safe text, written whole or not at all."""

from __future__ import annotations

import csv
import errno
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.record.outputs import safe_text
from tests.conftest import EXAMPLE, STANDARD_LAYOUT, run_dirs

HOSTILE = {
    "P01": '=HYPERLINK("http://evil.example","click")',
    "P02": "+SUM(1,2)",
    "P03": "-2+3",
    "P04": "@cmd",
}


def example_copy(tmp_path: Path) -> Path:
    for f in EXAMPLE.glob("plate_001*"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "plate_001.layout.toml").write_text(
        f'[meta]\ninclude = "{STANDARD_LAYOUT.as_posix()}"\n'
    )
    return tmp_path / "plate_001.xlsx"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1"])
def test_text_that_a_spreadsheet_would_run_is_defused(text):
    assert safe_text(text) == "'" + text


@pytest.mark.parametrize("value", ["AML-001", "<4.69", ">300", 3.5, -0.02, None])
def test_ordinary_values_pass_unchanged(value):
    assert safe_text(value) == value


def test_formula_injection_in_sample_sheet_cannot_run_in_csv_or_xlsx(tmp_path):
    export = example_copy(tmp_path)
    sheet = tmp_path / "plate_001.samples.csv"
    rows = list(csv.reader(sheet.open()))
    for row in rows[1:]:
        if row[0] in HOSTILE:
            row[4] = HOSTILE[row[0]]  # the note column
    with sheet.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    result = CliRunner().invoke(main, ["process", str(export), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (folder,) = run_dirs(tmp_path / "out")
    with (folder / "results.csv").open(encoding="utf-8-sig") as fh:
        notes = {r["sample"]: r["note"] for r in csv.DictReader(fh)}
    for sample, text in HOSTILE.items():
        assert notes[sample] == "'" + text
    ws = load_workbook(folder / "results.xlsx")["results"]
    header = [c.value for c in ws[1]]
    col = header.index("note")
    by_sample = {row[header.index("sample")].value: row[col] for row in ws.iter_rows(min_row=2)}
    assert len(by_sample) == 32
    for sample, text in HOSTILE.items():
        cell = by_sample[sample]
        assert cell.data_type == "s", (sample, cell.data_type)
        assert cell.value == "'" + text


def test_a_crash_while_writing_leaves_no_run_folder(tmp_path, monkeypatch):
    export = example_copy(tmp_path)

    def explode(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("il6assay.record.report.write_report", explode)
    from il6assay.record.outputs import write_run
    from il6assay.run import process_plate

    run = process_plate(
        export, tmp_path / "plate_001.layout.toml", tmp_path / "plate_001.samples.csv"
    )
    with pytest.raises(InputError, match="cannot write: the disk is full; nothing was changed"):
        write_run(run, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # no run folder, no partial one, no plotly.js


def test_raw_reads_are_never_altered_by_processing(tmp_path):
    export = example_copy(tmp_path)
    before = export.read_bytes()
    CliRunner().invoke(main, ["process", str(export), "--out", str(tmp_path / "out")])
    assert export.read_bytes() == before


def test_an_input_error_is_always_one_line():
    from il6assay.errors import InputError

    err = InputError("unknown reading 'a\nb'", path="odd\nname.csv", where="line 3")
    assert "\n" not in str(err) and str(err) == "odd name.csv, line 3: unknown reading 'a b'"
