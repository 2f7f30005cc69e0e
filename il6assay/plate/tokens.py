"""The one table of words plate readers print instead of a number, shared by all readers.

A reader hands every cell's text to :func:`parse_reading`, which returns a
float, a :class:`~il6assay.plate.export.Token` (the reader printed a known word: the
well is saturated, was not read, or was masked) or ``None`` (empty cell). A
word that is in no table here is refused, never turned into NaN: a new token
is a line in :data:`TOKENS` with a comment saying where it comes from.

Statuses, as downstream code reads them:

- SATURATED: the signal is above what the reader can measure; the well is
  high, not absent (a standard at the top of the curve, a sample to dilute).
- MISSING: there is no usable number (not read, not computable, or below the
  measurable range); the printed word is kept in ``Token.token`` so the
  difference between "not read" and "below range" is not lost.
- MASKED: the user or the software excluded the well.

Example::

    >>> parse_reading(" OVRFLW ")
    Token(status='SATURATED', token='OVRFLW')
    >>> parse_reading("1.2e-1")
    0.12
    >>> parse_reading("0,123", decimal=",")
    0.123
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from il6assay.errors import InputError
from il6assay.plate.export import MASKED, MISSING, SATURATED, Reading, Token

# Keys are lower-case with inner whitespace collapsed to one space.
TOKENS: dict[str, str] = {
    # Agilent/BioTek Gen5: the detector overflowed (reference export
    # gen5_abs450_ovrflw_missed.txt).
    "ovrflw": SATURATED,
    # Gen5: the well was not read (same reference export).
    "missed": MISSING,
    # Gen5 prints ????? where it cannot compute a value (seen in computed rows
    # and curve-fit cells of the reference exports); no number, so MISSING.
    "?????": MISSING,
    # Short "saturated" flag written by some reader software (from the
    # project's token list; the vendor is not pinned down by a reference file).
    "sat": SATURATED,
    # Tecan Magellan / i-control: signal over the measurable range
    # (USER_REQUESTS.md section 2).
    "over": SATURATED,
    # BMG LABTECH MARS writes "overflow" for a saturated well.
    "overflow": SATURATED,
    # A fixed-width field too narrow for the value: printed by readers for an
    # over-range OD (from the project's token list). Taken as SATURATED, not
    # as "no value": OD only overflows a field upwards.
    "*****": SATURATED,
    # Molecular Devices SoftMax Pro: the OD is beyond the reader's range.
    "range?": SATURATED,
    # SoftMax Pro: "#SAT" in a well whose raw signal saturated the detector
    # (shown in place of the value in its reduced and exported data).
    "#sat": SATURATED,
    # SoftMax Pro: the PathCheck correction failed, so there is no corrected
    # value; that says nothing about the signal being high, hence MISSING.
    "path?": MISSING,
    # SoftMax Pro: the user masked the well.
    "masked": MASKED,
    # Bio-Rad Bio-Plex Manager: out of range above the curve.
    "oor >": SATURATED,
    # Bio-Plex: out of range below. Decision: MISSING, not 0 and not a value:
    # there is no usable number, and the kept token says it was low.
    "oor <": MISSING,
    # Bio-Plex also prints them unspaced ("OOR>", "OOR<"): the same meanings.
    "oor>": SATURATED,
    "oor<": MISSING,
    # Bio-Plex: out of range, direction not printed. No number and no side to
    # take it to, so MISSING (never SATURATED: it may be low).
    "oor": MISSING,
    # "Range" without SoftMax's question mark (Bio-Plex and older SoftMax
    # exports): the value is outside the measurable range. As "Range?", the
    # reader's range is exceeded upwards (an absorbance only leaves it upwards).
    "range": SATURATED,
    # Bio-Plex: value could not be computed.
    "***": MISSING,
    # Bio-Plex and several spreadsheets: dash for "no value".
    "---": MISSING,
    # SoftMax Pro (and Python/Excel writers): infinite OD means no light came
    # through the well, i.e. beyond the top of the range; -Inf has no such
    # meaning for an OD, so it is only a missing value.
    "inf": SATURATED,
    "+inf": SATURATED,
    "infinity": SATURATED,
    "-inf": MISSING,
    # SoftMax Pro and pandas-written CSVs: not a number.
    "nan": MISSING,
    # Generic "not available" (also Gen5 prints n/a in header fields).
    "n/a": MISSING,
    "na": MISSING,
    "#n/a": MISSING,
}

# ASCII digits only: Python's \d (and float()) also take fullwidth and
# Arabic-Indic digits, which no reader writes; such a cell is refused.
_NUMBER = r"[+-]?(?:[0-9]+(?:{d}[0-9]*)?|{d}[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER_DOT = re.compile(_NUMBER.format(d=r"\.") + r"\Z")
_NUMBER_COMMA = re.compile(_NUMBER.format(d=",") + r"\Z")
# ">4.000" (an over-range OD printed as the range's top): SATURATED.
# "<0.001" (below the range's bottom): MISSING, like "OOR <".
_BOUND_DOT = re.compile(r"([<>])\s*" + _NUMBER.format(d=r"\.") + r"\Z")
_BOUND_COMMA = re.compile(r"([<>])\s*" + _NUMBER.format(d=",") + r"\Z")
_SPACES = re.compile(r"\s+")
# Bio-Plex Manager: "*12.3", a value extrapolated beyond the standard curve.
_STAR_PREFIX_DOT = re.compile(r"\*\s*" + _NUMBER.format(d=r"\.") + r"\Z")
_STAR_PREFIX_COMMA = re.compile(r"\*\s*" + _NUMBER.format(d=",") + r"\Z")
# Gen5: "*0.356*", a value between asterisks (Gen5 marks so a number outside
# the range it validated: extrapolated off the standard curve, or outside the
# reader's specified range). Printed, but not a measurement to use.
_STARRED_DOT = re.compile(r"\*\s*" + _NUMBER.format(d=r"\.") + r"\s*\*\Z")
_STARRED_COMMA = re.compile(r"\*\s*" + _NUMBER.format(d=",") + r"\s*\*\Z")
# Bounds a cell's text: no reading is longer (an export's cell over this is
# hostile or corrupt; the CSV module's own limit is the same 128 KB).
MAX_CELL_CHARS = 128 * 1024


def parse_reading(text: str, decimal: str = ".") -> Reading:
    """One cell's text as a reading: None if empty, a float, or a known Token.

    ``decimal`` is "." or "," (only when the file is known to use decimal
    commas). Anything else raises :class:`InputError` rather than becoming NaN.
    """
    if decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ',', not {decimal!r}")
    if len(text) > MAX_CELL_CHARS:
        raise InputError(
            f"a cell of {len(text) // 1024} KB: longer than any reading "
            f"(limit {MAX_CELL_CHARS // 1024} KB)"
        )
    stripped = text.strip()
    if not stripped:
        return None
    number = _NUMBER_DOT if decimal == "." else _NUMBER_COMMA
    if number.match(stripped):
        value = float(stripped.replace(",", "."))
        if not math.isfinite(value):
            raise InputError(
                f"reading '{shown(stripped)}' is not a finite number "
                "(beyond what a reader can print)"
            )
        return value
    key = _SPACES.sub(" ", stripped.lower())
    status = TOKENS.get(key)
    if status is not None:
        return Token(status, stripped)
    bound = (_BOUND_DOT if decimal == "." else _BOUND_COMMA).match(stripped)
    if bound:
        return Token(SATURATED if bound.group(1) == ">" else MISSING, stripped)
    if (_STARRED_DOT if decimal == "." else _STARRED_COMMA).match(stripped):
        return Token(MISSING, stripped)
    if (_STAR_PREFIX_DOT if decimal == "." else _STAR_PREFIX_COMMA).match(stripped):
        return Token(MISSING, stripped)
    if any(c.isdigit() and not c.isascii() for c in stripped):
        raise InputError(
            f"reading '{shown(stripped)}' has non-ASCII digits (fullwidth or Arabic-Indic?): "
            "readers write ASCII digits; re-export the file from the reader software"
        )
    hint = ""
    if decimal == "." and _NUMBER_COMMA.match(stripped):
        hint = " (a decimal comma? this file was read with decimal points)"
    elif decimal == "," and _NUMBER_DOT.match(stripped):
        hint = " (a decimal point? this file was read with decimal commas)"
    raise InputError(
        f"unknown reading '{shown(stripped)}': not a number or a known reader token{hint}"
    )


def shown(text: str, limit: int = 40) -> str:
    """Cell text fit for a one-line message: control characters escaped, long text cut."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def guess_decimal(cells: Iterable[str]) -> str:
    """ "," if the numbers in ``cells`` use decimal commas (and none a point), else ".".

    Readers whose software writes numbers in the PC's locale (Gen5, plain
    grids saved by a European Excel) call this on the data cells.
    """
    comma = point = False
    for cell in cells:
        s = cell.strip()
        if not s:
            continue
        if not point and _NUMBER_DOT.match(s) and "." in s:
            point = True
        elif not comma and _NUMBER_COMMA.match(s) and "," in s:
            comma = True
        if point and comma:
            break
    return "," if comma and not point else "."
