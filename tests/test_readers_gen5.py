"""The Gen5 reader: real Gen5 exports well by well against the oracle, and synthetic edge cases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import MISSING, SATURATED, Plate, Token
from il6assay.plate.readers import Source, detect, gen5, grid, read_export
from il6assay.plate.readers.gen5 import KINETIC_ERROR, iso_datetime
from tests.reference import EXPORTS, expected_reads, gen5_exports, needs_shared

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
GEN5_TXT = FIXTURES / "gen5_450_570.txt"

# Endpoint exports and the reads we return for each (every read of every
# file against the oracle: tests/test_readers_every_export.py).
ENDPOINT = {
    "gen5_abs450_ovrflw_missed.txt": ["450"],
    "gen5_abs630_stdcurve.txt": ["630"],
    "gen5_abs_wavelength_labels.txt": ["280", "325"],
    "gen5_multiple_read_modes.txt": ["600", "fl 579/616", "fl 479/520"],
}
KINETIC = "gen5_kinetic_growth_curve.txt"


def read_shared(name: str) -> list[Plate]:
    return read_export(EXPORTS / name).plates


def as_oracle(value: object) -> object:
    """Our reading in the oracle's terms: the float, the printed token, or None."""
    return value.token if isinstance(value, Token) else value


def gen5_variant(tmp_path: Path, edit: Callable[[str], str], name: str = "variant.txt") -> Path:
    """The synthetic Gen5 text fixture with ``edit(text) -> text`` applied, in tmp_path."""
    path = tmp_path / name
    path.write_bytes(edit(GEN5_TXT.read_bytes().decode()).encode())
    return path


# --- the real exports, well by well -------------------------------------------------------


@needs_shared
def test_every_gen5_reference_export_is_covered() -> None:
    assert set(gen5_exports()) == {*ENDPOINT, KINETIC}


@needs_shared
@pytest.mark.parametrize("name", sorted(ENDPOINT))
def test_gen5_export_matches_the_oracle_well_by_well(name: str) -> None:
    # For every endpoint export the oracle and the file agree on the raw
    # absorbance reads; checked here for every one of the 96 wells.
    expected = expected_reads(name)
    (plate,) = read_shared(name)
    assert list(plate.reads) == ENDPOINT[name]
    for label, wells in plate.reads.items():
        if label.startswith("fl "):
            continue  # two filter sets under one oracle read: compared in order elsewhere
        oracle = expected[(plate.id, label)]
        assert set(wells) == set(oracle)
        for well, value in wells.items():
            want = oracle[well]
            assert as_oracle(value) == want, f"{name} {label} {well}"
            if isinstance(want, float):
                assert isinstance(value, float)


@needs_shared
def test_ovrflw_well_is_saturated_not_missing() -> None:
    (plate,) = read_shared("gen5_abs450_ovrflw_missed.txt")
    read = plate.reads["450"]
    assert read["A8"] == Token(SATURATED, "OVRFLW")
    assert read["H1"] == Token(SATURATED, "OVRFLW")
    assert read["D12"] == Token(MISSING, "MISSED")
    tokens = [v for v in read.values() if isinstance(v, Token)]
    assert sum(t.status == SATURATED for t in tokens) == 8
    assert sum(t.status == MISSING for t in tokens) == 5


@needs_shared
def test_kinetic_export_is_refused() -> None:
    # The oracle lists this file as plate "Plate 2", read "?", 24 wells and no
    # values; the file holds a 600 nm kinetic run over A1-D6 (999 reads every
    # 4 min) and kinetic fit results (Max V, Lagtime). Neither is an endpoint
    # OD, so we refuse it, at the "Start Kinetic" line.
    with pytest.raises(InputError) as info:
        read_export(EXPORTS / KINETIC)
    assert info.value.message == KINETIC_ERROR
    assert info.value.message.startswith(
        "kinetic read: il6assay reads endpoint plates; export the endpoint read"
    )
    assert info.value.where == "line 24"
    assert info.value.path == str(EXPORTS / KINETIC)


@needs_shared
def test_each_line_label_decides_the_read_not_line_order() -> None:
    # Row B of this file lists 325 before 280; every other row 280 first.
    (plate,) = read_shared("gen5_abs_wavelength_labels.txt")
    assert plate.reads["325"]["B1"] == 1.6629
    assert plate.reads["280"]["B1"] == 1.0033
    assert plate.reads["280"]["A1"] == 1.8012
    assert plate.reads["325"]["A1"] == 0.9066


