"""What a reader returns: plates, their reads by wavelength, and metadata.

A well's reading is one of three things, never silently a NaN:
- a float (the OD the reader printed),
- a :class:`Token` (the reader printed a word instead: saturated, masked,
  or not read; the printed token is kept),
- ``None`` (the export holds no value for that well, e.g. a partial plate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROWS_96 = "ABCDEFGH"
COLS_96 = range(1, 13)

SATURATED = "SATURATED"
MISSING = "MISSING"
MASKED = "MASKED"


@dataclass(frozen=True)
class Token:
    """A non-numeric reading: ``status`` is SATURATED, MISSING or MASKED."""

    status: str
    token: str

    def __str__(self) -> str:
        return self.status


Reading = float | Token | None


def well_names(rows: int = 8, cols: int = 12) -> list[str]:
    """Well names in row-major order ("A1", "A2", ... ) for a plate's size."""
    letters = [_row_letter(i) for i in range(rows)]
    return [f"{r}{c}" for r in letters for c in range(1, cols + 1)]


def _row_letter(i: int) -> str:
    # 96/384-well plates use A..P; 1536 would use AA..AF (not supported here).
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]


@dataclass
class Plate:
    """One plate of an export: reads by label, each a grid of wells.

    ``reads`` maps a read label (the wavelength in nm as a string, "450",
    when the file gives one) to ``{well: Reading}``; every well of the
    plate's size is present as a key. ``metadata`` holds what the file says
    about the read (reader, serial, software, date/time, wavelengths, ...).
    """

    id: str
    reads: dict[str, dict[str, Reading]]
    metadata: dict[str, Any] = field(default_factory=dict)
    rows: int = 8
    cols: int = 12

    @property
    def size(self) -> int:
        """Number of wells (96 or 384)."""
        return self.rows * self.cols


@dataclass
class Export:
    """A parsed export file: the reader that read it and its plates in file order."""

    format: str
    path: Path
    plates: list[Plate]


def empty_grid(rows: int = 8, cols: int = 12) -> dict[str, Reading]:
    """A grid with every well present and no value yet."""
    return {w: None for w in well_names(rows, cols)}
