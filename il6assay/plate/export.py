"""What a reader returns: plates, their endpoint reads labelled by mode and optics, and metadata.

A well's reading is one of three things, never silently a NaN:
- a float (the OD the reader printed),
- a :class:`Token` (the reader printed a word instead: saturated, masked,
  or not read; the printed token is kept),
- ``None`` (the export holds no value for that well, e.g. a partial plate).

Read labels say the read's mode and optics in one short, stable word
(:func:`read_label` makes them, :func:`read_info` reads them back):

- absorbance: the wavelength in nm, ``"450"`` (as every release so far);
- fluorescence: ``"fl 485/535"`` (excitation/emission nm; ``"fl 535"``
  with only the emission known, ``"fl 485/?"`` with only the excitation,
  ``"fl"`` with neither);
- luminescence: ``"lum"`` (``"lum 460"`` through an emission filter);
- AlphaScreen/AlphaLISA: ``"alpha 680/615"`` (or ``"alpha"``);
- time-resolved fluorescence (TR-FRET, HTRF, LANCE): ``"trf 665"``, named
  by the emission (the HTRF pair is ``trf 665`` and ``trf 620``);
- fluorescence polarization: ``"fp 485/535"``.

A label given twice on one plate gets a counter: ``"426 (2)"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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

ABSORBANCE = "absorbance"
FLUORESCENCE = "fluorescence"
LUMINESCENCE = "luminescence"
ALPHA = "alpha"
TRF = "trf"
POLARIZATION = "polarization"
MODES = (ABSORBANCE, FLUORESCENCE, LUMINESCENCE, ALPHA, TRF, POLARIZATION)
_PREFIX = {FLUORESCENCE: "fl", LUMINESCENCE: "lum", ALPHA: "alpha", TRF: "trf", POLARIZATION: "fp"}
_MODE_OF_PREFIX = {v: k for k, v in _PREFIX.items()}
_LABEL = re.compile(
    r"(?:(?P<prefix>fl|lum|alpha|trf|fp|abs)(?: (?P<a>\d+)(?:/(?P<b>\d+|\?))?)?|(?P<nm>\d+))"
    r"(?P<channel> parallel| perpendicular)?(?: \((?P<n>\d+)\))?\Z"
)


def read_label(
    mode: str,
    *,
    wavelength: float | None = None,
    excitation: float | None = None,
    emission: float | None = None,
) -> str:
    """A read's label: ``"450"``, ``"fl 485/535"``, ``"lum"``, ``"alpha 680/615"``, ``"trf 665"``.

    Example::

        >>> read_label("fluorescence", excitation=485, emission=535)
        'fl 485/535'
        >>> read_label("trf", excitation=320, emission=665)
        'trf 665'
    """
    if mode not in MODES:
        raise ValueError(f"unknown read mode {mode!r} (expected one of {', '.join(MODES)})")
    nm = [_nm(x) for x in (excitation, emission)]
    if mode == ABSORBANCE:
        return _nm(wavelength) or "abs"
    if mode == TRF:
        nm = [nm[1]] if nm[1] else [nm[0]]
    elif mode == LUMINESCENCE:
        nm = [nm[1]]
    optics = "/".join(x for x in nm if x)
    if len(nm) == 2 and nm[0] and not nm[1]:
        optics = f"{nm[0]}/?"  # excitation known, emission not: "fl 485/?"
    return f"{_PREFIX[mode]} {optics}" if optics else _PREFIX[mode]


def _nm(value: float | None) -> str | None:
    if value is None:
        return None
    return str(round(float(value)))


def read_info(label: str) -> dict[str, Any]:
    """What a read label says: mode and wavelengths (nm), for metadata and ``inspect``.

    A label no reader makes (a plain grid's free text) has mode ``None``.

    Example::

        >>> read_info("fl 485/535")["mode"], read_info("450")["wavelength_nm"]
        ('fluorescence', 450)
    """
    info: dict[str, Any] = {"label": label, "mode": None}
    m = _LABEL.match(label)
    if not m:
        return info
    if m["nm"]:
        info.update(mode=ABSORBANCE, wavelength_nm=int(m["nm"]))
        return info
    prefix = m["prefix"]
    if prefix == "abs":
        info.update(mode=ABSORBANCE)
        if m["a"]:
            info["wavelength_nm"] = int(m["a"])
        return info
    mode = _MODE_OF_PREFIX[prefix]
    info["mode"] = mode
    if m["channel"]:
        info["channel"] = m["channel"].strip()
    a, b = (int(x) if x and x != "?" else None for x in (m["a"], m["b"]))
    if m["b"]:
        info.update(excitation_nm=a, emission_nm=b)
    elif a is not None:
        info["emission_nm"] = a
    return info


def read_mode(label: str) -> str | None:
    """The mode of a read label (``"absorbance"``, ``"fluorescence"``, ...), None if unknown."""
    return read_info(label)["mode"]


def unique_label(label: str, taken: Iterable[str]) -> str:
    """``label``, or ``"label (2)"``, ``"label (3)"``... when it is already taken."""
    taken = set(taken)
    if label not in taken:
        return label
    n = 2
    while f"{label} ({n})" in taken:
        n += 1
    return f"{label} ({n})"


def well_names(rows: int = 8, cols: int = 12) -> list[str]:
    """Well names in row-major order ("A1", "A2", ... ) for a plate's size."""
    letters = [row_letter(i) for i in range(rows)]
    return [f"{r}{c}" for r in letters for c in range(1, cols + 1)]


def row_letter(i: int) -> str:
    """The row name of 0-based row ``i``: A..Z, then AA..AF (a 1536-well plate's rows 27-32)."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[i] if i < 26 else "A" + letters[i - 26]


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
        """Number of wells (96, 384 or 1536)."""
        return self.rows * self.cols


@dataclass
class Export:
    """A parsed export file: the reader that read it and its plates in file order."""

    format: str
    path: Path
    plates: list[Plate]
    warnings: list[str] = field(default_factory=list)  # e.g. plate blocks skipped, named


def empty_grid(rows: int = 8, cols: int = 12) -> dict[str, Reading]:
    """A grid with every well present and no value yet."""
    return {w: None for w in well_names(rows, cols)}