@needs_shared
def test_gen5_computed_rows_are_skipped_and_listed() -> None:
    (plate,) = read_shared("gen5_abs630_stdcurve.txt")
    assert plate.reads["630"]["A1"] == 3.337  # raw, not the blanked 3.336 below it
    assert plate.reads["630"]["H1"] == 0.001  # the blanked line says -0.000
    assert plate.metadata["skipped"] == [
        "Well ID",
        "Conc/Dil",
        "Blank 630nmAbsRead:630",
        "[Concentration]",
    ]


@needs_shared
def test_multiple_read_modes_yield_every_read_labelled_by_mode_and_optics() -> None:
    # The oracle folds both fluorescence filter sets into one "fluorescence"
    # read with two values per well; the file labels them fluor:579,616 and
    # fluor:479,520: two reads, excitation/emission in the label.
    (plate,) = read_shared("gen5_multiple_read_modes.txt")
    assert list(plate.reads) == ["600", "fl 579/616", "fl 479/520"]
    assert plate.reads["600"]["B1"] == 0.124
    assert plate.metadata["skipped"] == []
    assert plate.metadata["wavelengths"] == [600]
    modes = [r["mode"] for r in plate.metadata["reads"]]
    assert modes == ["absorbance", "fluorescence", "fluorescence"]
    assert plate.metadata["reads"][1]["excitation_nm"] == 579
    modes = {s["name"]: s["mode"] for s in plate.metadata["read_steps"]}
    assert modes == {"od": "Absorbance Endpoint", "fluor": "Fluorescence Endpoint"}


@needs_shared
def test_gen5_metadata_keeps_raw_strings() -> None:
    (plate,) = read_shared("gen5_abs450_ovrflw_missed.txt")
    meta = plate.metadata
    assert plate.id == meta["plate_number"] == "Plate 1"
    assert meta["software"] == "Gen5"
    assert meta["software_version"] == "3.12.08"
    assert meta["reader_type"] == "Synergy H1"
    assert meta["reader_serial"] == "Unknown"
    assert meta["reading_type"] == "Simulation"
    assert meta["plate_type"] == "96 WELL PLATE (Use plate lid)"
    assert meta["protocol_file"].endswith(r"Protocols\20240411_abs450_96well.prt")
    assert meta["experiment_file"] == ""
    assert meta["wavelengths"] == [450]
    assert (meta["date"], meta["time"]) == ("4/11/2024", "5:27:15 PM")


@needs_shared
def test_ambiguous_gen5_date_is_not_guessed() -> None:
    # 4/11/2024: 11 April (US PC) or 4 November (European PC)?
    assert read_shared("gen5_abs450_ovrflw_missed.txt")[0].metadata["read_datetime"] is None
    # 01/02/2025 likewise.
    assert read_shared("gen5_abs_wavelength_labels.txt")[0].metadata["read_datetime"] is None


@needs_shared
def test_unambiguous_gen5_date_gets_iso_datetime() -> None:
    # 10/10/2022 is the same date in either order.
    meta = read_shared("gen5_abs630_stdcurve.txt")[0].metadata
    assert meta["read_datetime"] == "2022-10-10T21:00:04"


@pytest.mark.parametrize(
    ("date", "time", "iso"),
    [
        ("4/11/2024", "5:27:15 PM", None),
        ("9/15/2023", "12:30:01 PM", "2023-09-15T12:30:01"),
        ("15/09/2023", "12:30", "2023-09-15T12:30:00"),
        ("15.09.2023", "00:05:00", "2023-09-15T00:05:00"),
        ("2024-04-11", "17:27:15", "2024-04-11T17:27:15"),
        ("10/10/2022", "12:00:04 AM", "2022-10-10T00:00:04"),
        ("4/15/24", "10:00", None),  # two-digit year: not guessed either
        ("2/30/2024", "10:00", None),  # no such day
        ("9/15/2023", "", None),
    ],
)
def test_iso_datetime_only_when_unambiguous(date: str, time: str, iso: str | None) -> None:
    assert iso_datetime(date, time) == iso


# --- the synthetic fixtures ----------------------------------------------------------------


def test_gen5_text_fixture_with_crlf_quotes_and_trailing_tabs() -> None:
    export = read_export(GEN5_TXT)
    assert export.format == "gen5"
    (plate,) = export.plates
    assert list(plate.reads) == ["450", "570"]
    assert plate.reads["450"]["A1"] == Token(SATURATED, "OVRFLW")
    assert plate.reads["450"]["A2"] == 2.945
    assert plate.reads["570"]["A1"] == 0.041
    assert plate.reads["570"]["D12"] == Token(MISSING, "MISSED")
    assert plate.metadata["reader_type"] == "Synergy H1"  # was a quoted field
    assert plate.metadata["read_datetime"] == "2024-04-15T10:05:00"
    assert plate.metadata["wavelengths"] == [450, 570]


