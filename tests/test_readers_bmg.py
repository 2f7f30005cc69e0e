"""The BMG LABTECH MARS reader: real MARS exports well by well against the oracle, and fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import MISSING, SATURATED, Plate, Token
from il6assay.plate.readers import Source, bmg, detect, read_export
from tests.conftest import FIXTURES, needs_shared
from tests.reference import EXPORTS, expected_reads

READER_FIXTURES = FIXTURES / "readers"
DUAL = READER_FIXTURES / "bmg_abs450_620.csv"
SEMICOLON = READER_FIXTURES / "bmg_384_semicolon.csv"
FLUORESCENCE = READER_FIXTURES / "bmg_fluorescence.csv"

# Each reference export: our read label and the oracle's. "Raw Data (450 1)"
# is a 450 nm read (chromatic 1 of the test); allotropy 0.1.150 takes "450 1"
# for an excitation/emission pair and labels the read "1", the emission it
# thinks it found. The file says 450 nm, so we label it "450".
SHARED_BMG = {
    "bmg_mars_abs_384.csv": ("484", "484"),
    "bmg_mars_labtech_format.csv": ("450", "1"),
}


def as_oracle(value: object) -> object:
    """Our reading in the oracle's terms: the float, the printed token, or None."""
    return value.token if isinstance(value, Token) else value


def read_one(path: Path) -> Plate:
    (plate,) = read_export(path).plates
    return plate


def variant(tmp_path: Path, edit: Callable[[str], str], name: str = "variant.csv") -> Path:
    """The dual-read fixture with ``edit(text) -> text`` applied, written to tmp_path."""
    path = tmp_path / name
    path.write_bytes(edit(DUAL.read_bytes().decode()).encode())
    return path


def every_file() -> list[Path]:
    """Every reference export (and its oracle and ASM files) and every repo fixture."""
    files = sorted(p for p in FIXTURES.rglob("*") if p.is_file())
    if EXPORTS.is_dir():
        files += sorted(p for p in EXPORTS.rglob("*") if p.is_file())
    return files


# --- the real exports, well by well -------------------------------------------------------


@needs_shared
@pytest.mark.parametrize("name", sorted(SHARED_BMG))
def test_bmg_export_matches_the_oracle_well_by_well(name: str) -> None:
    ours, theirs = SHARED_BMG[name]
    plate = read_one(EXPORTS / name)
    assert list(plate.reads) == [ours]
    (key,) = expected_reads(name)
    assert key == (plate.id, theirs)
    oracle = expected_reads(name)[key]
    wells = plate.reads[ours]
    assert set(oracle) <= set(wells)
    for well, value in wells.items():
        # The oracle lists only wells with a value; the rest are empty cells.
        want = oracle.get(well)
        assert as_oracle(value) == want, f"{name} {well}"
        if isinstance(want, float):
            assert isinstance(value, float)


@needs_shared
def test_partial_384_well_export_keeps_empty_wells_empty() -> None:
    plate = read_one(EXPORTS / "bmg_mars_abs_384.csv")
    assert (plate.rows, plate.cols) == (16, 24)
    read = plate.reads["484"]
    assert len(read) == 384
    assert sum(v is not None for v in read.values()) == 99
    assert read["A18"] == 0.032 and read["A8"] is None  # gap in row A
    assert all(read[f"J{c}"] is None for c in range(1, 25))  # rows J-N not read
    assert read["P24"] == 0.032


@needs_shared
def test_raw_data_450_1_is_a_450_nm_read_of_chromatic_1() -> None:
    plate = read_one(EXPORTS / "bmg_mars_labtech_format.csv")
    assert list(plate.reads) == ["450"]
    assert plate.metadata["wavelengths"] == [450]
    assert plate.metadata["chromatics"] == {"450": 1}
    assert plate.reads["450"]["A1"] == 0.073
    assert plate.reads["450"]["H12"] == 0.207


