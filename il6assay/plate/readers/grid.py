"""Plain 8x12 grids: what a lab pastes out of any reader software into CSV or Excel.

A grid is a header row ``1 .. 12`` with the row letters ``A .. H`` down the
column left of the ``1`` (the corner cell may hold anything, e.g. ``<>``).
Cells are ODs or reader tokens (:mod:`il6assay.plate.tokens`); an empty cell is a
well with no value. Text files may be comma, tab or semicolon separated (the
delimiter is the one that yields a 1..12 header); numbers with a decimal comma
are accepted when the file's numbers use commas throughout. XLSX: every
sheet is searched.

Several blocks may follow each other (in one file or across sheets), one per
read. Each block's label is the wavelength on the nearest non-empty line
above its header: ``450``, ``450 nm``, ``Read 450 nm``, ``OD 450``, ``Abs
450nm`` all give ``"450"``; a read label of another mode as il6assay writes
it (``lum``, ``fl 485/535``, ``alpha 680/615``, ``trf 665``) is that read.
An XLSX block without such a line takes its sheet's name if that is a
wavelength (a sheet called ``450``).

A single unlabelled block gets the label ``"OD"``: we do not guess "450",
since a pasted grid may as well be the 570/630 reference read or an already
corrected OD; the analysis settings say which label to use. Several blocks
must all be labelled, and no two may share a label.

One plate per file, its id the file's stem. Anything that is not a clean
8x12 grid is refused with the line (or cell) where it goes wrong.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass

from il6assay.errors import InputError
from il6assay.plate.export import ABSORBANCE, Plate, Reading, empty_grid, read_mode
from il6assay.plate.readers._common import check_row_width, column_letter
from il6assay.plate.readers.source import Sniff, Source
from il6assay.plate.tokens import guess_decimal, parse_reading

NAME = "grid"
FALLBACK = True  # vendor readers win when they claim the same file
DESCRIPTION = "plain 8x12 grid (CSV, TSV, semicolon CSV or XLSX), one block per wavelength"

ROWS = "ABCDEFGH"
NCOLS = 12
UNLABELLED = "OD"
SNIFF_ROWS = 40
# Non-empty lines allowed before the first grid (a title, a date, a note) in a
# file we claim; vendor exports carry a long header of metadata instead.
MAX_PREAMBLE = 4
# Vendor exports contain plain-looking grids too; a file with one of these
# first cells belongs to that vendor's reader, not to the plain-grid reader.
_VENDOR_MARKERS = (
    ("software version", "Gen5"),  # Agilent/BioTek Gen5
    ("user:", "BMG LABTECH MARS"),
    ("test name:", "BMG LABTECH MARS"),
    ("raw data (", "BMG LABTECH MARS"),
    ("results for ", "Revvity Kaleido"),
    ("barcode:", "Revvity Kaleido"),
    ("measurement results", "Thermo SkanIt"),
    ("##blocks", "SoftMax Pro"),
    ("plate information", "PerkinElmer EnVision"),
)
# Shortest 1,2,3,... run taken as a (possibly wrong-sized) grid header.
MIN_HEADER_RUN = 4

_LABEL = re.compile(
    r"(?:(?:read|od|abs|absorbance|wavelength|lambda)\s*[:=]?\s*)?(\d{3,4})\s*(?:nm)?",
    re.IGNORECASE,
)
_LETTER = re.compile(r"[A-Z]\Z")
_DELIMITERS = ("\t", ";", ",")

Where = Callable[[int, int | None], str]


@dataclass
class _Block:
    label: str | None
    header: int  # index of the header row
    where: str  # where the header row is, for messages
    grid: dict[str, Reading]


def sniff(source: Source) -> Sniff:
    """Claim a file whose first rows hold a 1..12 header with row A below it.

    Files with a vendor's marker (Gen5, BMG, SoftMax, ...) are left to that vendor's reader.
    """
    if source.is_ole and not source.is_xls:
        return Sniff(False, "an OLE binary (legacy .xls or a vendor's native file), not a grid")
    if source.is_workbook:
        try:
            names = source.sheet_names
        except InputError as err:
            return Sniff(False, err.message)
        heads = {name: source.sheet_rows(name, SNIFF_ROWS) for name in names}
        for name, rows in heads.items():
            vendor = _vendor(rows)
            if vendor:
                return Sniff(False, f"sheet '{name}': {vendor}")
        reasons = []
        for name, rows in heads.items():
            verdict = _sniff_rows(rows)
            if verdict.ok:
                return verdict
            reasons.append(f"sheet '{name}': {verdict.reason}")
        return Sniff(False, "; ".join(reasons[:1]) or "no sheets")
    lines = source.head_lines
    lines = lines[:SNIFF_ROWS]
    delimiter = _delimiter(lines)
    return _sniff_rows([_clean(line.split(delimiter)) for line in lines])


def read(source: Source) -> list[Plate]:
    """Read every labelled 8x12 block of the file into one plate, id = file stem."""
    blocks: list[_Block] = []
    if source.is_workbook:
        for name in source.sheet_names:
            rows = source.sheet_rows(name)
            found = _blocks(rows, _cell_where(name))
            for block in found:
                if block.label is None and _LABEL.fullmatch(name.strip()):
                    block.label = _LABEL.fullmatch(name.strip()).group(1)  # type: ignore[union-attr]
            blocks += found
    else:
        lines = source.text.splitlines()
        delimiter = _delimiter(lines[:200])
        raw = list(csv.reader(lines, delimiter=delimiter))
        rows = [_clean(r) for r in raw]
        blocks = _blocks(rows, _line_where, [len(r) for r in raw])
    if not blocks:
        raise InputError(
            "no 8x12 grid found: expected a header row 1..12 "
            "with rows A-H down the column left of it"
        )
    reads: dict[str, dict[str, Reading]] = {}
    first_at: dict[str, str] = {}
    for block in blocks:
        if block.label is None:
            if len(blocks) > 1:
                raise InputError(
                    f"{len(blocks)} grids in the file but this one has no wavelength label "
                    "on the line above its header (e.g. '450 nm')",
                    where=block.where,
                )
            block.label = UNLABELLED
        if block.label in reads:
            raise InputError(
                f"two grids labelled '{block.label}' (the first at {first_at[block.label]})",
                where=block.where,
            )
        reads[block.label] = block.grid
        first_at[block.label] = block.where
    metadata = {"grids": dict(first_at)}
    return [Plate(id=source.path.stem, reads=reads, metadata=metadata)]


def _clean(cells: list[str]) -> list[str]:
    out = [c.strip().strip('"').strip() for c in cells]
    while out and not out[-1]:
        out.pop()
    return out


def _delimiter(lines: list[str]) -> str:
    """The delimiter that turns some line into a 1..12 header; else the most frequent one."""
    for line in lines:
        for d in _DELIMITERS:
            if d in line and _header(_clean(line.split(d))):
                return d
    text = "\n".join(lines)
    return max(_DELIMITERS, key=text.count)


def _header(row: list[str]) -> tuple[int, int] | None:
    """(column of the "1", length of the 1,2,3.. run) if ``row`` is a grid header."""
    if "1" not in row:
        return None
    j = row.index("1")
    if j == 0 or any(row[: j - 1]):
        return None
    n = 0
    while j + n < len(row) and row[j + n] == str(n + 1):
        n += 1
    if n < MIN_HEADER_RUN or any(row[j + n :]):
        return None
    return j, n


def _row_letter(row: list[str], col: int) -> str | None:
    if col < len(row) and _LETTER.match(row[col]) and not any(row[:col]):
        return row[col]
    return None


def _sniff_rows(rows: list[list[str]]) -> Sniff:
    preamble = 0
    vendor = _vendor(rows)
    if vendor:
        return Sniff(False, vendor)
    for i, row in enumerate(rows):
        found = _header(row)
        if found is None:
            if any(row) and not _label_of(row):
                preamble += 1
            continue
        col, _ = found
        if i + 1 < len(rows) and _row_letter(rows[i + 1], col - 1) == "A":
            if preamble > MAX_PREAMBLE:
                return Sniff(
                    False,
                    f"{preamble} lines of other text before the first grid: "
                    "a vendor export, not a plain grid",
                )
            return Sniff(True)
    return Sniff(False, f"no header row 1..12 with row A below it in the first {len(rows)} rows")


def _vendor(rows: list[list[str]]) -> str:
    """Why these rows are a vendor's export (a marker in a first cell), or ''."""
    for row in rows:
        first = row[0].lower() if row else ""
        for marker, vendor in _VENDOR_MARKERS:
            if first.startswith(marker):
                return f"a {vendor} export ('{row[0]}'), not a plain grid"
    return ""