def test_gen5_xlsx_reads_the_same_as_the_text_export() -> None:
    text = read_export(GEN5_TXT).plates[0]
    export = read_export(FIXTURES / "gen5_plate.xlsx")
    assert export.format == "gen5"
    (plate,) = export.plates
    assert plate.id == "Plate 1"
    assert plate.reads == text.reads
    assert plate.metadata["read_datetime"] == "2024-04-15T10:05:00"  # from a real date cell
    assert plate.metadata["software_version"] == "3.12.08"


def test_gen5_xlsx_laid_out_from_column_b(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(FIXTURES / "gen5_plate.xlsx")
    wb.active.insert_cols(1)
    wb.save(tmp_path / "shifted.xlsx")
    plate = read_export(tmp_path / "shifted.xlsx").plates[0]
    assert plate.reads == read_export(GEN5_TXT).plates[0].reads


def test_gen5_file_with_two_plates_gives_two_plates(tmp_path: Path) -> None:
    def twice(text: str) -> str:
        return text + text.replace('"Plate 1"', '"Plate 2"').replace("2.945", "1.111")

    plates = read_export(gen5_variant(tmp_path, twice)).plates
    assert [p.id for p in plates] == ["Plate 1", "Plate 2"]
    assert plates[0].reads["450"]["A2"] == 2.945
    assert plates[1].reads["450"]["A2"] == 1.111
    assert plates[1].metadata["software_version"] == "3.12.08"


def test_gen5_decimal_commas_are_read(tmp_path: Path) -> None:
    def commas(text: str) -> str:
        head, results = text.split("Results")
        return head + "Results" + results.replace(".", ",")

    plate = read_export(gen5_variant(tmp_path, commas)).plates[0]
    assert plate.reads == read_export(GEN5_TXT).plates[0].reads


def test_gen5_fluorescence_step_is_read_with_its_mode(tmp_path: Path) -> None:
    def fluor(text: str) -> str:
        return text.replace("Absorbance Endpoint", "Fluorescence Endpoint")

    (plate,) = read_export(gen5_variant(tmp_path, fluor)).plates
    assert list(plate.reads) == ["fl 450", "fl 570"]


def test_gen5_spectrum_only_export_is_refused(tmp_path: Path) -> None:
    def spectrum(text: str) -> str:
        return text.replace("Absorbance Endpoint", "Absorbance Spectrum")

    with pytest.raises(InputError, match="no endpoint read in this Gen5 export il6assay can use"):
        read_export(gen5_variant(tmp_path, spectrum))


def test_gen5_export_with_only_computed_data_is_refused(tmp_path: Path) -> None:
    def blanked(text: str) -> str:
        return text.replace("\tIL6:", "\tBlank IL6:")

    with pytest.raises(InputError, match="no raw read in the results"):
        read_export(gen5_variant(tmp_path, blanked))


def test_gen5_export_without_results_is_refused(tmp_path: Path) -> None:
    def cut(text: str) -> str:
        return text.split("Results")[0]

    with pytest.raises(InputError, match="no results grid found"):
        read_export(gen5_variant(tmp_path, cut))


def test_gen5_unknown_word_names_the_well_and_the_cell(tmp_path: Path) -> None:
    def bad(text: str) -> str:
        return text.replace("\t0.300\t", "\toops\t", 1)  # A6 at 450

    with pytest.raises(InputError) as info:
        read_export(gen5_variant(tmp_path, bad))
    assert info.value.message.startswith("well A6: unknown reading 'oops'")
    assert info.value.where == "line 26, field 7"


def test_gen5_xpt_binary_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "run.xpt"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    with pytest.raises(InputError, match="export the plate from Gen5 as text or Excel"):
        read_export(path)


# --- sniffing -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gen5_450_570.txt", "gen5_plate.xlsx"])
def test_detect_picks_gen5_for_gen5_fixtures(name: str) -> None:
    assert detect(Source(FIXTURES / name)) is gen5


@needs_shared
@pytest.mark.parametrize("name", [*sorted(ENDPOINT), KINETIC])
def test_detect_picks_gen5_for_every_gen5_reference_export(name: str) -> None:
    assert detect(Source(EXPORTS / name)) is gen5
    assert not grid.sniff(Source(EXPORTS / name)).ok


@pytest.mark.parametrize(
    "name",
    [
        "grid_450_570.csv",
        "grid_450_570.xlsx",
        "grid_semicolon.csv",
        "grid_not_8x12.csv",
        "grid_bad_token.csv",
    ],
)
def test_gen5_does_not_claim_grid_fixtures(name: str) -> None:
    verdict = gen5.sniff(Source(FIXTURES / name))
    assert not verdict.ok
    assert "Software Version" in verdict.reason