@needs_shared
def test_bmg_metadata_of_the_reference_exports() -> None:
    meta = read_one(EXPORTS / "bmg_mars_labtech_format.csv").metadata
    assert meta["software"] == "BMG LABTECH MARS"
    assert (meta["user"], meta["test_run"], meta["test_name"]) == (
        "Discovery",
        "445",
        "xxxxxxxxxxxxx",
    )
    assert (meta["id1"], meta["id2"], meta["id3"]) == (
        "xxxxxxxxxxxxx",
        "Plate 1",
        "xxxxxxx 11/5/21",
    )
    assert (meta["date"], meta["time"]) == ("5/14/2021", "3:29:50 PM")
    assert meta["read_datetime"] == "2021-05-14T15:29:50"  # 14 > 12: month first
    assert meta["read_mode"] == "Absorbance"
    meta = read_one(EXPORTS / "bmg_mars_abs_384.csv").metadata
    assert meta["read_datetime"] == "2016-03-03T16:54:03"  # 03/03: the same either way
    assert meta["path"].endswith(r"BMG\PHERAstar\User\Data")
    assert meta["id1"] == "472-0016"


# --- the synthetic fixtures ----------------------------------------------------------------


def test_two_chromatics_give_two_reads_with_tokens_and_gaps() -> None:
    export = read_export(DUAL)
    assert export.format == "bmg"
    (plate,) = export.plates
    assert plate.id == "IL6-P01"  # ID1
    assert list(plate.reads) == ["450", "620"]
    assert plate.reads["450"]["A1"] == Token(SATURATED, "overflow")
    assert plate.reads["450"]["A2"] == 2.945
    assert plate.reads["620"]["A1"] == 0.041
    assert plate.reads["620"]["H12"] is None
    assert plate.metadata["chromatics"] == {"450": 1, "620": 2}
    assert plate.metadata["test_name"] == "IL6 ELISA"  # "Test  name:" with two spaces
    assert plate.metadata["read_datetime"] == "2024-04-15T10:05:00"


def test_repeated_spaces_in_the_raw_data_line_are_read() -> None:
    # allotropy#1243: PHERAstar writes "Raw Data  (450)"; the fixture has
    # "Raw Data  (450 1)". A single-spaced copy must read the same.
    assert "Raw Data  (450 1)" in DUAL.read_text()
    plate = read_one(DUAL)
    assert plate.reads["450"]["A2"] == 2.945


def test_semicolon_export_with_decimal_commas_384_partial() -> None:
    plate = read_one(SEMICOLON)
    assert (plate.id, plate.rows, plate.cols) == ("IL6-P384", 16, 24)
    read = plate.reads["450"]
    assert read["A1"] == 2.945
    assert read["B24"] == 0.96  # "0,96" in the file
    assert read["A7"] is None and read["I1"] is None
    assert sum(v is not None for v in read.values()) == 120
    assert plate.metadata["read_datetime"] == "2024-04-15T10:05:00"  # 15/04: day first


def test_ambiguous_bmg_date_is_not_guessed(tmp_path: Path) -> None:
    plate = read_one(variant(tmp_path, lambda t: t.replace("4/15/2024", "4/11/2024")))
    assert plate.metadata["date"] == "4/11/2024"
    assert plate.metadata["read_datetime"] is None


def test_fluorescence_export_is_read_with_excitation_and_emission_in_the_label() -> None:
    (plate,) = read_export(FLUORESCENCE).plates
    assert list(plate.reads) == ["fl 485/520"]
    assert plate.reads["fl 485/520"]["A1"] == 20013.0
    assert plate.metadata["wavelengths"] == []


@pytest.mark.parametrize(
    ("mode", "title", "label"),
    [
        ("Luminescence", "Raw Data (Lum)", "lum"),
        ("AlphaScreen", "Raw Data (680/615)", "alpha 680/615"),
        ("Time-resolved fluorescence (TRF)", "Raw Data (337/665 1)", "trf 665"),
        ("Fluorescence (FI)", "Raw Data (485-10/520-20)", "fl 485/520"),
    ],
)
def test_other_endpoint_modes_are_labelled_by_mode_and_optics(
    tmp_path: Path, mode: str, title: str, label: str
) -> None:
    path = tmp_path / "mode.csv"
    text = FLUORESCENCE.read_text().replace("Fluorescence (FI)", mode)
    path.write_text(text.replace("Raw Data (485/520)", title))
    (plate,) = read_export(path).plates
    assert list(plate.reads) == [label]


