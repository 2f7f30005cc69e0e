"""BMG LABTECH MARS CSV exports (PHERAstar, CLARIOstar, FLUOstar, SPECTROstar ...).

Layout: a header of ``Key: value`` cells (``User:``, ``Path:``, ``Test run
no.:`` on the first line; ``Test name:``, ``Date:``, ``Time:``; ``ID1:``,
``ID2:``, ``ID3:``), a line naming the read mode (``Absorbance``), then one
grid per data set, each under a title line: ``Raw Data (450)``, ``Raw Data
(450 1)`` (wavelength, then the chromatic number of a multichromatic read),
``Raw Data  (484)`` (MARS sometimes writes repeated spaces, allotropy#1243).
A grid is a header row of column numbers (1-12, 1-24 or 1-48) and rows A-H, A-P, or
for a 1536-well plate A-Z then a-f (MARS's spelling; read as the conventional AA-AF, so
MARS row ``e`` column 3 is well ``AE3``; ``AA``-``AF`` are accepted as well); a grid may
print a subset of its rows (MARS's 1536-well ``A, G, M, S, Y, e``); empty cells are wells
not read (partial plates). Lines may carry trailing
delimiters or none ("missing line end separators": then a grid row ends at its
last well with a value, and a short row is wells not read; in a file whose lines
do end in separators a short row is a cut line, refused); fields are comma
separated, or semicolon separated with decimal commas (European Windows).

What is read:

- Plates: each ``User:`` line starts a plate (normally one per file); id =
  ``ID1`` (as allotropy), else the test name, else the file stem. Two plates
  with the same id are refused rather than merged.
- Reads: every ``Raw Data (...)`` grid, labelled by mode and optics: the
  mode line (``Absorbance``, ``Fluorescence (FI)``, ``Luminescence``,
  ``AlphaScreen``, ``Time-resolved fluorescence``, ``Fluorescence
  polarization``) gives the mode, the title the optics: absorbance ``(450)``
  -> "450"; fluorescence ``(580/620)`` or ``(485-10/520)`` (excitation/
  emission, bandwidths dropped) -> "fl 580/620"; a single wavelength is the
  emission (``trf 665``); luminescence ``(Lum)`` -> "lum". The chromatic
  number (``(450 1)``) is kept in ``metadata["chromatics"]``, not used as
  the label. Grids under any other title (MARS's calculated data) are
  skipped and listed in ``metadata["skipped"]``: the fit and blanks are ours.
- Refused: an unknown read mode, a spectrum or kinetic export, an
  absorbance ``Raw Data`` title without a wavelength, grids of other
  widths, an unknown word in a well.
- Metadata: ``software`` ("BMG LABTECH MARS"), ``user``, ``path``,
  ``test_run``, ``test_name``, ``test_id``, ``id1``..``id3``, ``date``
  and ``time`` (raw, as printed), ``read_datetime`` (ISO 8601, only when
  the date is unambiguous, see :func:`~il6assay.plate.readers.gen5.iso_datetime`),
  ``read_mode``, ``wavelengths`` (ints), ``chromatics`` ({label: number}),
  ``temperature`` (°C, when the header has a non-zero one), ``skipped``.
  MARS CSV exports name no instrument model or serial number (only the
  data folder in ``Path``), so none is recorded.
"""

from __future__ import annotations

import csv
import re
from typing import Any

from il6assay.errors import InputError
from il6assay.plate.export import ABSORBANCE, Plate, Reading, row_letter, unique_label
from il6assay.plate.readers._common import (
    BMG_HEADER_KEYS,
    BMG_KEY_VALUE,
    bmg_label,
    bmg_mode,
    iso_datetime,
    parse_grid_rows,
)
from il6assay.plate.readers._common import SIZES_BY_COLUMNS as _SIZES
from il6assay.plate.readers.source import Sniff, Source

NAME = "bmg"
DESCRIPTION = (
    "BMG LABTECH MARS CSV export (endpoint 'Raw Data' grids: absorbance, fluorescence, "
    "luminescence, Alpha, TRF)"
)

SOFTWARE = "BMG LABTECH MARS"
# MARS's row letters of a 1536-well plate past Z, and the conventional names il6assay uses.
_MARS_ROWS = "abcdef"
_ROWS_1536 = [row_letter(i) for i in range(32)]
_SIZES = {**_SIZES, 48: (32, 48)}
SNIFF_ROWS = 12

