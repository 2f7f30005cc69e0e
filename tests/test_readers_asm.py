"""The ASM reader: allotropy documents well by well, round trips to native readers, fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import MASKED, MISSING, SATURATED, Plate, Token
from il6assay.plate.readers import Source, asm, detect, read_export
from tests.conftest import FIXTURES, needs_shared
from tests.reference import EXPORTS, expected_reads

READER_FIXTURES = FIXTURES / "readers"
ABS450_570 = READER_FIXTURES / "asm_abs450_570.json"
TWO_PLATES = READER_FIXTURES / "asm_two_plates_384.json"
KINETIC = READER_FIXTURES / "asm_kinetic.json"
FLUORESCENCE = READER_FIXTURES / "asm_fluorescence.json"
ASM_DIR = EXPORTS / "asm"
# Each ASM document of the shared folder and the export it was converted from.
SHARED_ASM = {
    "gen5_abs450_ovrflw_missed.txt.json": "gen5_abs450_ovrflw_missed.txt",
    "skanit_data.xlsx.json": "skanit_data.xlsx",
}


def as_oracle(value: object) -> object:
    """Our reading in the oracle's terms: the float, the printed token, or None."""
    return value.token if isinstance(value, Token) else value


def read_one(path: Path) -> Plate:
    (plate,) = read_export(path).plates
    return plate


def edited(tmp_path: Path, source: Path, edit: Any) -> Path:
    """``source`` loaded, changed by ``edit(doc)`` in place, written to tmp_path."""
    doc = json.loads(source.read_text())
    edit(doc)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    return path


def measurements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    groups = doc["plate reader aggregate document"]["plate reader document"]
    return [m for g in groups for m in g["measurement aggregate document"]["measurement document"]]


def every_file() -> list[Path]:
    """Every reference export (and its oracle and ASM files) and every repo fixture."""
    files = sorted(p for p in FIXTURES.rglob("*") if p.is_file())
    if EXPORTS.is_dir():
        files += sorted(p for p in EXPORTS.rglob("*") if p.is_file())
    return files


# --- allotropy's documents, well by well ---------------------------------------------------


@needs_shared
@pytest.mark.parametrize("name", sorted(SHARED_ASM))
def test_asm_document_matches_the_oracle_of_its_export_well_by_well(name: str) -> None:
    export = read_export(ASM_DIR / name)
    assert export.format == "asm"
    (plate,) = export.plates
    assert list(plate.reads) == ["450"]
    ((oracle_plate, label), oracle), *rest = expected_reads(SHARED_ASM[name]).items()
    assert not rest and label == "450"
    wells = plate.reads["450"]
    assert set(wells) == set(oracle) and len(wells) == 96
    for well, value in wells.items():
        assert as_oracle(value) == oracle[well], f"{name} {well}"
        if isinstance(oracle[well], float):
            assert isinstance(value, float)
    # Plate ids: the oracle read the exports ("Plate 1"); allotropy's Gen5
    # document names the plate by the barcode in the file name, keeping
    # "Plate 1" only as custom information.
    if name.startswith("gen5"):
        assert (plate.id, oracle_plate) == ("BNCH2345883", "Plate 1")
        assert plate.metadata["plate_number"] == "Plate 1"
    else:
        assert plate.id == oracle_plate == "Plate 1"


@needs_shared
def test_gen5_asm_reads_the_same_grid_as_the_gen5_export() -> None:
    from il6assay.plate.readers import gen5

    native = read_export(EXPORTS / "gen5_abs450_ovrflw_missed.txt", reader=gen5.NAME).plates
    (plate,) = read_export(ASM_DIR / "gen5_abs450_ovrflw_missed.txt.json").plates
    assert plate.reads == native[0].reads
    assert (plate.rows, plate.cols) == (native[0].rows, native[0].cols)


