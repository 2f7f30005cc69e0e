"""The shared reference exports and the independent reader's answers for them.

``SHARED`` is ``../shared`` beside the project (read in place, never copied);
:func:`expected_reads` loads ``reference_exports/expected/<name>.csv``, what
allotropy 0.1.150 found in each file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EXPORTS = SHARED / "reference_exports"
EXPECTED = EXPORTS / "expected"

needs_shared = pytest.mark.skipif(
    not EXPORTS.is_dir(), reason=f"shared reference exports not found at {EXPORTS}"
)


def expected_reads(name: str) -> dict[tuple[str, str], dict[str, float | str | None]]:
    """The oracle's wells for export ``name``: {(plate, read): {well: float, token or None}}.

    A well with a value gives a float, one with an error token gives the token
    ("OVRFLW"), one with neither gives None. A read the oracle lists twice for
    a well (two fluorescence filter sets under one "fluorescence" read) keeps
    the last; compare only reads where that does not happen.
    """
    out: dict[tuple[str, str], dict[str, float | str | None]] = {}
    with (EXPECTED / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["value"]:
                value: float | str | None = float(row["value"])
            else:
                value = row["error"] or None
            out.setdefault((row["plate"], row["read"]), {})[row["well"]] = value
    return out


def gen5_exports() -> list[str]:
    """Names of the Gen5 reference exports (empty if the shared folder is absent)."""
    return sorted(p.name for p in EXPORTS.glob("gen5_*.txt")) if EXPORTS.is_dir() else []
