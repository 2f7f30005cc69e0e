"""The SoftMax Pro reader: real exports well by well against the oracle, and edge cases."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import MASKED, MISSING, SATURATED, Token
from il6assay.plate.readers import Source, detect, read_export, softmax
from tests.conftest import needs_shared
from tests.reference import EXPECTED, EXPORTS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
UTF16 = FIXTURES / "softmax_utf16_450_570.txt"

# The reference exports, their plates in file order and each plate's reads.
OURS = {
    "softmaxpro_abs_endpoint_01.txt": [("Plate01", ["450"]), ("Plate02", ["450"])],
    "softmaxpro_abs_endpoint_plates.txt": [("Plate1", ["426", "426 (2)", "426 (3)"])],
    "softmaxpro_abs_partial_plate_01.txt": [("AssayPlate_09875", ["260", "280", "340"])],
}
FIXTURE_FILES = sorted(p.name for p in FIXTURES.glob("softmax_*.txt"))


def oracle_rows(name: str) -> dict[tuple[str, str, str], list[float | str | None]]:
    """The oracle's values per (plate, read, well), in file order (repeated reads kept)."""
    out: dict[tuple[str, str, str], list[float | str | None]] = {}
    with (EXPECTED / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            value: float | str | None = (
                float(row["value"]) if row["value"] else row["error"] or None
            )
            out.setdefault((row["plate"], row["read"], row["well"]), []).append(value)
    return out


def as_oracle(value: object) -> object:
    return value.token if isinstance(value, Token) else value


# --- the real exports, well by well -------------------------------------------------------


@needs_shared
@pytest.mark.parametrize("name", sorted(OURS))
def test_softmax_export_matches_the_oracle_well_by_well(name: str) -> None:
    plates = read_export(EXPORTS / name).plates
    assert [(p.id, list(p.reads)) for p in plates] == OURS[name]
    oracle = oracle_rows(name)
    checked = 0
    for plate in plates:
        assert (plate.rows, plate.cols) == (8, 12)
        for label, wells in plate.reads.items():
            wavelength, _, nth = label.partition(" (")
            k = int(nth.rstrip(")")) - 1 if nth else 0
            for well, value in wells.items():
                want = oracle[(plate.id, wavelength, well)][k]
                if want == "nan":
                    # The oracle reports every well of a partial plate that the
                    # file leaves empty (A1, A12, B1, ... of the partial-plate
                    # export) as error "nan"; the file has an empty cell there,
                    # i.e. no reading, which we keep as None, not a token.
                    assert value is None, f"{name} {label} {well}"
                else:
                    assert as_oracle(value) == want, f"{name} {label} {well}"
                    if isinstance(want, float):
                        assert isinstance(value, float)
                checked += 1
    assert checked == sum(len(v) for v in oracle.values())


@needs_shared
def test_three_reads_at_one_wavelength_keep_their_order() -> None:
    # The header lists "426 426 426": three reads at one wavelength, side by
    # side in the grid. The oracle lists them all under read "426" (three rows
    # per well); we keep them apart as "426", "426 (2)", "426 (3)".
    (plate,) = read_export(EXPORTS / "softmaxpro_abs_endpoint_plates.txt").plates
    assert [plate.reads[r]["H12"] for r in ("426", "426 (2)", "426 (3)")] == [0.96, 1.92, 2.88]
    assert plate.metadata["duplicate_wavelengths"] == ["426"]
    assert plate.metadata["wavelengths"] == [426, 426, 426]


@needs_shared
def test_path_token_and_stray_decimal_commas_in_the_plates_export() -> None:
    # B1 of the first read is "Path?" (PathCheck failed): MISSING, as the oracle.
    # Column 2 of the first read is written "0,02", "0,14", ... in a file of
    # decimal points; such a comma cannot separate thousands, so the file says
    # 0.02 (as the oracle) and the cells are listed.
    (plate,) = read_export(EXPORTS / "softmaxpro_abs_endpoint_plates.txt").plates
    assert plate.reads["426"]["B1"] == Token(MISSING, "Path?")
    assert plate.reads["426"]["A2"] == 0.02
    assert plate.reads["426"]["C3"] == 0.27
    assert plate.metadata["decimal_comma_cells"][:2] == ["426 A2", "426 B2"]
    assert plate.metadata["temperature"] == 35.0


@needs_shared
def test_utf16_export_metadata() -> None:
    plates = read_export(EXPORTS / "softmaxpro_abs_endpoint_01.txt").plates
    meta = plates[0].metadata
    assert meta["software"] == "SoftMax Pro"
    assert meta["export_format"] == "PlateFormat"
    assert meta["wavelengths"] == [450]
    assert meta["temperature"] is None  # printed NaN
    # The last line's date is when the file was saved, not when it was read.
    assert meta["date_last_saved"] == "11/27/2023 10:43:25 AM"
    assert meta["read_datetime"] is None
    assert "Group 'Standards'" in meta["skipped"]
    assert "reduced data of plate 'Plate01'" in meta["skipped"]
    # The raw grid (15 digits), not the reduced grid below it (17 digits).
    assert plates[1].reads["450"]["A1"] == 3.43082333333333


@needs_shared
def test_partial_plate_in_time_format() -> None:
    (plate,) = read_export(EXPORTS / "softmaxpro_abs_partial_plate_01.txt").plates
    meta = plate.metadata
    assert meta["export_format"] == "TimeFormat"
    assert meta["temperature"] is None  # printed 0: not reported (allotropy#639)
    read = plate.reads["260"]
    assert read["A2"] == 3.084
    assert sum(v is None for v in read.values()) == 16  # columns 1 and 12 not read
    assert all(read[f"{r}1"] is None and read[f"{r}12"] is None for r in "ABCDEFGH")


# --- the synthetic fixtures ----------------------------------------------------------------


def test_utf16_fixture_two_wavelengths_tokens_and_partial_plate() -> None:
    export = read_export(UTF16)
    assert export.format == "softmax"
    (plate,) = export.plates
    assert plate.id == "IL6-P01"
    assert list(plate.reads) == ["450", "570"]
    assert plate.reads["450"]["A1"] == Token(SATURATED, "Range?")
    assert plate.reads["450"]["C6"] == Token(MASKED, "Masked")
    assert plate.reads["450"]["B1"] == 1.64
    assert plate.reads["570"]["A1"] == 0.041
    assert all(plate.reads[r][f"{x}12"] is None for r in ("450", "570") for x in "ABCDEFGH")
    meta = plate.metadata
    assert meta["temperature"] == 23.4
    assert meta["wavelengths"] == [450, 570]
    assert meta["skipped"] == ["reduced data of plate 'IL6-P01'", "Note", "Group 'Standards'"]


def test_time_format_cp1252_with_decimal_commas() -> None:
    (plate,) = read_export(FIXTURES / "softmax_timeformat_cp1252.txt").plates
    read = plate.reads["450"]
    assert read["A1"] == 2.945
    assert read["D12"] == 1.84
    assert read["E1"] is None  # rows E-H not read
    assert plate.metadata["temperature"] == 25.0
    assert "decimal_comma_cells" not in plate.metadata  # the whole block uses commas


def test_duplicate_plate_names_are_disambiguated_not_overwritten() -> None:
    # allotropy#979: two blocks named "Plate1". We keep both, in file order; the
    # second gets " (2)". The kinetic block beside them is skipped, not refused.
    plates = read_export(FIXTURES / "softmax_duplicate_names.txt").plates
    assert [p.id for p in plates] == ["Plate1", "Plate1 (2)"]
    assert [p.metadata["plate_name"] for p in plates] == ["Plate1", "Plate1"]
    assert plates[0].reads["450"]["B1"] == 1.64
    assert plates[1].reads["450"]["B1"] == 1.111
    assert plates[1].metadata["temperature"] is None  # printed 0
    assert "Plate 'Kinetic1' (Kinetic Absorbance)" in plates[0].metadata["skipped"]


def test_kinetic_only_export_is_refused_naming_the_block() -> None:
    with pytest.raises(InputError) as info:
        read_export(FIXTURES / "softmax_kinetic.txt")
    assert info.value.message.startswith("Plate 'Kinetic1' is a Kinetic Absorbance read:")
    assert softmax.NOT_ENDPOINT_ERROR in info.value.message
    assert info.value.where == "line 2"


def edited(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = UTF16.read_bytes().decode("utf-16")
    assert old in text
    path = tmp_path / "edited.txt"
    path.write_bytes(text.replace(old, new, count).encode("utf-16"))
    return path


def test_spectrum_block_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "PlateFormat\tEndpoint", "PlateFormat\tSpectrum")
    with pytest.raises(InputError, match="Plate 'IL6-P01' is a Spectrum Absorbance read"):
        read_export(path)


def test_kinetic_block_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "Endpoint\tAbsorbance", "Kinetic\tAbsorbance")
    with pytest.raises(InputError, match="is a Kinetic Absorbance read"):
        read_export(path)


