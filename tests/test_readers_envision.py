"""The EnVision reader: the real export well by well against the oracle, and edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.readers import Source, detect, envision, read_export
from tests.conftest import needs_shared
from tests.reference import EXPORTS, expected_reads

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
ONE_PLATE = FIXTURES / "envision_one_plate.csv"
REFERENCE = "envision_abs450.csv"
FIXTURE_FILES = sorted(p.name for p in FIXTURES.glob("envision_*.csv"))


# --- the real export, well by well --------------------------------------------------------


@needs_shared
def test_envision_export_matches_the_oracle_well_by_well() -> None:
    # The oracle labels the read "absorbance"; the file says which: label
    # A450, filter "BFP 450" described as "CWL=450nm". We label it "450".
    plates = read_export(EXPORTS / REFERENCE).plates
    assert [(p.id, list(p.reads)) for p in plates] == [("Plate 1", ["450"]), ("Plate 2", ["450"])]
    expected = expected_reads(REFERENCE)
    assert set(expected) == {("Plate 1", "absorbance"), ("Plate 2", "absorbance")}
    for plate in plates:
        oracle = expected[(plate.id, "absorbance")]
        wells = plate.reads["450"]
        assert set(wells) == set(oracle)
        for well, value in wells.items():
            assert isinstance(value, float)
            assert value == oracle[well], f"{plate.id} {well}"


@needs_shared
def test_envision_metadata_uses_the_measurement_date_not_the_export_time() -> None:
    first, second = read_export(EXPORTS / REFERENCE).plates
    meta = first.metadata
    assert meta["software"] == "EnVision Workstation"
    assert meta["software_version"] == "1.14.3049.1642"
    assert meta["reader_type"] == "EnVision"
    assert meta["reader_serial"] == "1050242"
    assert meta["reader_name"] == "EnVision#Alpha_680nm"
    assert (meta["plate_number"], meta["barcode"]) == ("1", "")
    assert meta["measurement_date"] == "1/15/2024 10:30:00 AM"
    assert meta["read_datetime"] == "2024-01-15T10:30:00"  # 15 > 12: unambiguous
    assert second.metadata["read_datetime"] == "2024-01-15T10:31:35"
    assert meta["assay_exported"] == "1/15/2024 10:35:00 AM"
    assert meta["temperature"] == 22.0
    assert meta["wavelengths"] == [450]
    assert meta["labels"] == ["A450"]
    assert meta["plate_type"] == "96 General"
    assert meta["protocol_name"] == "Absorbance Test Protocol"


# --- the synthetic fixtures ----------------------------------------------------------------


def test_envision_fixture_one_plate_two_labels() -> None:
    export = read_export(ONE_PLATE)
    assert export.format == "envision"
    (plate,) = export.plates
    assert plate.id == "IL6-P01"  # the barcode, ="IL6-P01" in the file
    assert list(plate.reads) == ["450", "570"]
    assert plate.reads["450"]["A1"] == 2.945
    assert plate.reads["570"]["A1"] == 0.041
    assert plate.reads["570"]["H12"] is None
    meta = plate.metadata
    assert meta["wavelengths"] == [450, 570]
    assert meta["read_datetime"] == "2024-04-15T10:05:00"  # the A450 plate's measurement
    assert meta["reader_serial"] == "1050999"
    assert meta["temperature"] == 23.4


def test_envision_semicolon_and_decimal_commas_read_the_same() -> None:
    (plate,) = read_export(FIXTURES / "envision_semicolon.csv").plates
    assert plate.reads == read_export(ONE_PLATE).plates[0].reads
    assert plate.metadata["temperature"] == 23.4


def variant(tmp_path: Path, old: str, new: str, count: int = -1) -> Path:
    text = ONE_PLATE.read_text()
    assert old in text
    path = tmp_path / "variant.csv"
    path.write_text(text.replace(old, new, count))
    return path


def test_envision_same_barcode_twice_is_disambiguated(tmp_path: Path) -> None:
    # Plate 2 carries the same barcode: two plates, the second "IL6-P01 (2)".
    text = ONE_PLATE.read_text()
    head, tail = text.split("\n\nBasic assay information")
    second = head.replace("\n1,1,=", "\n2,1,=").replace("\n1,A", "\n2,A")
    path = tmp_path / "two.csv"
    path.write_text(
        head + "\n" + second.replace("2.9450", "1.1110") + "\n\nBasic assay information" + tail
    )
    plates = read_export(path).plates
    assert [p.id for p in plates] == ["IL6-P01", "IL6-P01 (2)"]
    assert plates[0].reads["450"]["A1"] == 2.945
    assert plates[1].reads["450"]["A1"] == 1.111


def test_envision_label_with_excitation_and_emission_filters_is_a_fluorescence_read(
    tmp_path: Path,
) -> None:
    # A570 gets an emission filter: a fluorescence label, read beside the
    # absorbance one and labelled with its optics (excitation 570 from its
    # name, emission from the FITC 535 filter).
    path = variant(tmp_path, "A570,,,,2000015\n", "A570,,,,2000015\nEms. filter,,,,FITC 535\n")
    (plate,) = read_export(path).plates
    assert list(plate.reads) == ["450", "fl 570/535"]
    assert plate.metadata["reads"][1]["mode"] == "fluorescence"


def test_envision_kinetic_rows_are_refused(tmp_path: Path) -> None:
    path = variant(tmp_path, "Wdw=N/A (8),0,4/15", "Wdw=N/A (8),1,4/15")
    with pytest.raises(InputError) as info:
        read_export(path)
    assert info.value.message == envision.KINETIC_ERROR
    assert info.value.where == "line 3"


def test_envision_unknown_word_names_the_well(tmp_path: Path) -> None:
    path = variant(tmp_path, "A,2.9450,", "A,oops,", count=1)
    with pytest.raises(InputError) as info:
        read_export(path)
    assert info.value.message.startswith("well A1: unknown reading 'oops'")
    assert info.value.where == "line 11, field 2"


def test_envision_grid_printing_some_rows_leaves_the_others_unread(tmp_path: Path) -> None:
    # A protocol reading only some rows prints only those (the real
    # luminescence export prints rows A, E, I, M): the rest are not read.
    text = ONE_PLATE.read_text()
    lines = text.split("\n")
    h = next(i for i, line in enumerate(lines) if line.startswith("H,"))
    path = tmp_path / "short.csv"
    path.write_text("\n".join(lines[:h] + lines[h + 1 :]))
    (plate,) = read_export(path).plates
    assert all(v is None for w, v in plate.reads["450"].items() if w.startswith("H"))
    assert plate.reads["450"]["G1"] is not None


def test_envision_grid_rows_out_of_order_are_refused(tmp_path: Path) -> None:
    text = ONE_PLATE.read_text().replace("\nB,", "\nX,", 1)
    path = tmp_path / "x.csv"
    path.write_text(text)
    with pytest.raises(InputError):
        read_export(path)


# --- sniffing -------------------------------------------------------------------------------


def _all_files() -> list[Path]:
    # Exports only: the fixtures' READMEs quote vendor headers and are not exports, and
    # expected/ folders hold independent readings of the exports beside them.
    files = sorted(
        p
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.suffix not in (".md", ".py") and p.parent.name != "expected"
    )
    files += sorted(p for p in (FIXTURES.parent / "example").glob("*") if p.is_file())
    if EXPORTS.is_dir():
        files += sorted(
            p for p in EXPORTS.iterdir() if p.suffix.lower() in (".txt", ".csv", ".xlsx")
        )
    return files


def test_envision_sniff_claims_only_envision_files() -> None:
    for path in _all_files():
        mine = path.name.startswith("envision_") and path.suffix == ".csv"
        assert envision.sniff(Source(path)).ok == mine, path.name


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_detect_picks_envision_for_envision_fixtures(name: str) -> None:
    assert detect(Source(FIXTURES / name)).NAME == "envision"


@needs_shared
def test_detect_picks_envision_for_the_reference_export() -> None:
    assert detect(Source(EXPORTS / REFERENCE)).NAME == "envision"