@needs_shared
def test_skanit_asm_reads_the_same_grid_as_the_skanit_export() -> None:
    # The oracle comparison above always runs; this one needs the SkanIt
    # reader, which is written separately.
    skanit = pytest.importorskip("il6assay.plate.readers.skanit")
    native = read_export(EXPORTS / "skanit_data.xlsx", reader=skanit.NAME).plates
    (plate,) = read_export(ASM_DIR / "skanit_data.xlsx.json").plates
    assert plate.reads == native[0].reads
    assert plate.id == native[0].id == "Plate 1"


@needs_shared
def test_asm_errors_keep_the_readers_tokens() -> None:
    # The measurement documents of OVRFLW/MISSED wells hold -0.0 "mAU" and an
    # error document with Gen5's word; the word decides, the -0.0 is ignored.
    read = read_one(ASM_DIR / "gen5_abs450_ovrflw_missed.txt.json").reads["450"]
    assert read["A8"] == Token(SATURATED, "OVRFLW")
    assert read["D12"] == Token(MISSING, "MISSED")
    tokens = [v for v in read.values() if isinstance(v, Token)]
    assert sum(t.status == SATURATED for t in tokens) == 8
    assert sum(t.status == MISSING for t in tokens) == 5


@needs_shared
def test_asm_metadata_of_allotropys_documents() -> None:
    meta = read_one(ASM_DIR / "gen5_abs450_ovrflw_missed.txt.json").metadata
    assert (meta["software"], meta["software_version"]) == ("Gen5", "3.12.08")
    assert (meta["reader_type"], meta["reader_serial"]) == ("Synergy H1", "Unknown")
    assert meta["asm_converter"] == "allotropy_agilent_gen5 0.1.90"
    assert meta["wavelengths"] == [450]
    # allotropy writes "mAU" but the numbers are ODs (2.1 where Gen5 printed 2.100).
    assert meta["absorbance_units"] == ["mAU"]
    # The Gen5 export says 4/11/2024 and our Gen5 reader leaves the date
    # unguessed; allotropy read it month first (the export's file name,
    # 240411_..., agrees) and added "+00:00". That is the document's word.
    assert meta["read_datetime"] == "2024-04-11T17:27:15+00:00"
    meta = read_one(ASM_DIR / "skanit_data.xlsx.json").metadata
    assert (meta["reader_type"], meta["reader_serial"]) == ("Varioskan LUX", "3020-81776")
    assert meta["software_version"] == "7.0.0.50"
    assert meta["source_file"] == "skanit_data.xlsx"
    assert meta["read_datetime"] == "2023-06-05T18:09:56+00:00"


# --- the synthetic fixtures ----------------------------------------------------------------


def test_two_wavelengths_errors_and_temperature() -> None:
    plate = read_one(ABS450_570)
    assert plate.id == "IL6-P01"
    assert list(plate.reads) == ["450", "570"]
    assert plate.reads["450"]["A1"] == Token(SATURATED, "OVRFLW")
    assert plate.reads["450"]["A2"] == 2.945
    assert plate.reads["570"]["A1"] == 0.041
    # Not a reader token: mapped by its words, the text kept.
    assert plate.reads["570"]["D12"] == Token(MISSING, "Well not read")
    meta = plate.metadata
    assert meta["temperature"] == 25.0
    assert meta["wavelengths"] == [450, 570]
    assert meta["read_datetime"] == "2024-04-15T10:05:00+00:00"


def test_two_plates_by_plate_identifier_384_partial() -> None:
    plates = read_export(TWO_PLATES).plates
    assert [p.id for p in plates] == ["IL6-P01", "IL6-P02"]
    for plate in plates:
        assert (plate.rows, plate.cols) == (16, 24)
        assert sum(v is not None for v in plate.reads["450"].values()) == 64
    assert plates[0].reads["450"]["A1"] == 2.945  # "A01" in the document
    assert plates[1].reads["450"]["A1"] == 3.445
    assert plates[0].reads["450"]["A3"] is None
    assert plates[1].reads["450"]["P24"] == Token(MASKED, "Masked")
    assert plates[0].metadata["reader_type"] == "Synergy Neo2"