def test_unknown_read_mode_block_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "Endpoint\tAbsorbance", "Endpoint\tNephelometry")
    with pytest.raises(InputError, match="is a Endpoint Nephelometry read"):
        read_export(path)


def test_unknown_word_names_the_well_and_the_cell(tmp_path: Path) -> None:
    path = edited(tmp_path, "\t1.640\t", "\toops\t")  # B1 at 450
    with pytest.raises(InputError) as info:
        read_export(path)
    assert info.value.message.startswith("well B1 (450): unknown reading 'oops'")
    assert info.value.where == "line 8, field 3"


def test_thousands_like_comma_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "\t1.640\t", "\t1,640\t")
    with pytest.raises(InputError, match=r"unknown reading '1,640'.*decimal comma"):
        read_export(path)


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    text = UTF16.read_bytes().decode("utf-16")
    path = tmp_path / "cut.txt"
    path.write_bytes(text[: text.index("Group: Standards")].encode("utf-16"))
    with pytest.raises(InputError, match=r"'##BLOCKS= 3' but the file holds 2 blocks"):
        read_export(path)


def test_wavelength_count_mismatch_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "\t2\t450 570 \t", "\t2\t450 \t")
    with pytest.raises(InputError, match="header says 2 wavelengths but lists '450'"):
        read_export(path)