_RAW_DATA = re.compile(r"raw\s+data\s*\(\s*(.*?)\s*\)\Z", re.IGNORECASE)
# "450", "450 1" (wavelength, chromatic), "450.0"
_SPACES = re.compile(r"\s+")


def sniff(source: Source) -> Sniff:
    """Claim a CSV whose first line starts ``User:`` with ``Test name:`` and ``Date:`` below."""
    if source.is_zip or source.is_ole:
        return Sniff(False, "a binary file, not a MARS CSV export")
    lines = source.head_lines
    rows = [_norm(line).lower() for line in lines if line.strip(" ,;\t\r\n")][:SNIFF_ROWS]
    if not rows or not re.match(r'"?user\s*:', rows[0]):
        return Sniff(False, "first line does not start with 'User:' (MARS CSV header)")
    head = "\n".join(rows[:4])
    if not re.search(r'(^|[,;\t])"?test\s+name\s*:', head, re.MULTILINE):
        return Sniff(False, "'User:' but no 'Test name:' line (MARS CSV header)")
    if not re.search(r'[,;\t]"?date\s*:', head):
        return Sniff(False, "'User:' and 'Test name:' but no 'Date:' (MARS CSV header)")
    return Sniff(True)


def read(source: Source) -> list[Plate]:
    """Read every plate's ``Raw Data`` absorbance grids (see the module docstring)."""
    lines = source.text.splitlines()
    delimiter = _delimiter(lines)
    rows = [[_norm(c) for c in cells] for cells in csv.reader(lines, delimiter=delimiter)]
    counts = [len(cells) for cells in rows]
    for cells in rows:
        while cells and not cells[-1]:
            cells.pop()
    # No line ends in a separator (MARS's "missing line end separators"): a grid row ends
    # at its last well with a value, so a short row is unread wells, not a cut line.
    padded = any(n != len(cells) for n, cells in zip(counts, rows, strict=True))
    widths = counts if padded else None
    starts = [i for i, r in enumerate(rows) if r and re.match(r"user\s*:", r[0], re.IGNORECASE)]
    if not starts:
        raise InputError("no 'User:' line: not a BMG MARS CSV export", where="line 1")
    plates: list[Plate] = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(rows)
        plate = _plate(rows, start, end, source.path.stem, widths)
        if any(p.id == plate.id for p in plates):
            raise InputError(
                f"two plates named '{plate.id}' in one file: give each plate its own ID1",
                where=f"line {start + 1}",
            )
        plates.append(plate)
    return plates


def _norm(text: str) -> str:
    """A cell with non-breaking spaces made plain, runs of spaces collapsed, stripped."""
    return _SPACES.sub(" ", text.replace("\xa0", " ")).strip()


def _delimiter(lines: list[str]) -> str:
    first = next((line for line in lines if line.strip()), "")
    return max((",", ";", "\t"), key=first.count)


