"""The Tecan Magellan reader: real exports well by well against the oracle, and synthetic cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import SATURATED, Plate, Token
from il6assay.plate.readers import Source, detect, read_export, tecan
from il6assay.plate.readers.tecan import KINETIC_ERROR
from tests.conftest import needs_shared
from tests.reference import EXPORTS, expected_reads

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
OURS = ["tecan_magellan_elisa.xlsx", "tecan_magellan_od.xlsx"]
FIXTURE_FILES = [
    "tecan_magellan_od450.xlsx",
    "tecan_magellan_450_570.xlsx",
    "tecan_magellan_compact_384.xlsx",
    "tecan_magellan_kinetic.xlsx",
]
# Reads and plate size we return for each reference export.
READS = {"tecan_magellan_elisa.xlsx": ["485", "560"], "tecan_magellan_od.xlsx": ["595"]}
SIZE = {"tecan_magellan_elisa.xlsx": (16, 24), "tecan_magellan_od.xlsx": (8, 12)}
# The oracle names a plate without a plate ID after its plate definition file
# ("COS384ft", Corning 384 flat transparent): that is the plate *type*, not an
# ID. The file names no plate, so we use the file's stem, as the Gen5 reader
# does, and keep the definition file as metadata["plate_type"].
PLATE_ID = {
    "tecan_magellan_elisa.xlsx": ("tecan_magellan_elisa", "COS384ft"),
    "tecan_magellan_od.xlsx": ("96WEL008", "96WEL008"),
}


def as_oracle(value: object) -> object:
    """Our reading in the oracle's terms: the float, the printed token, or None."""
    return value.token if isinstance(value, Token) else value


def read_shared(name: str) -> list[Plate]:
    return read_export(EXPORTS / name).plates


# --- the real exports, well by well -------------------------------------------------------


@needs_shared
@pytest.mark.parametrize("name", OURS)
def test_magellan_export_matches_the_oracle_well_by_well(name: str) -> None:
    expected = expected_reads(name)
    (plate,) = read_shared(name)
    ours, oracle_id = PLATE_ID[name]
    assert plate.id == ours
    assert {p for p, _ in expected} == {oracle_id}
    assert list(plate.reads) == READS[name]
    assert (plate.rows, plate.cols) == SIZE[name]
    for label, wells in plate.reads.items():
        oracle = expected[(oracle_id, label)]
        assert len(wells) == plate.size
        assert set(wells) == set(oracle)  # every well of the plate, both ways
        for well, value in wells.items():
            want = oracle[well]
            assert as_oracle(value) == want, f"{name} {label} {well}"
            assert isinstance(value, float)


@needs_shared
def test_magellan_384_plate_is_16x24() -> None:
    (plate,) = read_shared("tecan_magellan_elisa.xlsx")
    assert (plate.rows, plate.cols) == (16, 24)
    assert plate.reads["485"]["P24"] == 0.0356
    assert plate.reads["560"]["P24"] == 0.05
    assert plate.reads["485"]["A13"] == 0.3557


@needs_shared
def test_magellan_metadata_from_the_lines_below_the_table() -> None:
    (plate,) = read_shared("tecan_magellan_elisa.xlsx")
    meta = plate.metadata
    assert meta["software"] == "Magellan"
    assert meta["reader_type"] == "ULTRA"
    assert meta["reader_serial"] == "12901000069"
    assert meta["user"] == "Unknown user"
    assert meta["plate_type"] == "COS384ft.pdf"
    assert meta["wavelengths"] == [485, 560]
    assert meta["temperature"] == {"485": 24.8, "560": 25.1}
    assert (meta["date"], meta["time"]) == ("2021-07-08", "14:34:46")
    assert meta["read_datetime"] == "2021-07-08T14:34:46"
    assert meta["method_file"].endswith(r"mth\_Ali\210325_384ELISA.mth")
    assert meta["workspace_file"].endswith(r"wsp\08072021-005.wsp")
    assert [m["Measurement wavelength"] for m in meta["measurements"]] == ["485 nm", "560 nm"]