def _label_of(row: list[str]) -> str | None:
    text = " ".join(c for c in row if c)
    m = _LABEL.fullmatch(text)
    if m:
        return m.group(1)
    low = text.strip().lower()
    if read_mode(low) not in (None, ABSORBANCE):
        return low
    return None


def _blocks(rows: list[list[str]], where: Where, widths: list[int] | None = None) -> list[_Block]:
    decimal = guess_decimal(c for row in rows for c in row[1:])
    blocks: list[_Block] = []
    end = 0  # first row after the previous block
    i = 0
    while i < len(rows):
        found = _header(rows[i])
        if found is None or i + 1 >= len(rows):
            i += 1
            continue
        col, ncols = found
        letter_col = col - 1
        if _row_letter(rows[i + 1], letter_col) is None:
            i += 1
            continue
        header_where = where(i, None)
        # The corner cell may carry the label ("450 nm" left of the "1").
        label = _label_of([rows[i][letter_col]])
        for k in range(i - 1, end - 1, -1):
            if label:
                break
            if any(rows[k]):
                label = _label_of(rows[k])
                break
        letters: list[tuple[int, str]] = []
        k = i + 1
        while k < len(rows) and (letter := _row_letter(rows[k], letter_col)):
            letters.append((k, letter))
            k += 1
        found_rows = "".join(letter for _, letter in letters)
        if found_rows != ROWS:
            span = (
                f"{found_rows[0]}-{found_rows[-1]}"
                if found_rows == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: len(found_rows)]
                else ", ".join(found_rows)
            )
            raise InputError(f"grid is not 8x12: found rows {span}", where=header_where)
        if ncols != NCOLS:
            raise InputError(f"grid is not 8x12: found columns 1-{ncols}", where=header_where)
        grid = empty_grid()
        for r, letter in letters:
            row = rows[r]
            check_row_width(widths, r, letter, col + NCOLS, NCOLS, where(r, None))
            for n in range(NCOLS):
                j = col + n
                text = row[j] if j < len(row) else ""
                try:
                    grid[f"{letter}{n + 1}"] = parse_reading(text, decimal)
                except InputError as err:
                    raise InputError(
                        f"well {letter}{n + 1}: {err.message}", where=where(r, j)
                    ) from None
            extra = [c for c in row[col + NCOLS :] if c]
            if extra:
                raise InputError(
                    f"grid is not 8x12: value '{extra[0]}' right of column 12 in row {letter}",
                    where=where(r, None),
                )
        blocks.append(_Block(label, i, header_where, grid))
        end = i = k
    return blocks


def _line_where(i: int, j: int | None) -> str:
    return f"line {i + 1}" if j is None else f"line {i + 1}, field {j + 1}"


def _cell_where(sheet: str) -> Where:
    def where(i: int, j: int | None) -> str:
        col = column_letter(j or 0)
        return f"sheet '{sheet}' row {i + 1}" if j is None else f"sheet '{sheet}' {col}{i + 1}"

    return where