def test_reduced_only_block_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "\tTemperature(°C)\t", "\t\t")
    with pytest.raises(InputError, match="no raw data"):
        read_export(path)


# --- sniffing -------------------------------------------------------------------------------


def _all_files() -> list[Path]:
    files = sorted(p for p in FIXTURES.rglob("*") if p.is_file())
    files += sorted(p for p in (FIXTURES.parent / "example").glob("*") if p.is_file())
    if EXPORTS.is_dir():
        files += sorted(
            p for p in EXPORTS.iterdir() if p.suffix.lower() in (".txt", ".csv", ".xlsx")
        )
    return files


def test_softmax_sniff_claims_only_softmax_files() -> None:
    for path in _all_files():
        mine = path.name.startswith(("softmax_", "softmaxpro_")) and path.suffix == ".txt"
        assert softmax.sniff(Source(path)).ok == mine, path.name


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_detect_picks_softmax_for_softmax_fixtures(name: str) -> None:
    assert detect(Source(FIXTURES / name)).NAME == "softmax"


@needs_shared
@pytest.mark.parametrize("name", sorted(OURS))
def test_detect_picks_softmax_for_softmax_reference_exports(name: str) -> None:
    assert detect(Source(EXPORTS / name)).NAME == "softmax"


def test_fixtures_are_what_the_script_writes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_se", FIXTURES / "make_softmax_envision_fixtures.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert UTF16.read_bytes() == module.softmax_utf16()
    assert (FIXTURES / "softmax_duplicate_names.txt").read_bytes() == (
        module.softmax_duplicate_names()
    )