@needs_shared
def test_magellan_plate_id_written_on_some_rows_applies_to_the_rest() -> None:
    # The Plate column holds 96WEL008 on A1-E6 only; F6-H12 are the same plate.
    (plate,) = read_shared("tecan_magellan_od.xlsx")
    assert plate.id == plate.metadata["plate_id"] == "96WEL008"
    assert plate.reads["595"]["H12"] == 0.0461
    assert plate.metadata["plate_type"] == "GRE96ft.pdf"
    assert plate.metadata["temperature"] == {"595": 23.4}
    assert plate.metadata["read_datetime"] == "2021-07-06T09:43:07"


# --- the synthetic fixtures ----------------------------------------------------------------


def test_magellan_over_is_saturated() -> None:
    (plate,) = read_export(FIXTURES / "tecan_magellan_od450.xlsx").plates
    assert plate.id == "IL6-P01"  # written on the first 45 rows only
    assert plate.reads["450"]["A1"] == Token(SATURATED, "OVER")
    assert plate.reads["450"]["A2"] == 2.945
    assert plate.reads["450"]["H12"] is not None


def test_magellan_read_time_is_the_measurement_not_the_report_line() -> None:
    meta = read_export(FIXTURES / "tecan_magellan_od450.xlsx").plates[0].metadata
    assert meta["read_datetime"] == "2024-04-15T10:05:00"
    assert meta["report_datetime"] == "Date: 2024-04-16, Time: 08:00:00"
    assert (meta["reader_type"], meta["reader_serial"]) == ("Sunrise", "1234567890")


def test_magellan_two_labels_before_well_positions_with_hints() -> None:
    (plate,) = read_export(FIXTURES / "tecan_magellan_450_570.xlsx").plates
    assert plate.id == "tecan_magellan_450_570"  # no plate ID in the file
    assert list(plate.reads) == ["450", "570"]
    assert plate.reads["450"]["A3"] == 1.19
    assert plate.reads["570"]["A1"] == 0.041
    assert plate.reads["570"]["H12"] is None
    assert plate.metadata["skipped"] == ["Mean"]
    assert plate.metadata["temperature"] == {"450": 21.9, "570": 22.0}


def test_magellan_label_hint_beats_column_order(tmp_path: Path) -> None:
    # Swap the hints: Label1 is then 570 nm, whatever the settings blocks say.
    from openpyxl import load_workbook

    wb = load_workbook(FIXTURES / "tecan_magellan_450_570.xlsx")
    ws = wb.active
    ws["E1"], ws["E2"] = "Label1=570", "Label2=450"
    wb.save(tmp_path / "swapped.xlsx")
    plate = read_export(tmp_path / "swapped.xlsx").plates[0]
    assert plate.reads["570"]["A3"] == 1.19


def test_magellan_pro_75_compact_metadata() -> None:
    # allotropy#1258: no Unit, flashes or Meas. temperature lines.
    (plate,) = read_export(FIXTURES / "tecan_magellan_compact_384.xlsx").plates
    meta = plate.metadata
    assert plate.id == meta["plate_description"] == "IL6 plate 3"
    assert (plate.rows, plate.cols) == (16, 24)
    assert list(plate.reads) == ["450"]
    assert plate.reads["450"]["P24"] is not None
    assert meta["temperature"] == {"450": 23.1}  # from the table's temperature row
    assert meta["software_version"] == "7.5"
    assert meta["reader_type"] == "Infinite 200 PRO"
    assert meta["settings"]["Range"] == "A1-P24"
    assert meta["read_datetime"] == "2025-11-03T16:45:10"


def test_magellan_kinetic_export_is_refused() -> None:
    with pytest.raises(InputError) as info:
        read_export(FIXTURES / "tecan_magellan_kinetic.xlsx")
    assert info.value.message.startswith(KINETIC_ERROR)
    assert info.value.where == "sheet 'Magellan Sheet 1' B1"


