"""The plain-grid reader: 8x12 blocks in CSV/TSV/semicolon CSV or XLSX, labelled by wavelength."""

from __future__ import annotations

from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import MISSING, SATURATED, Token
from il6assay.plate.readers import Source, detect, grid, read_export
from tests.reference import EXPORTS, needs_shared

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
HEADER = ",1,2,3,4,5,6,7,8,9,10,11,12"


def block(
    label: str | None = "450", sep: str = ",", rows: str = "ABCDEFGH", value: str = "0.1"
) -> list[str]:
    """A grid block as text lines: optional label line, header, one line per row letter."""
    lines = [label] if label else []
    lines.append(HEADER.replace(",", sep))
    lines += [sep.join([r] + [value] * 12) for r in rows]
    return lines


def write(tmp_path: Path, lines: list[str], name: str = "plate.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_two_labelled_blocks_give_one_plate_with_reads_450_and_570() -> None:
    export = read_export(FIXTURES / "grid_450_570.csv")
    assert export.format == "grid"
    (plate,) = export.plates
    assert plate.id == "grid_450_570"  # the file's stem
    assert list(plate.reads) == ["450", "570"]
    assert all(len(g) == 96 for g in plate.reads.values())
    assert plate.reads["450"]["A2"] == 2.945
    assert plate.reads["570"]["A1"] == 0.041


def test_token_in_a_grid_is_kept_as_a_token() -> None:
    plate = read_export(FIXTURES / "grid_450_570.csv").plates[0]
    assert plate.reads["450"]["A1"] == Token(SATURATED, "OVER")


def test_empty_cell_is_a_well_without_value() -> None:
    plate = read_export(FIXTURES / "grid_450_570.csv").plates[0]
    assert plate.reads["570"]["H12"] is None


def test_xlsx_grid_reads_the_same_as_its_csv() -> None:
    from_csv = read_export(FIXTURES / "grid_450_570.csv").plates[0]
    from_xlsx = read_export(FIXTURES / "grid_450_570.xlsx")
    assert from_xlsx.format == "grid"
    assert from_xlsx.plates[0].reads == from_csv.reads


def test_semicolon_grid_with_decimal_commas_is_read() -> None:
    plate = read_export(FIXTURES / "grid_semicolon.csv").plates[0]
    assert plate.reads["OD"]["A1"] == 0.041
    assert plate.reads["OD"]["H12"] is None


def test_single_unlabelled_block_is_labelled_od() -> None:
    plate = read_export(FIXTURES / "grid_semicolon.csv").plates[0]
    assert list(plate.reads) == ["OD"]


def test_grid_with_seven_rows_is_refused_naming_the_rows() -> None:
    with pytest.raises(InputError) as info:
        read_export(FIXTURES / "grid_not_8x12.csv")
    assert info.value.message == "grid is not 8x12: found rows A-G"
    assert info.value.where == "line 2"
    assert str(info.value).endswith("grid_not_8x12.csv, line 2: grid is not 8x12: found rows A-G")


def test_grid_with_eleven_columns_is_refused_naming_the_columns(tmp_path: Path) -> None:
    lines = ["450", HEADER[: HEADER.rindex(",")]] + [
        ",".join([r] + ["0.1"] * 11) for r in "ABCDEFGH"
    ]
    with pytest.raises(InputError, match=r"grid is not 8x12: found columns 1-11"):
        read_export(write(tmp_path, lines))


def test_value_right_of_column_12_is_refused(tmp_path: Path) -> None:
    lines = block()
    lines[3] += ",0.5"  # row B has a 13th value
    with pytest.raises(InputError, match=r"value '0.5' right of column 12 in row B"):
        read_export(write(tmp_path, lines))


def test_unknown_word_in_a_grid_names_the_well_and_the_cell() -> None:
    with pytest.raises(InputError) as info:
        read_export(FIXTURES / "grid_bad_token.csv")
    assert info.value.where == "line 5, field 8"
    assert info.value.message.startswith("well C7: unknown reading 'oops'")


def test_unknown_word_in_an_xlsx_grid_names_the_sheet_cell(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Plate 1"
    for line in block():
        ws.append([c for c in line.split(",")])
    ws["H5"] = "oops"  # row C, column 7
    wb.save(tmp_path / "bad.xlsx")
    with pytest.raises(InputError) as info:
        read_export(tmp_path / "bad.xlsx")
    assert info.value.where == "sheet 'Plate 1' H5"
    assert info.value.message.startswith("well C7: unknown reading 'oops'")


def test_two_blocks_with_the_same_label_are_refused(tmp_path: Path) -> None:
    lines = [*block("450 nm"), "", *block("Read 450 nm")]
    with pytest.raises(InputError) as info:
        read_export(write(tmp_path, lines))
    assert info.value.message == "two grids labelled '450' (the first at line 2)"
    assert info.value.where == "line 13"


def test_several_blocks_must_all_be_labelled(tmp_path: Path) -> None:
    lines = [*block("450"), "", *block(None)]
    with pytest.raises(InputError, match="2 grids in the file but this one has no wavelength"):
        read_export(write(tmp_path, lines))


def test_file_without_a_grid_is_refused(tmp_path: Path) -> None:
    source = Source(write(tmp_path, ["sample,od", "S1,0.1"]))
    with pytest.raises(InputError, match="no 8x12 grid found"):
        grid.read(source)


@pytest.mark.parametrize("label", ["450", "450 nm", "450nm", "Read 450 nm", "OD 450", "Abs: 450"])
def test_wavelength_label_forms_give_the_digits(tmp_path: Path, label: str) -> None:
    plate = read_export(write(tmp_path, block(label, sep="\t"), "plate.txt")).plates[0]
    assert list(plate.reads) == ["450"]


def test_label_in_the_corner_cell_is_used(tmp_path: Path) -> None:
    lines = block(None)
    lines[0] = "450 nm" + lines[0]
    assert list(read_export(write(tmp_path, lines)).plates[0].reads) == ["450"]


def test_tab_separated_grid_with_quotes_and_crlf(tmp_path: Path) -> None:
    lines = [line.replace("0.1", '"0.1"') for line in block("570", sep="\t")]
    path = tmp_path / "plate.tsv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    plate = read_export(path).plates[0]
    assert plate.reads["570"]["H12"] == 0.1


def test_missing_tokens_in_a_grid(tmp_path: Path) -> None:
    lines = block()
    lines[2] = lines[2].replace("0.1", "MISSED", 1)
    assert read_export(write(tmp_path, lines)).plates[0].reads["450"]["A1"] == Token(
        MISSING, "MISSED"
    )


def test_xlsx_block_without_label_line_takes_a_wavelength_sheet_name(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "570"
    for line in block(None):
        wb.active.append(line.split(","))
    wb.save(tmp_path / "plate.xlsx")
    assert list(read_export(tmp_path / "plate.xlsx").plates[0].reads) == ["570"]


def test_truncated_xlsx_is_refused_as_unreadable_workbook(tmp_path: Path) -> None:
    data = (FIXTURES / "grid_450_570.xlsx").read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a readable XLSX workbook"):
        read_export(path)
    with pytest.raises(InputError, match="not a readable XLSX workbook"):
        grid.read(Source(path))


@pytest.mark.parametrize(
    "name", ["grid_450_570.csv", "grid_450_570.xlsx", "grid_semicolon.csv", "grid_bad_token.csv"]
)
def test_detect_picks_grid_for_grid_fixtures(name: str) -> None:
    assert detect(Source(FIXTURES / name)) is grid


@pytest.mark.parametrize("name", ["gen5_450_570.txt", "gen5_plate.xlsx"])
def test_grid_does_not_claim_gen5_fixtures(name: str) -> None:
    verdict = grid.sniff(Source(FIXTURES / name))
    assert not verdict.ok
    assert "Gen5" in verdict.reason


@needs_shared
def test_grid_does_not_claim_any_reference_export() -> None:
    # Gen5 exports contain 1..12 grids too; so do BMG, Kaleido and SkanIt
    # exports. Those belong to their vendors' readers, each with a reason.
    for path in sorted(EXPORTS.glob("*.*")):
        if path.suffix in (".md",) or path.name.startswith("LICENSE"):
            continue
        verdict = grid.sniff(Source(path))
        assert not verdict.ok, path.name
        assert verdict.reason, path.name
