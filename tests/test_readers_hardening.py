"""Hostile or odd exports the readers refuse in one line (issue 12's reader items).

Each test feeds ``il6assay inspect``/``process`` the input that once broke it
and checks: exit 2, one line naming the file and what is wrong, no traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.plate.readers import read_export
from tests.conftest import FIXTURES, STANDARD_LAYOUT

GRID = FIXTURES / "readers" / "grid_450_570.csv"


def refused(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("il6assay: ")]
    assert len(lines) == 1, result.output
    return lines[0]


def edited(tmp_path: Path, old: str, new: str, name: str = "plate.csv") -> Path:
    path = tmp_path / name
    path.write_text(GRID.read_text().replace(old, new, 1))
    return path


def test_a_cell_over_128_kb_is_refused_not_a_csv_traceback(tmp_path: Path) -> None:
    # The csv module raised "field larger than field limit (131072)" from deep inside.
    path = edited(tmp_path, "2.945", "9" * (200 * 1024))
    line = refused("inspect", path)
    assert f"{path}, line 4: a line of 200 KB" in line and "limit 128 KB" in line


def test_a_workbook_cell_of_160_kb_is_refused_naming_the_cell(tmp_path: Path) -> None:
    # The workbook parser stops a cell at Excel's 32,767 characters; what is
    # left is no reading, refused at its cell (cells over 128 KB from any
    # other path are refused by size, test_tokens.py).
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["450 nm"])
    ws.append([None, *range(1, 13)])
    for letter in "ABCDEFGH":
        ws.append([letter, *([0.1] * 12)])
    ws["C3"] = "9" * 32000 * 5  # Excel's own limit is 32767 characters; a hostile file is not Excel
    path = tmp_path / "big.xlsx"
    wb.save(path)
    line = refused("inspect", path)
    assert "sheet 'Sheet' C3: well A2" in line


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_a_well_beyond_any_float_is_refused_naming_the_well(tmp_path: Path, number: str) -> None:
    path = edited(tmp_path, "2.945", number)
    line = refused("inspect", path)
    assert "well A2" in line and "not a finite number" in line


@pytest.mark.parametrize("digits", ["２.９４５", "٢٫٩٤٥"])
def test_fullwidth_or_arabic_indic_digits_are_refused(tmp_path: Path, digits: str) -> None:
    path = edited(tmp_path, "2.945", digits)
    line = refused("inspect", path)
    assert "well A2" in line and "non-ASCII digits" in line


def test_a_grid_row_shorter_than_its_header_is_refused_naming_the_row(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "B,1.640,1.640,1.630,2.000,0.370,0.740,1.110,1.480,1.850,0.220,0.590,0.960",
        "B,1.640,1.640,1.630",
    )
    line = refused("inspect", path)
    assert "line 5: row B has 3 cells for 12 columns: shorter than its header" in line


def test_a_row_with_empty_cells_between_separators_is_unread_wells_not_refused(
    tmp_path: Path,
) -> None:
    path = edited(
        tmp_path,
        "B,1.640,1.640,1.630,2.000,0.370,0.740,1.110,1.480,1.850,0.220,0.590,0.960",
        "B,1.640,1.640,1.630,,,,,,,,,",
    )
    (plate,) = read_export(path).plates
    assert plate.reads["450"]["B4"] is None and plate.reads["450"]["B3"] == 1.63


def test_an_export_whose_only_read_is_570_is_not_processed_with_570_as_the_signal(
    tmp_path: Path,
) -> None:
    text = GRID.read_text()
    only_570 = "570 nm" + text.split("570 nm", 1)[1]
    path = tmp_path / "ref.csv"
    path.write_text(only_570)
    args = ["process", path, "--layout", STANDARD_LAYOUT, "--allow-unmatched", "--out", tmp_path]
    line = refused(*args)
    assert "only read is 570 nm" in line and "--read 570" in line
    result = CliRunner().invoke(main, [str(a) for a in [*args, "--read", "570"]])
    assert result.exit_code in (0, 3), result.output  # named: processed as asked


def test_a_directory_given_as_the_export_is_named_as_one(tmp_path: Path) -> None:
    for command in ("inspect", "process"):
        line = refused(command, tmp_path)
        assert "is a directory, not an export file" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_given_as_the_export_is_named_and_never_read(tmp_path: Path) -> None:
    fifo = tmp_path / "plate.csv"
    os.mkfifo(fifo)
    for command in ("inspect", "process"):
        line = refused(command, fifo)  # would hang for a writer if it were opened
        assert "is a named pipe (FIFO), not an export file" in line
    with pytest.raises(InputError, match="named pipe"):
        read_export(fifo)


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null")
def test_a_device_given_as_the_export_is_named_as_one() -> None:
    line = refused("inspect", "/dev/null")
    assert "/dev/null: is a device, not an export file" in line


def test_a_missing_file_is_still_no_such_file(tmp_path: Path) -> None:
    assert "no such file" in refused("inspect", tmp_path / "nope.csv")