def _plate(
    rows: list[list[str]], start: int, end: int, default_id: str, widths: list[int] | None = None
) -> Plate:
    meta: dict[str, Any] = {"software": SOFTWARE}
    mode = ""
    mode_line = start
    grids: list[tuple[int, int]] = []  # (title row index, header row index)
    last_title: int | None = None
    seen_title = False
    for i in range(start, end):
        row = rows[i]
        if not any(row):
            continue
        if _header_numbers(row) is not None:
            if last_title is None:
                raise InputError("a grid without a title line above it", where=f"line {i + 1}")
            grids.append((last_title, i))
            last_title = None
            continue
        if _is_letter(row[0]):
            continue  # a grid row: read with its grid
        is_raw = bool(_RAW_DATA.match(row[0]))
        pairs = [m for c in row if c and (m := BMG_KEY_VALUE.fullmatch(c))]
        if pairs and not is_raw:
            for m in pairs:
                key = m[1].lower()
                if key in BMG_HEADER_KEYS:
                    meta.setdefault(BMG_HEADER_KEYS[key], m[2].strip())
                elif key.startswith("temperature"):
                    _temperature(meta, m[2])
            continue
        if not mode and not seen_title and not is_raw and len([c for c in row if c]) == 1:
            mode, mode_line = row[0], i  # "Absorbance", "Fluorescence (FI)", ...
            continue
        last_title = i
        seen_title = True
    read_mode = _check_mode(mode, mode_line, start)
    meta["read_mode"] = mode
    if "date" in meta:
        meta["read_datetime"] = iso_datetime(meta["date"], meta.get("time", ""))
    plate_id = meta.get("id1") or meta.get("test_name") or default_id
    reads: dict[str, dict[str, Reading]] = {}
    chromatics: dict[str, int] = {}
    skipped: list[str] = []
    size: tuple[int, int] | None = None
    titles: set[str] = set()
    for title_row, header in grids:
        title = rows[title_row][0]
        raw = _RAW_DATA.match(title)
        if not raw:
            if title not in skipped:
                skipped.append(title)
            continue
        label, chromatic = _label(raw[1], title_row, read_mode)
        if title in titles or (label in reads and chromatic is None):
            raise InputError(
                f"two '{title}' grids for plate '{plate_id}'",
                where=f"line {title_row + 1}",
            )
        titles.add(title)
        label = unique_label(label, reads)
        numbers = _header_numbers(rows[header]) or []
        if len(numbers) not in _SIZES:
            raise InputError(
                f"grid with columns 1-{len(numbers)}: il6assay reads 96-well (1-12), "
                "384-well (1-24) and 1536-well (1-48) plates",
                where=f"line {header + 1}",
            )
        grid_size = _SIZES[len(numbers)]
        if size is not None and grid_size != size:
            raise InputError(
                "grids of different plate sizes in one plate", where=f"line {header + 1}"
            )
        size = grid_size
        reads[label] = _grid(rows, header, end, grid_size, widths)
        if chromatic is not None:
            chromatics[label] = chromatic
    if not reads:
        found = ", ".join(f"'{t}'" for t in skipped) or "no grid"
        raise InputError(
            f"no 'Raw Data (...)' grid found ({found}): export the raw data from MARS",
            where=f"line {start + 1}",
        )
    meta["wavelengths"] = [int(label.split()[0]) for label in reads if read_mode == ABSORBANCE]
    meta["chromatics"] = chromatics
    meta["skipped"] = skipped
    nrows, ncols = size or (8, 12)
    return Plate(id=plate_id, reads=reads, metadata=meta, rows=nrows, cols=ncols)


def _check_mode(mode: str, line: int, start: int) -> str:
    return bmg_mode(mode, f"line {line + 1}", f"line {start + 1}")


def _label(inside: str, row: int, mode: str = ABSORBANCE) -> tuple[str, int | None]:
    return bmg_label(inside, f"line {row + 1}", mode)


def _temperature(meta: dict[str, Any], text: str) -> None:
    # A compartment temperature of 0 means "not recorded" (allotropy#639).
    m = re.match(r"[+-]?\d+(?:[.,]\d+)?", text.strip())
    if m and float(m[0].replace(",", ".")) != 0:
        meta.setdefault("temperature", float(m[0].replace(",", ".")))


def _is_letter(cell: str) -> bool:
    return _row_name(cell) in _ROWS_1536


def _row_name(cell: str) -> str:
    """A grid row's conventional name: MARS's ``a``..``f`` (1536 wells) are ``AA``..``AF``."""
    if len(cell) == 1 and cell in _MARS_ROWS:
        return "A" + cell.upper()
    return cell


def _header_numbers(row: list[str]) -> list[int] | None:
    """Column numbers 1..N if ``row`` is a grid header (empty corner cell)."""
    if len(row) < 2 or row[0] or not row[1].isdigit() or int(row[1]) != 1:
        return None
    numbers: list[int] = []
    for cell in row[1:]:
        if not cell.isdigit() or int(cell) != len(numbers) + 1:
            return None
        numbers.append(int(cell))
    return numbers


def _grid(
    rows: list[list[str]],
    header: int,
    end: int,
    size: tuple[int, int],
    widths: list[int] | None = None,
) -> dict[str, Reading]:
    nrows, ncols = size
    letters = set(_ROWS_1536[:nrows])
    body: list[int] = []
    rows = list(rows)  # row names made conventional below, the caller's rows untouched
    for i in range(header + 1, end):
        row = rows[i]
        if row and _row_name(row[0]) != row[0]:
            row = rows[i] = [_row_name(row[0]), *row[1:]]
        if not row or row[0] not in letters:
            if row and _is_letter(row[0]):
                raise InputError(
                    f"row {row[0]} in a grid with rows A-{_ROWS_1536[nrows - 1]}",
                    where=f"line {i + 1}",
                )
            break
        if len(row) > ncols + 1 and any(row[ncols + 1 :]):
            raise InputError(
                f"row {row[0]} has values beyond column {ncols}", where=f"line {i + 1}"
            )
        body.append(i)
    if not body:
        raise InputError("grid header without rows A, B, ... below it", where=f"line {header + 1}")
    grid = parse_grid_rows(rows, body, nrows, ncols, widths)
    return grid