def test_kinetic_absorbance_is_refused() -> None:
    with pytest.raises(InputError) as info:
        read_export(KINETIC)
    assert info.value.message.startswith("kinetic absorbance data ('absorption profile data cube')")
    assert info.value.where == "plate reader document 1, measurement document 1"


def test_fluorescence_document_is_read_by_mode_and_emission() -> None:
    # The document gives a detector (emission) wavelength and no excitation.
    (plate,) = read_export(FLUORESCENCE).plates
    assert list(plate.reads) == ["fl 520"]
    assert plate.reads["fl 520"]["A1"] == 1001.0
    assert plate.metadata["wavelengths"] == []


def test_document_of_no_known_measurement_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text(
        FLUORESCENCE.read_text()
        .replace('"fluorescence"', '"nephelometry"')
        .replace('"Fluorescence"', '"Nephelometry"')
    )
    with pytest.raises(
        InputError, match=r"no endpoint measurement of a known kind .*'Nephelometry'"
    ):
        read_export(path)


def test_unknown_error_text_is_refused(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        error = measurements(doc)[0]["error aggregate document"]["error document"][0]
        error["error"] = "Something odd"

    with pytest.raises(InputError) as info:
        read_export(edited(tmp_path, ABS450_570, edit))
    assert info.value.message.startswith("well A1: unknown error 'Something odd'")
    assert info.value.where == "plate reader document 1, measurement document 1"


def test_two_values_for_one_well_are_refused(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        first = measurements(doc)[2]  # A2 at 450
        second = measurements(doc)[4]  # A3 at 450
        second["sample document"]["location identifier"] = "A2"
        assert first["sample document"]["location identifier"] == "A2"

    with pytest.raises(InputError, match="well A2 of plate 'IL6-P01' has two values for read 450"):
        read_export(edited(tmp_path, ABS450_570, edit))


def test_nan_value_without_error_is_missing(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        measurements(doc)[2]["absorbance"]["value"] = float("nan")

    plate = read_one(edited(tmp_path, ABS450_570, edit))
    assert plate.reads["450"]["A2"] == Token(MISSING, "NaN")


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    text = ABS450_570.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="not valid JSON") as info:
        read_export(path)
    assert info.value.where.startswith("line ")


def test_other_asm_techniques_and_plain_json_are_not_claimed(tmp_path: Path) -> None:
    other = tmp_path / "lc.json"
    other.write_text(
        json.dumps({"$asm.manifest": "http://purl.allotrope.org/manifests/liquid-chromatography/x"})
    )
    verdict = asm.sniff(Source(other))
    assert not verdict.ok and "not a plate-reader one" in verdict.reason
    plain = tmp_path / "plain.json"
    plain.write_text('{"a": 1}')
    assert "not an ASM document" in asm.sniff(Source(plain)).reason


# --- sniffing -------------------------------------------------------------------------------


def test_asm_sniff_claims_only_asm_files() -> None:
    claimed = {p.name for p in every_file() if asm.sniff(Source(p)).ok}
    expected = {ABS450_570.name, TWO_PLATES.name, KINETIC.name, FLUORESCENCE.name}
    if EXPORTS.is_dir():
        expected |= set(SHARED_ASM)
    assert claimed == expected


@pytest.mark.parametrize("path", [ABS450_570, TWO_PLATES])
def test_detect_picks_asm_for_asm_fixtures(path: Path) -> None:
    assert detect(Source(path)).NAME == "asm"


@needs_shared
@pytest.mark.parametrize("name", sorted(SHARED_ASM))
def test_detect_picks_asm_for_the_shared_documents(name: str) -> None:
    assert detect(Source(ASM_DIR / name)).NAME == "asm"
