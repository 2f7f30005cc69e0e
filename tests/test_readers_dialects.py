"""Dialects the real files in ../shared lack, each written from a real file, read well by well.

fixtures/readers/make_dialect_variants.py changes one dialect feature of a real export
(Gen5 data lines without step labels, Gen5 Results as a table of wells, an EnVision bare
16x24 matrix after the background information, a MARS file without line-end separators, a
MARS 1536-well plate, SoftMax blocks declaring 24 wells, SoftMax group tables only) and
maps the real file's independent reading (allotropy's, in ``expected/``) the same way; every
read must equal it, well by well, as for the real files (tests/test_readers_every_export.py).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.plate.readers import read_export
from tests.conftest import EXAMPLE, STANDARD_LAYOUT
from tests.reference import needs_shared
from tests.test_readers_every_export import assert_reads_equal_oracle, oracle

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "readers"
_spec = importlib.util.spec_from_file_location("make_dv", FIXTURES / "make_dialect_variants.py")
assert _spec and _spec.loader
dialects = importlib.util.module_from_spec(_spec)
sys.modules["make_dv"] = dialects  # dataclasses look their module up there
_spec.loader.exec_module(dialects)


@needs_shared
@pytest.mark.parametrize("variant", dialects.VARIANTS, ids=lambda v: v.name)
def test_every_dialect_variant_equals_its_real_files_oracle_well_by_well(
    tmp_path: Path, variant: object
) -> None:
    path, rows = dialects.write_variant(variant, tmp_path)
    assert rows, "the variant's oracle is empty"
    assert_reads_equal_oracle(path.name, read_export(path), rows)


@needs_shared
def test_gen5_labels_without_step_names_keep_the_calculated_data_set_out(tmp_path: Path) -> None:
    (variant,) = [v for v in dialects.VARIANTS if v.name == "gen5_lum_no_step_label.txt"]
    path, _ = dialects.write_variant(variant, tmp_path)
    (plate,) = read_export(path).plates
    assert list(plate.reads) == ["lum"]
    assert "NormLum" in plate.metadata["skipped"]


@needs_shared
def test_mars_file_with_separators_still_refuses_a_cut_row(tmp_path: Path) -> None:
    # The line-end rule is the file's: where lines end in separators, a short row is cut.
    source = dialects.EXPORTS / "bmg_mars_abs_384.csv"
    text = source.read_text(encoding="utf-8-sig").replace(
        "A,0.031,0.032,0.032,0.031,0.032,0.032,0.032,,,,,,,,,,,0.032,0.032,0.033,0.031,0.032,0.033,0.033",
        "A,0.031,0.032",
    )
    path = tmp_path / "cut.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="row A has 2 cells for 24 columns"):
        read_export(path)


@needs_shared
def test_real_mars_export_without_line_end_separators_equals_the_padded_ones_oracle() -> None:
    # allotropy's test file "MARS V3.40 V2 Output Missing line end separators.csv" (MIT) is
    # the same run as signal_exports' Transcreener export, written without trailing commas.
    real = FIXTURES / "allotropy" / "bmg_mars_v340_missing_line_end_separators.csv"
    padded = dialects.SIGNALS / "bmg_mars_16_02_29_14_34_46_transcreener_adp2_fi.csv"
    assert not any(line.endswith(",") for line in real.read_text().splitlines())
    assert_reads_equal_oracle(real.name, read_export(real), oracle(padded))


def test_real_mars_1536_well_export_is_read_with_rows_aa_to_af() -> None:
    # allotropy's "24-10-16 15-09-52 Luminescence 1536.csv" (MIT): rows A, G, M, S, Y, e of
    # 48 columns. MARS's row "e" is the 31st row, AE in the conventional 1536-well names.
    path = FIXTURES / "allotropy" / "bmg_mars_luminescence_1536.csv"
    (plate,) = read_export(path).plates
    assert (plate.rows, plate.cols, plate.size, list(plate.reads)) == (32, 48, 1536, ["lum"])
    lum = plate.reads["lum"]
    assert lum["A1"] == 985 and lum["G2"] == 21272893 and lum["Y1"] == 37651
    assert lum["AE1"] == 36809 and lum["AE2"] == 7509461 and lum["B1"] is None
    assert sum(v is not None for v in lum.values()) == 6 * 48
    assert "AF48" in lum and "e1" not in lum


def test_inspect_prints_a_1536_well_plate_with_rows_aa_to_af() -> None:
    path = FIXTURES / "allotropy" / "bmg_mars_luminescence_1536.csv"
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    rows = [m[1] for ln in lines if (m := re.match(r"  ([A-Z]{1,2})  [ .\d]", ln))]
    assert rows == [*"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "AA", "AB", "AC", "AD", "AE", "AF"]
    assert "plate 92A_4 (32x48)" in result.output
    assert any(ln.startswith("  AE  36809.0000") for ln in lines)
    assert lines[-2].startswith("  AE  ") and lines[-1] == "  AF  " + "        ." * 48


def test_process_of_a_1536_well_plate_is_refused_in_one_line(tmp_path: Path) -> None:
    path = FIXTURES / "allotropy" / "bmg_mars_luminescence_1536.csv"
    args = ["--layout", str(STANDARD_LAYOUT), "--samples", str(EXAMPLE / "plate_001.samples.csv")]
    result = CliRunner().invoke(main, ["process", str(path), *args, "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "1536-well plate: il6assay has no 1536-well layout" in line and str(path) in line
    assert not (tmp_path / "run").exists()


@needs_shared
def test_softmax_group_tables_only_give_the_wells_value_column_and_say_so(tmp_path: Path) -> None:
    (variant,) = [v for v in dialects.VARIANTS if v.name == "softmax_groups_only.txt"]
    path, _ = dialects.write_variant(variant, tmp_path)
    (plate,) = read_export(path).plates
    assert plate.id == "AssayPlate_09875" and list(plate.reads) == ["Value"]
    assert plate.metadata["source"] == "group tables"
    assert plate.metadata["group_tables"] == ["Group 'Standards'", "Group 'Unknowns'"]
    assert plate.reads["Value"]["A2"] == 3.084 and plate.reads["Value"]["A1"] is None


@needs_shared
def test_softmax_group_tables_without_wells_and_values_are_refused_naming_them(
    tmp_path: Path,
) -> None:
    # The Unknowns table without its Wells column and the Standards table without Value.
    (variant,) = [v for v in dialects.VARIANTS if v.name == "softmax_groups_only.txt"]
    path, _ = dialects.write_variant(variant, tmp_path)
    text = path.read_text("utf-16")
    text = text.replace("Sample\tWells\tValue\tR", "Sample\tPosition\tValue\tR")
    text = text.replace(
        "BackCalcConc\tWells\tValue\tMeanValue", "BackCalcConc\tWells\tOD\tMeanValue"
    )
    path.write_text(text, "utf-16")
    with pytest.raises(
        InputError,
        match="only Group 'Standards', Group 'Unknowns', and no group "
        "table lists wells with their values",
    ) as info:
        read_export(path)
    assert "\n" not in str(info.value)


@needs_shared
def test_softmax_block_declaring_24_wells_is_read_as_the_plate_its_wells_fit(
    tmp_path: Path,
) -> None:
    (variant,) = [v for v in dialects.VARIANTS if v.name == "softmax_declares_24_wells.txt"]
    path, _ = dialects.write_variant(variant, tmp_path)
    (plate,) = read_export(path).plates
    assert (plate.rows, plate.cols, plate.metadata["declared_wells"]) == (8, 12, 24)


def test_icontrol_multiple_reads_per_well_are_refused_as_a_well_scan(tmp_path: Path) -> None:
    path, _ = dialects.write_variant(dialects.WELL_SCAN, tmp_path)
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "read '4-MUF-butyrate' is a well scan: multiple reads per well of one endpoint" in line
    assert "(9 reads per well, Square 3 x 3;" in line and str(path) in line


@needs_shared
@pytest.mark.parametrize(
    ("measinfo", "mode"),
    [
        ("De=1st Ex=Top Em=Top Wdw=N/A", "fluorescence"),
        ("De=1st Ex=Top Em=Top Wdw=1 (14)", "trf"),
        ("De=USLum Ex=N/A Em=N/A Wdw=N/A", "luminescence"),
    ],
)
def test_envision_label_of_no_known_kind_takes_its_mode_from_the_detector_line(
    tmp_path: Path, measinfo: str, mode: str
) -> None:
    (variant,) = [v for v in dialects.VARIANTS if v.name == "envision_fl_mode_from_detector.csv"]
    path, _ = dialects.write_variant(variant, tmp_path)
    path.write_text(path.read_text().replace("De=1st Ex=Top Em=Top Wdw=N/A", measinfo))
    plate = read_export(path).plates[0]
    assert [r["mode"] for r in plate.metadata["reads"]] == [mode]


ALLOTROPY = FIXTURES / "allotropy"
# Real allotropy test files (MIT) of dialects refused before, and the reads they give now.
DIALECT_FILES = {
    # One HTRF label, channel 1 through "Ems. filter APC 665", channel 2 through "2nd ems.
    # filter Cy5 620" (before: "label read twice").
    "envision_htrf_two_channels.csv": ["trf 665", "trf 620"],
    # A fluorescence step read in polarization (before: "well A1 has two values").
    "gen5_fluorescence_polarization_384.txt": ["fp 485/528 parallel", "fp 485/528 perpendicular"],
    # Luminescence through an emission filter, data labelled "460/40" or "620" without the
    # step's name (before: "no raw read in the results").
    "gen5_lum_filter_without_step_label.txt": ["lum 460"],
    "gen5_lum_filter_without_bandwidth.txt": ["lum 620"],
    # PlateFormat partial plates: rows not read are lines of tabs (before: "holds no data").
    "softmax_abs_partial_plate_rows_c_f.txt": ["230", "260", "340"],
    "softmax_fl_partial_plate.txt": ["fl 485/535", "fl 550/610", "fl 650/720"],
    "softmax_lum_partial_plate.txt": ["lum 400", "lum 578", "lum 700"],
}


@pytest.mark.parametrize("name", sorted(DIALECT_FILES))
def test_real_dialect_file_equals_allotropys_reading_well_by_well(name: str) -> None:
    path = ALLOTROPY / name
    export = read_export(path)
    assert list(export.plates[0].reads) == DIALECT_FILES[name]
    assert_reads_equal_oracle(name, export, oracle(path))


def test_every_allotropy_dialect_file_with_an_oracle_is_tested() -> None:
    assert {p.name.removesuffix(".csv") for p in (ALLOTROPY / "expected").iterdir()} == set(
        DIALECT_FILES
    )


def test_softmax_partial_plate_leaves_the_wells_it_did_not_read_empty() -> None:
    (plate,) = read_export(ALLOTROPY / "softmax_abs_partial_plate_rows_c_f.txt").plates
    read = plate.reads["230"]
    assert read["C3"] == 3.147 and read["A1"] is None and read["G3"] is None
    assert sum(v is not None for v in read.values()) == 32  # rows C-F, columns 3-10


def test_softmax_block_declaring_24_wells_with_wells_past_h12_is_a_384_well_plate(
    tmp_path: Path,
) -> None:
    text = (FIXTURES / "softmax_384_450.txt").read_text(encoding="utf-8")
    path = tmp_path / "declares_24.txt"
    path.write_text(text.replace("\t1\t24\t384\t1\t16\t", "\t1\t24\t24\t1\t16\t", 1), "utf-8")
    (plate,) = read_export(path).plates
    real = read_export(FIXTURES / "softmax_384_450.txt").plates[0]
    assert (plate.rows, plate.cols, plate.metadata["declared_wells"]) == (16, 24, 24)
    assert plate.reads == real.reads


@needs_shared
def test_softmax_group_tables_giving_one_well_two_values_are_refused(tmp_path: Path) -> None:
    (variant,) = [v for v in dialects.VARIANTS if v.name == "softmax_groups_only.txt"]
    path, _ = dialects.write_variant(variant, tmp_path)
    text = path.read_text("utf-16").replace("\tA5\t0.044\t", "\tA2\t0.044\t", 1)
    path.write_text(text, "utf-16")
    with pytest.raises(InputError, match=r"well A2 of plate 'AssayPlate_09875' has 3\.084 in one"):
        read_export(path)
