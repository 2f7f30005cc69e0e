"""Pieces several readers share: read dates, the rows of a lettered grid, BMG's modes.

Private (the underscore keeps it out of the reader registry).
"""

from __future__ import annotations

import datetime as dt
import re

from il6assay.errors import InputError
from il6assay.plate.export import (
    ABSORBANCE,
    ALPHA,
    FLUORESCENCE,
    LUMINESCENCE,
    POLARIZATION,
    TRF,
    Reading,
    empty_grid,
    read_label,
)
from il6assay.plate.tokens import guess_decimal, parse_reading

ROW_LETTERS = "ABCDEFGHIJKLMNOP"
# Plate shape (rows, columns) by the number of columns a grid has.
SIZES_BY_COLUMNS = {12: (8, 12), 24: (16, 24)}


def iso_datetime(date: str, time: str) -> str | None:
    """ISO 8601 local date-time of the read, or None when the date is ambiguous.

    Gen5 prints the date in the PC's locale: "4/11/2024" is 11 April in the
    US and 4 November in Europe, so a day/month pair that could be either is
    left raw rather than guessed. Year-first dates and pairs with a part
    above 12 (or both parts equal) are unambiguous. No time zone is known.
    """
    day = _date(date)
    clock = _time(time)
    if day is None or clock is None:
        return None
    return dt.datetime.combine(day, clock).isoformat()


def _date(text: str) -> dt.date | None:
    text = text.strip()
    try:
        if m := re.match(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:$|[T ])", text):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", text):
            a, b, year = int(m[1]), int(m[2]), int(m[3])
            if a == b or (a <= 12 and b > 12):
                return dt.date(year, a, b)  # month/day (US order), or the same either way
            if a > 12 and b <= 12:
                return dt.date(year, b, a)  # day/month
    except ValueError:
        return None
    return None  # ambiguous day/month, two-digit year, or an unknown form


def _time(text: str) -> dt.time | None:
    m = re.fullmatch(
        r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp]\.?[Mm]\.?)?", text.strip()
    )
    if not m:
        return None
    hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
    if m[4]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m[4][0] in "Pp" else 0)
    try:
        return dt.time(hour, minute, second)
    except ValueError:
        return None


def check_row_width(
    widths: list[int] | None, i: int, letter: str, need: int, ncols: int, where: str
) -> None:
    """Refuse a text grid row with fewer fields than its header: a cut line, not unread wells.

    ``widths`` are the rows' field counts as split, before trailing empty cells
    were dropped: a reader prints an unread well as an empty field between
    separators, so a row that ends early lost its cells. None (a workbook,
    whose empty cells are not stored) checks nothing.
    """
    if widths is None or widths[i] >= need:
        return
    have = widths[i] - (need - ncols)
    raise InputError(
        f"row {letter} has {max(have, 0)} cells for {ncols} columns: shorter than its header "
        "(a cut line?); a well not read is an empty cell between separators",
        where=where,
    )


def parse_grid_rows(
    rows: list[list[str]],
    body: list[int],
    nrows: int,
    ncols: int,
    widths: list[int] | None = None,
) -> dict[str, Reading]:
    """Cells of a grid whose lines ``body`` start with a row letter, into a plate grid.

    The decimal mark is guessed once for the grid; a row letter given twice or
    a cell that is neither a number nor a known token is an error naming it.
    """
    decimal = guess_decimal(c for i in body for c in rows[i][1 : ncols + 1])
    grid = empty_grid(nrows, ncols)
    seen: set[str] = set()
    for i in body:
        row = rows[i]
        letter = row[0]
        if letter in seen:
            raise InputError(f"row {letter} appears twice in one grid", where=f"line {i + 1}")
        seen.add(letter)
        check_row_width(widths, i, letter, ncols + 1, ncols, f"line {i + 1}")
        for col in range(1, ncols + 1):
            cell = row[col] if col < len(row) else ""
            try:
                grid[f"{letter}{col}"] = parse_reading(cell, decimal)
            except InputError as err:
                raise InputError(
                    f"well {letter}{col}: {err.message}", where=f"line {i + 1}, field {col + 1}"
                ) from None
    return grid


