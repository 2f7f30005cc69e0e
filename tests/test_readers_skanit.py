"""The Thermo SkanIt reader: real exports well by well against the oracle, and synthetic cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import Plate
from il6assay.plate.readers import Source, detect, read_export, skanit
from tests.conftest import needs_shared
from tests.reference import EXPORTS, expected_reads

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
OURS = ["skanit_data.xlsx", "skanit_multi_plate.xlsx"]
FIXTURE_FILES = [
    "skanit_450.xlsx",
    "skanit_duplicate_names.xlsx",
    "skanit_384.xlsx",
    "skanit_luminescence.xlsx",
]


def read_shared(name: str) -> list[Plate]:
    return read_export(EXPORTS / name).plates


def write_edited(tmp_path: Path, name: str, sheet: str, cells: dict[str, object]) -> Path:
    """A copy of fixture ``name`` with ``cells`` of ``sheet`` changed, in tmp_path."""
    from openpyxl import load_workbook

    wb = load_workbook(FIXTURES / name)
    for ref, value in cells.items():
        wb[sheet][ref] = value
    path = tmp_path / name
    wb.save(path)
    return path


# --- the real exports, well by well -------------------------------------------------------


@needs_shared
@pytest.mark.parametrize("name", OURS)
def test_skanit_export_matches_the_oracle_well_by_well(name: str) -> None:
    # The oracle lists only the wells SkanIt read (32 of 96 on most plates of
    # the multi-plate file); the others are in our grids with no value.
    expected = expected_reads(name)
    plates = read_shared(name)
    assert {(p.id, label) for p in plates for label in p.reads} == set(expected)
    for plate in plates:
        assert (plate.rows, plate.cols) == (8, 12)
        for label, wells in plate.reads.items():
            oracle = expected[(plate.id, label)]
            assert len(wells) == 96
            for well, value in wells.items():
                if well in oracle:
                    assert isinstance(value, float)
                    assert value == oracle[well], f"{name} {plate.id} {label} {well}"
                else:
                    assert value is None, f"{name} {plate.id} {label} {well}"


@needs_shared
def test_skanit_reads_the_raw_abs_grid_not_skanits_calculations() -> None:
    (plate,) = read_shared("skanit_data.xlsx")
    assert list(plate.reads) == ["450"]
    assert plate.reads["450"]["A1"] == 1.7455  # raw; blank-subtracted is 1.655
    assert plate.metadata["skipped"] == [
        "Blank Subtraction 1_02",
        "Standard Curve 1_03",
        "Dilution Factor 1_04",
    ]


@needs_shared
def test_skanit_multi_plate_keeps_file_order_and_both_wavelengths() -> None:
    plates = read_shared("skanit_multi_plate.xlsx")
    assert [p.id for p in plates] == ["Plate 1", "Plate 2", "Plate 3", "Plate 4", "Plate 5"]
    for p in plates:
        assert list(p.reads) == ["214", "280"]
        assert p.metadata["wavelengths"] == [214, 280]
    assert plates[0].reads["214"]["B2"] == 2.0
    assert plates[0].reads["280"]["B2"] == 0.6
    assert plates[2].reads["214"]["F3"] is None  # plate 3: column 3 stops at E
    assert plates[4].reads["280"]["G2"] is None  # plate 5: rows A-F only


@needs_shared
def test_skanit_metadata() -> None:
    (plate,) = read_shared("skanit_data.xlsx")
    meta = plate.metadata
    assert meta["software"] == "SkanIt Software 7.0 RE for Microplate Readers RE"
    assert meta["software_version"] == "7.0.0.50"
    assert meta["reader_type"] == "Varioskan LUX"
    assert meta["reader_serial"] == "3020-81776"
    assert meta["firmware_version"] == "1.00.38"
    assert meta["plate_name"] == "Plate 1"
    assert meta["plate_type"] == "ANSI/SBS Standard, 96-well"
    assert meta["temperature"] == 23.8
    assert meta["session"] == "5. APOE potency MOA_EB_20230522_003 (1).skax"
    # "6/5/2023 6:09:56 PM": 5 June (US PC) or 6 May? Not guessed.
    assert meta["execution_time"] == "6/5/2023 6:09:56 PM"
    assert meta["read_datetime"] is None


@needs_shared
def test_skanit_execution_time_date_cell_is_unambiguous() -> None:
    meta = read_shared("skanit_multi_plate.xlsx")[0].metadata
    assert meta["read_datetime"] == "2025-06-27T11:00:00"
    assert meta["reader_serial"] == "1234"  # a number cell, shown without ".0"


# --- the synthetic fixtures ----------------------------------------------------------------


def test_skanit_fixture_one_plate_450() -> None:
    export = read_export(FIXTURES / "skanit_450.xlsx")
    assert export.format == "skanit"
    (plate,) = export.plates
    assert plate.id == "Plate 1"
    assert list(plate.reads) == ["450"]
    assert plate.reads["450"]["A3"] == 1.19
    assert plate.reads["450"]["H12"] is None
    assert plate.metadata["skipped"] == ["Blank Subtraction 1_02"]
    assert plate.metadata["read_datetime"] == "2023-06-15T10:05:00"
    assert plate.metadata["temperature"] == 24.1  # the run log's 0.0 °C is ignored


def test_skanit_duplicate_plate_names_do_not_overwrite() -> None:
    plates = read_export(FIXTURES / "skanit_duplicate_names.xlsx").plates
    assert [p.id for p in plates] == ["Plate 1", "Plate 1 (2)", "Plate 2"]
    assert [p.metadata["plate_name"] for p in plates] == ["Plate 1", "Plate 1", "Plate 2"]
    assert [p.reads["450"]["A3"] for p in plates] == [1.19, 1.69, 2.19]
    assert [p.reads["570"]["A1"] for p in plates] == [0.041, 0.541, 1.041]
    assert plates[0].metadata["read_datetime"] == "2023-06-05T18:09:56"


def test_skanit_384_plate_is_16x24() -> None:
    (plate,) = read_export(FIXTURES / "skanit_384.xlsx").plates
    assert (plate.rows, plate.cols) == (16, 24)
    assert len(plate.reads["450"]) == 384
    assert all(v is not None for v in plate.reads["450"].values())
    assert plate.metadata["read_datetime"] is None  # 6/5/2023: ambiguous


def test_skanit_luminescence_grid_is_read_as_lum() -> None:
    # Corner "RLU", "Wavelength: 0 nm" (no filter): one luminescence read.
    (plate,) = read_export(FIXTURES / "skanit_luminescence.xlsx").plates
    assert list(plate.reads) == ["lum"]
    assert plate.reads["lum"]["A1"] == 2.945
    assert plate.metadata["wavelengths"] == []


def test_skanit_fluorescence_grid_is_labelled_with_excitation_and_emission(
    tmp_path: Path,
) -> None:
    path = write_edited(
        tmp_path,
        "skanit_luminescence.xlsx",
        "Luminescence 1_01",
        {"A5": "Fluorescence 1", "A6": "Wavelengths: 485 / 535 nm", "A10": "RFU"},
    )
    (plate,) = read_export(path).plates
    assert list(plate.reads) == ["fl 485/535"]
    other = write_edited(
        tmp_path,
        "skanit_luminescence.xlsx",
        "Luminescence 1_01",
        {"A5": "Fluorescence 1", "A6": "Wavelength: Ex 485 nm, Em 535 nm", "A10": "RFU"},
    )
    assert list(read_export(other).plates[0].reads) == ["fl 485/535"]


def test_skanit_kinetic_step_is_refused(tmp_path: Path) -> None:
    path = write_edited(tmp_path, "skanit_450.xlsx", "Absorbance 1_01", {"A5": "Kinetic loop 1"})
    with pytest.raises(InputError, match="kinetic or spectral absorbance step") as info:
        read_export(path)
    assert info.value.where == "sheet 'Absorbance 1_01' A5"


def test_skanit_unknown_word_names_the_well_and_the_cell(tmp_path: Path) -> None:
    path = write_edited(tmp_path, "skanit_450.xlsx", "Absorbance 1_01", {"D12": "oops"})
    with pytest.raises(InputError) as info:
        read_export(path)
    assert info.value.message.startswith("well B3: unknown reading 'oops'")
    assert info.value.where == "sheet 'Absorbance 1_01' D12"


def test_skanit_over_token_is_saturated(tmp_path: Path) -> None:
    from il6assay.plate.export import SATURATED, Token

    path = write_edited(tmp_path, "skanit_450.xlsx", "Absorbance 1_01", {"B11": "OVER"})
    plate = read_export(path).plates[0]
    assert plate.reads["450"]["A1"] == Token(SATURATED, "OVER")


def test_skanit_short_grid_is_refused(tmp_path: Path) -> None:
    path = write_edited(tmp_path, "skanit_450.xlsx", "Absorbance 1_01", {"A18": "X"})
    with pytest.raises(InputError, match="grid is 7x12") as info:
        read_export(path)
    assert info.value.where == "sheet 'Absorbance 1_01' row 10"


# --- sniffing -------------------------------------------------------------------------------


def _all_files() -> list[Path]:
    files = sorted(p for p in FIXTURES.iterdir() if p.is_file())
    if EXPORTS.is_dir():
        files += sorted(p for p in EXPORTS.iterdir() if p.is_file())
    return files


def test_skanit_sniff_claims_only_skanit_files() -> None:
    for path in _all_files():
        mine = path.name.startswith("skanit_") and path.suffix == ".xlsx"
        assert skanit.sniff(Source(path)).ok == mine, path.name


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_detect_picks_skanit_for_skanit_fixtures(name: str) -> None:
    assert detect(Source(FIXTURES / name)).NAME == "skanit"


@needs_shared
@pytest.mark.parametrize("name", OURS)
def test_detect_picks_skanit_for_skanit_reference_exports(name: str) -> None:
    assert detect(Source(EXPORTS / name)).NAME == "skanit"
