"""The Revvity Kaleido reader: the real export well by well against the oracle, and fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import Plate
from il6assay.plate.readers import Source, detect, kaleido, read_export
from tests.conftest import FIXTURES, needs_shared
from tests.reference import EXPORTS, expected_reads

READER_FIXTURES = FIXTURES / "readers"
K2 = READER_FIXTURES / "kaleido_abs450.csv"
K3 = READER_FIXTURES / "kaleido_v3_abs450_384.csv"
FLUORESCENCE = READER_FIXTURES / "kaleido_fluorescence.csv"
SHARED = "kaleido_abs_endpoint.csv"


def read_one(path: Path) -> Plate:
    (plate,) = read_export(path).plates
    return plate


def variant(tmp_path: Path, edit: Callable[[str], str], source: Path = K2) -> Path:
    """A Kaleido fixture with ``edit(text) -> text`` applied, written to tmp_path."""
    path = tmp_path / "variant.csv"
    path.write_bytes(edit(source.read_bytes().decode()).encode())
    return path


def every_file() -> list[Path]:
    """Every reference export (and its oracle and ASM files) and every repo fixture."""
    files = sorted(p for p in FIXTURES.rglob("*") if p.is_file())
    if EXPORTS.is_dir():
        files += sorted(p for p in EXPORTS.rglob("*") if p.is_file())
    return files


# --- the real export, well by well --------------------------------------------------------


@needs_shared
def test_kaleido_export_matches_the_oracle_well_by_well() -> None:
    plate = read_one(EXPORTS / SHARED)
    expected = expected_reads(SHARED)
    assert list(expected) == [(plate.id, "450")]
    assert list(plate.reads) == ["450"]
    oracle = expected[plate.id, "450"]
    wells = plate.reads["450"]
    assert set(wells) == set(oracle) and len(wells) == 96
    for well, value in wells.items():
        # The file prints 17 significant digits (2.0197979676134512), the
        # oracle the shortest repr (2.019797967613451): the same double.
        assert isinstance(value, float)
        assert value == oracle[well], well


@needs_shared
def test_kaleido_platemap_dashes_are_not_read_as_wells() -> None:
    # The "Platemap" grid below the results is all "-" (sample types): a
    # second read of MISSING wells would be wrong.
    plate = read_one(EXPORTS / SHARED)
    assert list(plate.reads) == ["450"]
    assert plate.reads["450"]["C11"] == 0.054012081185278282


@needs_shared
def test_kaleido_metadata_of_the_reference_export() -> None:
    meta = read_one(EXPORTS / SHARED).metadata
    assert meta["software"] == "Kaleido"
    assert meta["software_version"] == "2.0.3058.126"
    assert meta["reader_serial"] == "1234567"
    assert meta["barcode"] == "V-2020-10-26 16:16:17"
    assert meta["measurement_started"] == "2020-10-26T16:16:18.2284559-04:00"
    # The acquisition start, with the file's own offset; not the export time.
    assert meta["read_datetime"] == "2020-10-26T16:16:18-04:00"
    assert meta["plate_type"] == "96 General"
    assert meta["operations"] == {"ABS mono 1": 450}
    assert meta["wavelengths"] == [450]
    assert (meta["protocol_name"], meta["protocol_owner"]) == ("bar", "foo")


# --- the synthetic fixtures ----------------------------------------------------------------


def test_kaleido2_fixture_with_non_breaking_spaces() -> None:
    assert "\xa0" in K2.read_text(encoding="utf-8")
    export = read_export(K2)
    assert export.format == "kaleido"
    (plate,) = export.plates
    assert plate.id == "IL6-P01"
    assert plate.reads["450"]["A2"] == 2.945
    assert plate.reads["450"]["H12"] == 1.6
    assert plate.metadata["read_datetime"] == "2024-04-15T10:05:01+02:00"
    assert plate.metadata["plate_repeat"] == "1"


def test_kaleido3_fixture_384_wells_and_ambiguous_date() -> None:
    plate = read_one(K3)
    assert (plate.id, plate.rows, plate.cols) == ("IL6-P384", 16, 24)
    assert list(plate.reads) == ["450"]
    assert all(isinstance(v, float) for v in plate.reads["450"].values())
    meta = plate.metadata
    assert meta["reader_type"] == "EnSight"
    assert meta["software_version"] == "3.5.3082.227"
    assert meta["reader_serial"] == "1409101"
    # 4/5/2024: 5 April or 4 May? Not guessed.
    assert meta["measurement_started"] == "4/5/2024 10:05"
    assert meta["read_datetime"] is None


def test_unambiguous_locale_date_gets_iso(tmp_path: Path) -> None:
    plate = read_one(variant(tmp_path, lambda t: t.replace("4/5/2024", "4/15/2024"), K3))
    assert plate.metadata["read_datetime"] == "2024-04-15T10:05:00"


def test_fluorescence_export_is_read_with_its_excitation() -> None:
    # The operation gives an excitation wavelength and no emission one.
    (plate,) = read_export(FLUORESCENCE).plates
    assert list(plate.reads) == ["fl 485/?"]
    assert plate.reads["fl 485/?"]["A1"] == 1001.0
    assert plate.metadata["reads"][0]["mode"] == "fluorescence"


def test_operation_of_no_known_mode_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mode.csv"
    path.write_bytes(
        FLUORESCENCE.read_bytes().replace(b"Fluorescence intensity 1", b"Nephelometry 1")
    )
    with pytest.raises(InputError) as info:
        read_export(path)
    assert "no endpoint result of a known mode" in info.value.message
    assert "'Nephelometry 1'" in info.value.message


def test_repeated_plate_read_is_refused(tmp_path: Path) -> None:
    def twice(text: str) -> str:
        head, info = text.split("\r\n\r\nAnalysis Result")
        return head + "\r\n" + head + "\r\n\r\nAnalysis Result" + info

    with pytest.raises(InputError, match="two results for read 450"):
        read_export(variant(tmp_path, twice))


def test_kinetic_mode_is_refused(tmp_path: Path) -> None:
    path = variant(
        tmp_path, lambda t: t.replace("Measurement mode,,,,Single", "Measurement mode,,,,Kinetic")
    )
    with pytest.raises(InputError, match="is not an endpoint read"):
        read_export(path)


def test_absorbance_without_wavelength_is_refused(tmp_path: Path) -> None:
    path = variant(tmp_path, lambda t: t.replace("Excitation wavelength [nm],,,,450", ""))
    with pytest.raises(InputError, match="no wavelength for absorbance operation 'ABS mono 1'"):
        read_export(path)


def test_unknown_word_names_the_well_line_and_field(tmp_path: Path) -> None:
    path = variant(tmp_path, lambda t: t.replace("A,2.945,2.945,", "A,2.945,oops,", 1))
    with pytest.raises(InputError) as info:
        read_export(path)
    assert info.value.message.startswith("well A2: unknown reading 'oops'")
    assert info.value.where == "line 7, field 3"


# --- sniffing -------------------------------------------------------------------------------


def test_kaleido_sniff_claims_only_kaleido_files() -> None:
    claimed = {p.name for p in every_file() if kaleido.sniff(Source(p)).ok}
    expected = {K2.name, K3.name, FLUORESCENCE.name}
    if EXPORTS.is_dir():
        expected.add(SHARED)
    assert claimed == expected


@pytest.mark.parametrize("path", [K2, K3])
def test_detect_picks_kaleido_for_kaleido_fixtures(path: Path) -> None:
    assert detect(Source(path)).NAME == "kaleido"


@needs_shared
def test_detect_picks_kaleido_for_the_reference_export() -> None:
    assert detect(Source(EXPORTS / SHARED)).NAME == "kaleido"


def test_kaleido_sniff_gives_a_reason() -> None:
    verdict = kaleido.sniff(Source(READER_FIXTURES / "grid_450_570.csv"))
    assert not verdict.ok
    assert "Results for" in verdict.reason