def test_unknown_read_mode_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mode.csv"
    path.write_text(FLUORESCENCE.read_text().replace("Fluorescence (FI)", "Nephelometry"))
    with pytest.raises(InputError, match="read mode 'Nephelometry' is not one il6assay reads"):
        read_export(path)


@pytest.mark.parametrize("mode", ["Absorbance spectrum", "Absorbance kinetic"])
def test_spectrum_or_kinetic_export_is_refused(tmp_path: Path, mode: str) -> None:
    path = variant(tmp_path, lambda t: t.replace("\r\nAbsorbance\r\n", f"\r\n{mode}\r\n"))
    with pytest.raises(InputError, match="is not an endpoint read") as info:
        read_export(path)
    assert info.value.where == "line 5"


def test_raw_data_without_a_wavelength_is_refused(tmp_path: Path) -> None:
    path = variant(tmp_path, lambda t: t.replace("Raw Data (620 2)", "Raw Data (No filter)"))
    with pytest.raises(InputError, match=r"'Raw Data \(No filter\)' gives no single wavelength"):
        read_export(path)


def test_unknown_word_names_the_well_line_and_field(tmp_path: Path) -> None:
    path = variant(tmp_path, lambda t: t.replace("overflow", "oops"))
    with pytest.raises(InputError) as info:
        read_export(path)
    assert info.value.message.startswith("well A1: unknown reading 'oops'")
    assert info.value.where == "line 10, field 2"


def test_two_plates_in_one_file_and_duplicate_ids(tmp_path: Path) -> None:
    text = DUAL.read_bytes().decode()
    plates = read_export(variant(tmp_path, lambda t: t + t.replace("IL6-P01", "IL6-P02"))).plates
    assert [p.id for p in plates] == ["IL6-P01", "IL6-P02"]
    assert plates[1].reads == plates[0].reads
    with pytest.raises(InputError, match="two plates named 'IL6-P01'") as info:
        read_export(variant(tmp_path, lambda t: t + t, "twice.csv"))
    assert info.value.where == f"line {text.count(chr(10)) + 1}"


def test_dash_is_missing_and_empty_cell_is_none(tmp_path: Path) -> None:
    # An empty cell is a well not read (None); a dash is a MISSING token.
    plate = read_one(variant(tmp_path, lambda t: t.replace(",0.040,", ",---,", 1)))
    assert Token(MISSING, "---") in plate.reads["620"].values()
    assert plate.reads["620"]["H12"] is None


# --- sniffing -------------------------------------------------------------------------------


def test_bmg_sniff_claims_only_bmg_files() -> None:
    claimed = {p.name for p in every_file() if bmg.sniff(Source(p)).ok}
    expected = {"bmg_abs450_620.csv", "bmg_384_semicolon.csv", "bmg_fluorescence.csv"}
    # allotropy's real MARS files of dialects (fixtures/readers/allotropy)
    expected |= {"bmg_mars_luminescence_1536.csv", "bmg_mars_v340_missing_line_end_separators.csv"}
    if EXPORTS.is_dir():
        expected |= set(SHARED_BMG)
    assert claimed == expected


@pytest.mark.parametrize("name", ["bmg_abs450_620.csv", "bmg_384_semicolon.csv"])
def test_detect_picks_bmg_for_bmg_fixtures(name: str) -> None:
    assert detect(Source(READER_FIXTURES / name)).NAME == "bmg"


@needs_shared
@pytest.mark.parametrize("name", sorted(SHARED_BMG))
def test_detect_picks_bmg_for_the_reference_exports(name: str) -> None:
    assert detect(Source(EXPORTS / name)).NAME == "bmg"


def test_bmg_sniff_gives_a_reason() -> None:
    verdict = bmg.sniff(Source(READER_FIXTURES / "gen5_450_570.txt"))
    assert not verdict.ok
    assert "User:" in verdict.reason
