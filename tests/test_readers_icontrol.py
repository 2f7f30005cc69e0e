"""Tecan i-control (infinite) and SparkControl (Spark) exports: public files read well by well.

The files in fixtures/readers/icontrol are real exports from public repositories, with their
licences (README_icontrol.md); expected/ holds an independent reading of each (OpenReadout's,
FlopR's own). Variants in German, as workbooks and as a European CSV are written from them by
fixtures/readers/make_dialect_variants.py and read against the same oracle
(tests/test_readers_dialects.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.plate.export import SATURATED, Plate, Token
from il6assay.plate.layout import load_layout
from il6assay.plate.readers import Source, detect, read_export
from il6assay.simulate import simulate_plate
from tests.conftest import STANDARD_LAYOUT, run_dirs
from tests.test_readers_dialects import dialects
from tests.test_readers_every_export import assert_reads_equal_oracle, oracle

ICONTROL = Path(__file__).resolve().parents[1] / "fixtures" / "readers" / "icontrol"
F200 = ICONTROL / "icontrol_infinite_f200_fluorescence.txt"
PRO_XLSX = ICONTROL / "icontrol_infinite_200pro_abs600_and_kinetic.xlsx"
KINETIC_CSV = ICONTROL / "icontrol_infinite_200pro_kinetic.csv"
SPARK = ICONTROL / "spark_calibration_abs_fluorescence.csv"
SPARK_KINETIC = ICONTROL / "spark_kinetic_od_gfp_mcherry.csv"


@pytest.mark.parametrize("path", [F200, PRO_XLSX, SPARK], ids=lambda p: p.name)
def test_public_tecan_export_equals_its_independent_reading_well_by_well(path: Path) -> None:
    export = read_export(path)
    assert export.format == "icontrol"
    assert_reads_equal_oracle(path.name, export, oracle(path))


def test_icontrol_reads_over_parts_of_the_plate_are_labelled_by_optics_in_file_order() -> None:
    (plate,) = read_export(F200).plates
    assert list(plate.reads) == ["fl 360/465", "fl 360/465 (2)", "fl 360/465 (3)", "fl 380/430"]
    # "Part of Plate A1-H3": the first substrate's read has only columns 1-3.
    assert plate.reads["fl 360/465"]["H3"] == 171.0 and plate.reads["fl 360/465"]["A4"] is None
    assert [s["name"] for s in plate.metadata["sections"]][:2] == [
        "4-MUF-butyrate",
        "4-MUF-alpha-D-glucopyranoside",
    ]
    meta = plate.metadata
    assert (meta["software"], meta["software_version"]) == ("Tecan i-control", "1.9.17.0")
    assert (meta["reader_type"], meta["reader_serial"]) == ("infinite 200Pro", "1202007079")
    # "1/11/2014" could be 11 January or 1 November: kept raw, never guessed.
    assert meta["date"] == "1/11/2014" and meta["read_datetime"] is None
    assert meta["temperature"]["fl 380/430"] == 22.2


def test_spark_over_wells_are_saturated_tokens_and_gains_are_separate_reads() -> None:
    (plate,) = read_export(SPARK).plates
    assert plate.metadata["software"] == "SparkControl"
    assert plate.metadata["read_datetime"] == "2019-12-19T15:20:00"
    fl = [label for label in plate.reads if label.startswith("fl 488/530")]
    assert len(fl) == 9 and list(plate.reads)[:2] == ["600", "700"]
    tokens = [v for label in fl for v in plate.reads[label].values() if isinstance(v, Token)]
    assert len(tokens) == 104 and {t.status for t in tokens} == {SATURATED}
    assert {t.token for t in tokens} == {"OVER"}


def test_icontrol_workbook_skips_its_kinetic_section_with_a_warning() -> None:
    export = read_export(PRO_XLSX)
    (plate,) = export.plates
    assert list(plate.reads) == ["600"]
    assert plate.metadata["skipped"] == ["kinetic: Abs600"]
    assert export.warnings and "kinetic: Abs600" in export.warnings[0]
    assert plate.metadata["read_datetime"] == "2024-02-20T18:19:42"


@pytest.mark.parametrize("path", [KINETIC_CSV, SPARK_KINETIC], ids=lambda p: p.name)
def test_tecan_export_of_kinetic_data_only_is_refused_in_one_line(path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_export(path)
    message = str(info.value)
    assert "only kinetic data" in message and "\n" not in message
    assert message.startswith(str(path))


def test_icontrol_files_are_claimed_by_the_icontrol_reader_only() -> None:
    for path in (F200, PRO_XLSX, KINETIC_CSV, SPARK, SPARK_KINETIC):
        assert detect(Source(path)).NAME == "icontrol"


def _edited(tmp_path: Path, edit: tuple[str, str]) -> Path:
    path = tmp_path / "edited.txt"
    path.write_bytes(F200.read_bytes().replace(edit[0].encode(), edit[1].encode()))
    return path


@pytest.mark.parametrize(
    ("edit", "refusal"),
    [
        (("Fluorescence Top Reading", "Fluorescence Top Scan"), "is a scan"),
        (("Fluorescence Top Reading", "Nephelometry"), "read mode 'Nephelometry'"),
        (("\t2939\t", "\tn.a.x\t"), "well A1: unknown reading 'n.a.x'"),
        (("<>\t1\t2\t3", "Well\tMean\tStDev"), "multiple reads per well"),
        (("Corning 96 Round", "Corning 1536 Round"), "1536-well plate"),
    ],
)
def test_icontrol_sections_it_cannot_read_are_refused_naming_them(
    tmp_path: Path, edit: tuple[str, str], refusal: str
) -> None:
    with pytest.raises(InputError, match=refusal) as info:
        read_export(_edited(tmp_path, edit))
    assert "\n" not in str(info.value)


def _icontrol_text(plate: Plate) -> str:
    """A simulated plate's 450 and 570 nm reads as an i-control text export (F200's header)."""
    head = F200.read_text(encoding="utf-8-sig").split("Label:")[0]
    out = [head.rstrip("\r\n")]
    for k, label in enumerate(["450", "570"]):
        out += [
            "",
            f"Label: IL6_{label}",
            "Mode\t\t\t\tAbsorbance\t",
            f"Measurement Wavelength\t\t\t\t{label}\tnm",
            "Number of Flashes\t\t\t\t25\t",
            f"Start Time:\t'1/11/2014 4:1{k}:13 AM",
            "",
            "\tTemperature: 22.5 °C",
            "<>\t" + "\t".join(str(c) for c in range(1, 13)),
        ]
        grid = plate.reads[label]
        for row in "ABCDEFGH":
            out.append(row + "\t" + "\t".join(f"{grid[f'{row}{c}']:.4f}" for c in range(1, 13)))
    return "\r\n".join(out) + "\r\n"


def test_process_runs_an_icontrol_export_of_the_shipped_layout_end_to_end(tmp_path: Path) -> None:
    sim = simulate_plate(load_layout(STANDARD_LAYOUT), np.random.default_rng(26))
    path = tmp_path / "il6_plate_icontrol.txt"
    path.write_text(_icontrol_text(sim.plate), encoding="utf-8-sig")
    out = tmp_path / "runs"
    args = ["process", str(path), "--layout", str(STANDARD_LAYOUT), "--allow-unmatched"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    (folder,) = run_dirs(out)
    run = json.loads((folder / "run.json").read_text())
    assert run["export"]["format"] == "icontrol"
    (plate,) = read_export(path).plates
    assert plate.reads["450"]["A1"] == round(sim.plate.reads["450"]["A1"], 4)


def test_icontrol_export_in_cp1252_keeps_its_units_and_german_words(tmp_path: Path) -> None:
    (variant,) = [v for v in dialects.VARIANTS if v.name == "icontrol_german_cp1252.txt"]
    path, _ = dialects.write_variant(variant, tmp_path)
    assert b"\xb5s" in path.read_bytes()  # "µs" as one cp1252 byte
    (plate,) = read_export(path).plates
    settings = plate.metadata["sections"][0]["settings"]
    assert settings["integration time"] == "20 µs"
    assert settings["anregungsbandbreite"] == "35 nm"
    assert plate.metadata["temperature"]["fl 360/465"] == 22.5  # "Temperatur: 22,5 °C"


@pytest.mark.parametrize(
    ("mode", "labels"),
    [
        ("Absorbance", ["465", "465 (2)", "465 (3)", "430"]),  # by the emission line's nm
        ("Luminescence", ["lum 465", "lum 465 (2)", "lum 465 (3)", "lum 430"]),
        (
            "Fluorescence Polarization",
            ["fp 360/465", "fp 360/465 (2)", "fp 360/465 (3)", "fp 380/430"],
        ),
        ("Time Resolved Fluorescence", ["trf 465", "trf 465 (2)", "trf 465 (3)", "trf 430"]),
        (
            "AlphaScreen",
            ["alpha 360/465", "alpha 360/465 (2)", "alpha 360/465 (3)", "alpha 380/430"],
        ),
    ],
)
def test_icontrol_mode_line_labels_every_endpoint_mode(
    tmp_path: Path, mode: str, labels: list[str]
) -> None:
    path = _edited(tmp_path, ("Fluorescence Top Reading", mode))
    if mode == "Absorbance":
        path.write_bytes(
            path.read_bytes().replace(b"Emission Wavelength", b"Measurement Wavelength")
        )
    (plate,) = read_export(path).plates
    assert list(plate.reads) == labels
