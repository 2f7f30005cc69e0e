"""Exports il6assay does not process are refused in one line saying what they are.

Multiplex bead exports (Luminex xPONENT, INTELLIFLEX, Bio-Rad Bio-Plex Manager) and MSD
exports (Discovery Workbench, Methodical Mind): real files from allotropy's test data (MIT,
fixtures/readers/refused). The reader software's own documents (Gen5 .xpt, SoftMax Pro
.sda/.pda) are refused without being parsed, whatever their name: a truncated document or
one whose counts are hostile gives the same one line. Run as a user runs it: ``il6assay
inspect FILE``, exit 2, one line on stderr.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.plate.readers.source import OLE_MAGIC

REFUSED = Path(__file__).resolve().parents[1] / "fixtures" / "readers" / "refused"


def inspect_refusal(path: Path) -> str:
    """The one line ``il6assay inspect`` prints for a refused file (exit 2)."""
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    ("name", "kind", "what"),
    [
        ("luminex_xponent_example02.csv", "a Luminex xPONENT export", "multiplex bead data"),
        ("luminex_intelliflex_single_dataset.csv", "a Luminex INTELLIFLEX export", "bead"),
        ("bioplex_manager_well.xml", "a Bio-Rad Bio-Plex Manager export", "multiplex bead"),
        ("msd_workbench_test_1.csv", "an MSD Discovery Workbench export", "spot data"),
        ("msd_workbench.xlsx", "an MSD Discovery Workbench workbook", "spot data"),
        ("msd_methodical_mind_test_1.txt", "an MSD Methodical Mind export", "spot data"),
    ],
)
def test_multiplex_and_msd_exports_are_refused_naming_what_they_are(
    name: str, kind: str, what: str
) -> None:
    line = inspect_refusal(REFUSED / name)
    assert f"{kind}: il6assay processes a plate reader's endpoint reads" in line
    assert what in line and "closest: grid" not in line


def test_a_refused_kind_is_not_read_as_a_plain_grid_even_when_named(tmp_path: Path) -> None:
    # The Methodical Mind export holds an 8x12 grid of spot signals: never a plate read.
    result = CliRunner().invoke(
        main, ["inspect", str(REFUSED / "msd_methodical_mind_test_1.txt"), "--reader", "grid"]
    )
    assert result.exit_code == 2
    assert "an MSD Methodical Mind export" in result.stderr


def _sda_with_a_huge_count() -> bytes:
    # SoftMax Pro 6/7: ".NET Binary File", version 1, an entry claiming 2**62 bytes.
    return b"\x0bBinary File" + struct.pack("<I", 1) + struct.pack("<IQ", 0x1400, 2**62)


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("plate.sda", _sda_with_a_huge_count(), "SoftMax Pro data file"),
        ("run_export.txt", _sda_with_a_huge_count(), "SoftMax Pro data file"),  # by content
        ("plate.pda", b"SoftMax Pro\x00\x01 5.42.1.0 ##BLOCKS= 2", "SoftMax Pro data file"),
        ("old_plate.dat", b"SoftMax Pro\x00\x01", "SoftMax Pro data file"),  # truncated
        ("run.xpt", OLE_MAGIC + b"\x00" * 20, "Gen5 experiment file"),  # truncated OLE
        (
            "run.xpt",
            # An OLE header whose FAT sector count and first directory sector are absurd.
            OLE_MAGIC + bytes(36) + struct.pack("<II", 2**31 - 1, 2**31 - 1) + bytes(400),
            "Gen5 experiment file",
        ),
    ],
)
def test_native_documents_and_hostile_ones_are_refused_in_one_line(
    tmp_path: Path, name: str, data: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    line = inspect_refusal(path)
    assert words in line and "export the plate from" in line