def test_magellan_cycle_time_other_than_zero_is_kinetic(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(FIXTURES / "tecan_magellan_450_570.xlsx")
    wb.active["B2"] = "30s"
    wb.save(tmp_path / "k.xlsx")
    with pytest.raises(InputError, match="kinetic read") as info:
        read_export(tmp_path / "k.xlsx")
    assert info.value.where == "sheet 'Magellan Sheet 1' B2"


def test_magellan_fluorescence_without_its_wavelengths_is_read_as_fl(tmp_path: Path) -> None:
    # The mode changed, the settings still name only a measurement wavelength.
    from openpyxl import load_workbook

    wb = load_workbook(FIXTURES / "tecan_magellan_od450.xlsx")
    ws = wb.active
    for row in ws.iter_rows(min_col=1, max_col=1):
        if row[0].value == "Measurement mode: Absorbance":
            row[0].value = "Measurement mode: Fluorescence Top Reading"
    wb.save(tmp_path / "fl.xlsx")
    (plate,) = read_export(tmp_path / "fl.xlsx").plates
    assert list(plate.reads) == ["fl"]


def test_magellan_unknown_word_names_the_well_and_the_cell(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(FIXTURES / "tecan_magellan_od450.xlsx")
    wb.active["A4"] = "oops"  # C1
    wb.save(tmp_path / "bad.xlsx")
    with pytest.raises(InputError) as info:
        read_export(tmp_path / "bad.xlsx")
    assert info.value.message.startswith("well C1: unknown reading 'oops'")
    assert info.value.where == "sheet 'Magellan Sheet 1' A4"


def test_magellan_sheet_without_well_positions_says_how_to_export(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(FIXTURES / "tecan_magellan_od450.xlsx")
    wb.active["B1"] = "Wells"
    wb.save(tmp_path / "nowells.xlsx")
    with pytest.raises(InputError, match="no 'Well positions' column in any sheet: export"):
        read_export(tmp_path / "nowells.xlsx")


# --- sniffing -------------------------------------------------------------------------------


def _all_files() -> list[Path]:
    files = sorted(p for p in FIXTURES.iterdir() if p.is_file())
    if EXPORTS.is_dir():
        files += sorted(p for p in EXPORTS.iterdir() if p.is_file())
    return files


def test_tecan_sniff_claims_only_tecan_files() -> None:
    for path in _all_files():
        mine = path.name.startswith("tecan_") and path.suffix == ".xlsx"
        assert tecan.sniff(Source(path)).ok == mine, path.name


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_detect_picks_tecan_for_tecan_fixtures(name: str) -> None:
    assert detect(Source(FIXTURES / name)).NAME == "tecan"


@needs_shared
@pytest.mark.parametrize("name", OURS)
def test_detect_picks_tecan_for_magellan_reference_exports(name: str) -> None:
    assert detect(Source(EXPORTS / name)).NAME == "tecan"


def test_magellan_fluorescence_measurement_is_labelled_by_excitation_and_emission(
    tmp_path: Path,
) -> None:
    # Measurement 1 made a fluorescence read (Magellan's settings block names
    # its excitation and emission); measurement 2 stays absorbance at 570.
    from openpyxl import load_workbook

    wb = load_workbook(FIXTURES / "tecan_magellan_450_570.xlsx")
    ws = wb.active
    ws["A109"] = "Measurement mode: Fluorescence Top Reading"
    ws["A110"] = "Excitation wavelength: 485 nm"
    ws["A111"] = "Emission wavelength: 535 nm"
    wb.save(tmp_path / "fl.xlsx")
    (plate,) = read_export(tmp_path / "fl.xlsx").plates
    assert list(plate.reads) == ["fl 485/535", "570"]
    assert plate.metadata["wavelengths"] == [570]


def test_magellan_unknown_measurement_mode_is_refused(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(FIXTURES / "tecan_magellan_450_570.xlsx")
    wb.active["A109"] = "Measurement mode: Nephelometry"
    wb.save(tmp_path / "odd.xlsx")
    with pytest.raises(InputError, match="measurement mode 'Nephelometry': not one il6assay reads"):
        read_export(tmp_path / "odd.xlsx")