def column_letter(j: int) -> str:
    """Spreadsheet column name of 0-based column ``j``: 0 -> "A", 26 -> "AA"."""
    name = ""
    j += 1
    while j:
        j, rem = divmod(j - 1, 26)
        name = chr(65 + rem) + name
    return name


def sheet_where(sheet: str, i: int, j: int | None = None) -> str:
    """Where a cell (or row) is, for an error: "sheet 'Plate 1' C7"."""
    if j is None:
        return f"sheet '{sheet}' row {i + 1}"
    return f"sheet '{sheet}' {column_letter(j)}{i + 1}"


def cell_text(row: list[str], j: int) -> str:
    """A row's cell ``j``, stripped; "" beyond the row's end."""
    return row[j].strip() if j < len(row) else ""


# --- BMG LABTECH (MARS CSV and SMART Control XLSX share the header and titles) -------------

# "450", "450 1" (wavelength, chromatic), "450.0"
_BMG_RAW_LABEL = re.compile(r"(\d{3,4})(?:\.0+)?(?:\s+(\d+))?\Z")
_BMG_NOT_ENDPOINT = ("spectrum", "spectral", "scan", "kinetic")


# BMG LABTECH exports (MARS CSV, SMART Control XLSX) open with "Key: value" header lines.
BMG_KEY_VALUE = re.compile(r"([A-Za-z][A-Za-z0-9 .]*?)\s*:\s*(.*)\Z", re.DOTALL)
BMG_HEADER_KEYS = {
    "user": "user",
    "path": "path",
    "test run no.": "test_run",
    "test name": "test_name",
    "test id": "test_id",
    "date": "date",
    "time": "time",
    "id1": "id1",
    "id2": "id2",
    "id3": "id3",
}


def bmg_mode(mode: str, where: str, start: str) -> str:
    """A BMG (MARS, SMART Control) mode line in il6assay's words; unknown/kinetic refused."""
    low = mode.lower()
    if not mode:
        raise InputError("no read mode line ('Absorbance') before the data", where=start)
    if any(w in low for w in _BMG_NOT_ENDPOINT):
        raise InputError(
            f"'{mode}' is not an endpoint read: il6assay reads endpoint plates; "
            "export the endpoint read from MARS",
            where=where,
        )
    if "absorbance" in low:
        return ABSORBANCE
    if "polari" in low or re.search(r"\bfp\b", low):
        return POLARIZATION
    if "time-resolved" in low or "time resolved" in low or re.search(r"\b(trf|htrf)\b", low):
        return TRF
    if "alpha" in low:
        return ALPHA
    if "lum" in low:
        return LUMINESCENCE
    if "fluorescence" in low or re.search(r"\bfi\b", low):
        return FLUORESCENCE
    raise InputError(
        f"read mode '{mode}' is not one il6assay reads (absorbance, fluorescence, "
        "luminescence, AlphaScreen, time-resolved fluorescence, polarization)",
        where=where,
    )


_BMG_OPTICS = re.compile(r"(\d{3,4})(?:-\d+)?(?:\s*/\s*(\d{3,4})(?:-\d+)?)?(?:\s+(\d+))?\Z")


def bmg_label(inside: str, where: str, mode: str = ABSORBANCE) -> tuple[str, int | None]:
    """A BMG read label and chromatic number from the text inside ``Raw Data (...)``."""
    if mode == ABSORBANCE:
        m = _BMG_RAW_LABEL.match(inside)
        if not m:
            raise InputError(
                f"'Raw Data ({inside})' gives no single wavelength: expected 'Raw Data (450)' "
                "or 'Raw Data (450 1)' for an absorbance read",
                where=where,
            )
        return m[1], int(m[2]) if m[2] else None
    m = _BMG_OPTICS.match(inside.strip())
    if not m:
        # "Lum", "Luminescence", "AlphaScreen", "Channel A": no wavelengths in the title.
        return read_label(mode), None
    first, second = int(m[1]), int(m[2]) if m[2] else None
    ex, em = (first, second) if second is not None else (None, first)
    return read_label(mode, excitation=ex, emission=em), int(m[3]) if m[3] else None
