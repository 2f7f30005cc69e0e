"""Variants of the vendors' formats the real exports in ../shared do not all show.

Each test derives a small file from a fixture (or reads a real export) and
names the variant: Gen5's pathlength-correction reads and starred values, its
fluorescence step modes, SoftMax blocks without data, EnVision 384-well
absorbance, 1536-well plates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import MISSING, Token
from il6assay.plate.readers import read_export
from tests.reference import SHARED, needs_shared

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
GEN5_TXT = FIXTURES / "gen5_450_570.txt"
SIGNALS = SHARED / "signal_exports"


def variant(tmp_path: Path, source: Path, edit: Callable[[str], str], name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(edit(source.read_bytes().decode()).encode())
    return path


# --- Gen5 ------------------------------------------------------------------------------------


def test_gen5_pathlength_correction_reads_are_returned(tmp_path: Path) -> None:
    # Gen5 labels the pathlength reads "977 [Test]" and "900 [Ref]"; the
    # brackets are not computed data here.
    def pathlength(text: str) -> str:
        text = text.replace(
            "Wavelengths:  450, 570", "Wavelengths:  450\t\t\r\n\tPathlength Correction: 977 / 900"
        )
        lines = text.split("\r\n")
        out = []
        for line in lines:
            if line.endswith("IL6:570\t\t"):
                out.append(line.replace("IL6:570", "977 [Test]"))
                out.append(line.replace("IL6:570", "900 [Ref]").replace("\t0.04", "\t0.03"))
            else:
                out.append(line)
        return "\r\n".join(out)

    (plate,) = read_export(variant(tmp_path, GEN5_TXT, pathlength, "pl.txt")).plates
    assert list(plate.reads) == ["450", "977", "900"]
    assert plate.reads["977"]["A1"] == 0.041
    assert plate.reads["900"]["A1"] == 0.031


def test_gen5_pathlength_reads_labelled_by_bare_wavelengths_are_returned(tmp_path: Path) -> None:
    # Without "[Test]"/"[Ref]": the step's "Pathlength Correction" line names them.
    def pathlength(text: str) -> str:
        text = text.replace(
            "Wavelengths:  450, 570", "Wavelengths:  450\t\t\r\n\tPathlength Correction: 977 / 900"
        )
        return text.replace("IL6:570", "977")

    (plate,) = read_export(variant(tmp_path, GEN5_TXT, pathlength, "pl2.txt")).plates
    assert list(plate.reads) == ["450", "977"]
    assert plate.metadata["wavelengths"] == [450, 977, 900]


def test_gen5_value_between_asterisks_is_a_token_never_a_number(tmp_path: Path) -> None:
    # Gen5 prints *0.356* for a value outside the range it validated (a Lowry
    # export's concentration off the curve): kept as printed, status MISSING.
    path = variant(tmp_path, GEN5_TXT, lambda t: t.replace("\t1.190\t", "\t*1.190*\t", 1), "s.txt")
    (plate,) = read_export(path).plates
    assert plate.reads["450"]["A3"] == Token(MISSING, "*1.190*")


@pytest.mark.parametrize(
    ("mode", "label", "expected"),
    [
        ("Fluorescence Endpoint", "Fl:485/20,528/20", "fl 485/528"),  # filter sets
        ("Fluorescence Endpoint", "fluor:485,528", "fl 485/528"),  # monochromator
        ("Luminescence Endpoint", "Lum:460", "lum 460"),  # an emission filter
        ("Time Resolved Fluorescence Endpoint", "TRF:330/80,665/8", "trf 665"),
        ("Alpha Endpoint", "Alpha:680,615", "alpha 680/615"),
        ("Fluorescence Polarization Endpoint", "FP:485,528 [Parallel]", "fp 485/528 parallel"),
    ],
)
def test_gen5_read_modes_are_labelled_with_their_optics(
    tmp_path: Path, mode: str, label: str, expected: str
) -> None:
    def edit(text: str) -> str:
        name = label.split(":")[0]
        text = text.replace("Read\tIL6", f"Read\t{name}").replace("Absorbance Endpoint", mode)
        text = text.replace("IL6:450", label)
        return text.replace("\tIL6:570\t", "\tBlank 570\t")

    (plate,) = read_export(variant(tmp_path, GEN5_TXT, edit, "mode.txt")).plates
    assert list(plate.reads) == [expected]


def test_gen5_filter_set_step_gives_optics_to_a_label_without_them(tmp_path: Path) -> None:
    def edit(text: str) -> str:
        text = text.replace("Absorbance Endpoint", "Fluorescence Endpoint")
        text = text.replace(
            "Wavelengths:  450, 570",
            "Filter Set 1\t\t\r\n\t    Excitation: 485/20,  Emission: 528/20",
        )
        return text.replace("IL6:450", "IL6:Fluor").replace("\tIL6:570\t", "\tBlank\t")

    (plate,) = read_export(variant(tmp_path, GEN5_TXT, edit, "fs.txt")).plates
    assert list(plate.reads) == ["fl 485/528"]
    assert plate.metadata["read_steps"][0]["filters"] == [[485, 528]]


@needs_shared
def test_gen5_alphalisa_export_reads_the_alpha_counts_not_the_computed_rows() -> None:
    (plate,) = read_export(SIGNALS / "gen5_fl_alphalisa_endpoint_singleplate.txt").plates
    assert list(plate.reads) == ["alpha"]
    assert plate.reads["alpha"]["A2"] == 2.0 and plate.reads["alpha"]["A1"] == 0.0
    assert {"Blank Alpha", "Log Alpha", "[Concentration]"} <= set(plate.metadata["skipped"])


# --- SoftMax Pro -----------------------------------------------------------------------------


@needs_shared
def test_softmax_plate_blocks_without_data_are_skipped_with_a_warning_naming_them() -> None:
    export = read_export(SIGNALS / "softmaxpro_fluorescence_endpoint_example07.txt")
    assert [p.id for p in export.plates] == ["BNCH_28465721_96w"]
    assert len(export.warnings) == 2
    assert "Plate 'BNCH_49917577_96w' (line 148) holds no data lines" in export.warnings[0]
    assert "BNCH_94389207_96w" in export.warnings[1]


@needs_shared
def test_softmax_fluorescence_labels_pair_excitation_and_emission() -> None:
    (plate,) = read_export(SIGNALS / "softmaxpro_fluorescence_endpoint_example07.txt").plates
    assert list(plate.reads) == ["fl 404/445", "fl 485/535", "fl 569/780"]
    assert plate.metadata["excitation_wavelengths"] == [404, 485, 569]


def test_softmax_export_whose_blocks_all_lack_data_is_refused(tmp_path: Path) -> None:
    text = (FIXTURES / "softmax_three_plates.txt").read_text()
    head, _, _ = text.partition("Plate:\tP1")
    last = "Plate:" + text.split("Plate:")[-1]
    path = tmp_path / "empty.txt"
    path.write_text(head.replace("##BLOCKS= 3", "##BLOCKS= 1") + last)
    with pytest.raises(InputError, match="no plate block with data"):
        read_export(path)


# --- EnVision ----------------------------------------------------------------------------------


def test_envision_384_absorbance_with_a_free_text_label_is_read(tmp_path: Path) -> None:
    # "BCA Absorbance @ 562" over a 16x24 grid: its Labels entry has an
    # excitation filter only (absorbance); the read is named by the filter's CWL.
    source = FIXTURES / "envision_one_plate.csv"
    text = source.read_text().replace("A450", "BCA Absorbance @ 562")
    lines = text.split("\n")
    out = []
    for line in lines:
        if line.startswith(",01,02,03"):
            out.append(",".join(["", *(f"{c:02d}" for c in range(1, 25))]) + ",")
        elif len(line) > 2 and line[1] == "," and line[0] in "ABCDEFGH" and line.count(",") >= 12:
            cells = line.rstrip(",").split(",")
            out.append(",".join(cells + cells[1:]) + ",")
            if line[0] == "H":
                for letter in "IJKLMNOP":
                    out.append(",".join([letter, *cells[1:], *cells[1:]]) + ",")
        else:
            out.append(line)
    path = tmp_path / "bca384.csv"
    path.write_text("\n".join(out))
    (plate,) = read_export(path).plates
    assert (plate.rows, plate.cols) == (16, 24)
    assert plate.metadata["reads"][0]["mode"] == "absorbance"
    assert plate.reads[next(iter(plate.reads))]["P24"] is not None


# --- plate sizes -------------------------------------------------------------------------------


def test_1536_well_grid_with_rows_aa_to_af_is_read(tmp_path: Path) -> None:
    lines = [
        "User: USER,Path: C:\\BMG,Test run no.: 4",
        "Test name: big,Date: 4/15/2024,Time: 10:05:00 AM",
        "",
        "ID1: X",
        "Absorbance",
        "",
        "Raw Data (450)",
        "",
    ]
    lines.append(",".join(["", *(str(c) for c in range(1, 49))]))
    rows = [f"{chr(65 + r)}" if r < 26 else f"A{chr(65 + r - 26)}" for r in range(32)]
    lines += [",".join([r, *("0.1" for _ in range(48))]) for r in rows]
    lines[-1] = lines[-1][:-3] + "0.7"  # AF48
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines))
    (plate,) = read_export(path).plates
    assert (plate.rows, plate.cols) == (32, 48)
    assert plate.reads["450"]["AF48"] == 0.7 and plate.reads["450"]["AA1"] == 0.1


def test_grid_wider_than_a_1536_well_plate_is_refused_in_one_line(tmp_path: Path) -> None:
    lines = [
        "User: USER,Path: C:\\BMG,Test run no.: 4",
        "Test name: big,Date: 4/15/2024,Time: 10:05:00 AM",
    ]
    lines += ["", "ID1: X"]
    lines += ["Absorbance", "", "Raw Data (450)", ""]
    lines.append(",".join(["", *(str(c) for c in range(1, 73))]))
    lines += [",".join([r, *("0.1" for _ in range(72))]) for r in "ABCDEFGH"]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines))
    with pytest.raises(InputError) as info:
        read_export(path)
    assert "columns 1-72" in str(info.value) and "1536-well (1-48)" in str(info.value)
    assert "\n" not in str(info.value)


def test_gen5_1536_well_plate_is_refused_in_one_line(tmp_path: Path) -> None:
    def big(text: str) -> str:
        return text.replace("96 WELL PLATE (Use plate lid)", "1536 WELL PLATE")

    with pytest.raises(InputError) as info:
        read_export(variant(tmp_path, GEN5_TXT, big, "big.txt"))
    assert "a 1536-well plate ('1536 WELL PLATE')" in str(info.value)
    assert info.value.where == "line 17"
