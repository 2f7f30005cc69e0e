"""Pieces several readers share: read dates, and the rows of a lettered grid.

Private (the underscore keeps it out of the reader registry).
"""

from __future__ import annotations

import datetime as dt
import re

from il6assay.errors import InputError
from il6assay.plate.export import Reading, empty_grid
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


def parse_grid_rows(
    rows: list[list[str]], body: list[int], nrows: int, ncols: int
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
