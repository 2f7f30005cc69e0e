"""BMG LABTECH SMART Control XLSX exports (the VANTAstar/CLARIOstar Plus "Excel report").

Layout: one workbook per plate. Each sheet starts with the header BMG's MARS
CSV also writes (``User:``, ``Path:``, ``Test ID:``, ``Test Name:``,
``Date:``, ``Time:``, ``ID1:`` .. ``ID3:``, one cell a line), then the read
mode on a line of its own (``Fluorescence (FI)``, ``Absorbance``,
``Luminescence``, ...). The sheets:

- ``Microplate End point``: numbered sections, each a title in column B
  (``1. Layout``, ``2. Standard Concentrations in ng/mL``, ``3. Dilutions``,
  ``4. Raw Data (480-14/520-30)``, ``5. Blank corrected based on Raw Data
  (...)``) over a grid (header row 1-12 or 1-24, rows A-H or A-P);
- ``Table End point``: the same data one row per data set (``Well`` row of
  ``A01`` ... names, then ``Raw Data (...)`` and the others);
- ``Protocol Information``: the settings (``Measurement type:``,
  ``Microplate name:``, ``Excitation:``, ``Emission:``, ...).

What is read:

- One plate per workbook; id = ``ID3`` (the plate's name, as allotropy reads
  it), else ``ID1``, else the test name, else the file stem.
- Reads: every ``Raw Data (...)`` grid of the microplate sheet (or, without
  one, every ``Raw Data (...)`` row of the table sheet), labelled by mode and
  optics as in the MARS reader: ``Raw Data (480-14/520-30)`` in a
  fluorescence export -> "fl 480/520"; ``Raw Data (450)`` -> "450";
  luminescence -> "lum". Layout, concentration, dilution and blank-corrected
  sections are SMART Control's own calculations or the plate map: skipped and
  listed in ``metadata["skipped"]`` (the fit and the blanks are ours).
- Refused: a kinetic, spectral or well-scan sheet or mode, an unknown mode,
  a workbook with no ``Raw Data`` grid, an unknown word in a well.
- Metadata: ``software`` ("BMG LABTECH SMART Control"), ``user``, ``path``,
  ``test_id``, ``test_name``, ``id1``..``id3``, ``date``, ``time`` (raw),
  ``read_datetime`` (ISO, only when unambiguous), ``read_mode``,
  ``plate_type`` (``Microplate name``), ``excitation``/``emission`` (the
  protocol's filters, raw), ``wavelengths`` (absorbance), ``skipped``.
"""

from __future__ import annotations

import re
from typing import Any

from il6assay.errors import InputError
from il6assay.plate.export import ABSORBANCE, Plate, Reading, empty_grid, unique_label
from il6assay.plate.readers._common import (
    BMG_HEADER_KEYS,
    BMG_KEY_VALUE,
    ROW_LETTERS,
    SIZES_BY_COLUMNS,
    bmg_label,
    bmg_mode,
    iso_datetime,
    sheet_where,
)
from il6assay.plate.readers._common import cell_text as _cell
from il6assay.plate.readers.source import Sniff, Source
from il6assay.plate.tokens import guess_decimal, parse_reading

NAME = "bmg-smart"
DESCRIPTION = (
    "BMG LABTECH SMART Control XLSX export (endpoint 'Raw Data' grids: absorbance, "
    "fluorescence, luminescence, Alpha, TRF)"
)
SOFTWARE = "BMG LABTECH SMART Control"
SNIFF_ROWS = 16

_RAW_DATA = re.compile(r"(?:\d+\.\s*)?raw\s+data\s*\(\s*(.*?)\s*\)\Z", re.IGNORECASE)
_SECTION = re.compile(r"\d+\.\s+\S")
_PROTOCOL_KEYS = {
    "measurement type": "measurement_type",
    "microplate name": "plate_type",
    "excitation": "excitation",
    "emission": "emission",
}
_NOT_ENDPOINT = re.compile(r"kinetic|spectr|scan", re.IGNORECASE)


def sniff(source: Source) -> Sniff:
    """Claim a workbook whose first sheet has BMG's ``User:`` / ``Test Name:`` / ``ID1:`` header."""
    if not source.is_workbook:
        return Sniff(False, "not a workbook (SMART Control exports XLSX)")
    try:
        names = source.sheet_names
    except InputError as err:
        return Sniff(False, err.message)
    if not names:
        return Sniff(False, "a workbook without sheets")
    rows = source.sheet_rows(names[0], SNIFF_ROWS)
    firsts = [next((c for c in r if c), "").lower() for r in rows if any(r)]
    if not any(f.startswith("user:") for f in firsts[:3]):
        return Sniff(False, "first sheet does not start with BMG's 'User:' header")
    near = 0.8
    if not any(f.startswith("test name:") for f in firsts):
        return Sniff(False, "'User:' but no 'Test Name:' line (BMG header)", near)
    if not any(n.lower().startswith(("microplate", "table")) for n in names):
        return Sniff(False, "BMG header but no 'Microplate ...' or 'Table ...' sheet", near)
    return Sniff(True)


def read(source: Source) -> list[Plate]:
    """Read the workbook's plate: every raw data grid (see the module docstring)."""
    names = source.sheet_names
    meta: dict[str, Any] = {"software": SOFTWARE}
    mode_text, mode_where = "", sheet_where(names[0], 0)
    for name in names:
        rows = source.sheet_rows(name)
        text, where = _header(rows, meta, name)
        if text and not mode_text:
            mode_text, mode_where = text, where
        if name.lower().startswith("protocol"):
            _protocol(rows, meta)
    for name in names:
        if _NOT_ENDPOINT.search(name):
            raise InputError(
                f"sheet '{name}' is not an endpoint read: il6assay reads endpoint plates; "
                "export the endpoint read from SMART Control"
            )
    mode = bmg_mode(mode_text, mode_where, sheet_where(names[0], 0))
    meta["read_mode"] = mode_text
    if "date" in meta:
        meta["read_datetime"] = iso_datetime(meta["date"], meta.get("time", ""))
    skipped: list[str] = []
    plate_sheets = [n for n in names if n.lower().startswith("microplate")]
    table_sheets = [n for n in names if n.lower().startswith("table")]
    reads: dict[str, dict[str, Reading]] = {}
    size = (8, 12)
    for name in plate_sheets:
        size = _microplate(name, source.sheet_rows(name), mode, reads, skipped, size)
    if not reads:
        for name in table_sheets:
            size = _table(name, source.sheet_rows(name), mode, reads, skipped)
    if not reads:
        found = ", ".join(f"'{t}'" for t in skipped) or "no data section"
        raise InputError(
            f"no 'Raw Data (...)' grid in this SMART Control export (found {found}): "
            "export the raw data"
        )
    if mode == ABSORBANCE:
        meta["wavelengths"] = [int(label.split()[0]) for label in reads]
    meta["skipped"] = skipped
    plate_id = meta.get("id3") or meta.get("id1") or meta.get("test_name") or source.path.stem
    nrows, ncols = size
    return [Plate(id=plate_id, reads=reads, metadata=meta, rows=nrows, cols=ncols)]


def _header(rows: list[list[str]], meta: dict[str, Any], sheet: str) -> tuple[str, str]:
    """Fill ``meta`` from a sheet's ``Key: value`` header; return the mode line and where."""
    for i, row in enumerate(rows[:SNIFF_ROWS]):
        cells = [c for c in row if c]
        if not cells:
            continue
        if len(cells) == 1 and (m := BMG_KEY_VALUE.fullmatch(cells[0])):
            key = m[1].lower()
            if key in BMG_HEADER_KEYS:
                meta.setdefault(BMG_HEADER_KEYS[key], m[2].strip())
                continue
        if len(cells) == 1 and i > 2 and not _SECTION.match(cells[0]):
            return cells[0], sheet_where(sheet, i)
        if len(cells) > 1:
            break
    return "", ""


def _protocol(rows: list[list[str]], meta: dict[str, Any]) -> None:
    for row in rows:
        if len(row) >= 2 and row[0].endswith(":"):
            key = row[0].rstrip(":").strip().lower()
            if key in _PROTOCOL_KEYS and row[1]:
                meta.setdefault(_PROTOCOL_KEYS[key], row[1].strip())


def _microplate(
    sheet: str,
    rows: list[list[str]],
    mode: str,
    reads: dict[str, dict[str, Reading]],
    skipped: list[str],
    size: tuple[int, int],
) -> tuple[int, int]:
    """Read the ``Raw Data`` grids of a microplate sheet into ``reads``; the plate size."""
    for i, row in enumerate(rows):
        ncols = _header_columns(row)
        if not ncols or i == 0:
            continue
        title = next((c for c in rows[i - 1] if c), "")
        raw = _RAW_DATA.match(title)
        if not raw:
            name = re.sub(r"^\d+\.\s*", "", title)
            if name and name not in skipped:
                skipped.append(name)
            continue
        if ncols not in SIZES_BY_COLUMNS:
            raise InputError(
                f"grid with columns 1-{ncols}: il6assay reads 96-well (1-12) and 384-well "
                "(1-24) plates",
                where=sheet_where(sheet, i),
            )
        size = SIZES_BY_COLUMNS[ncols]
        label, _ = bmg_label(raw[1], sheet_where(sheet, i - 1), mode)
        label = unique_label(label, reads)
        reads[label] = _grid(sheet, rows, i, size)
    return size


def _header_columns(row: list[str]) -> int:
    """N if ``row`` is a grid header: an empty first cell, then 1..N."""
    if len(row) < 3 or _cell(row, 0) or _cell(row, 1) != "1":
        return 0
    n = 0
    while _cell(row, n + 1) == str(n + 1):
        n += 1
    return n


def _grid(
    sheet: str, rows: list[list[str]], header: int, size: tuple[int, int]
) -> dict[str, Reading]:
    nrows, ncols = size
    letters = ROW_LETTERS[:nrows]
    body = []
    for i in range(header + 1, min(header + 1 + nrows, len(rows))):
        if _cell(rows[i], 0) != letters[len(body)]:
            break
        body.append(i)
    if not body:
        raise InputError(
            "grid header without rows A, B, ... below it", where=sheet_where(sheet, header)
        )
    decimal = guess_decimal(_cell(rows[i], c) for i in body for c in range(1, ncols + 1))
    grid = empty_grid(nrows, ncols)
    for i in body:
        row = rows[i]
        letter = _cell(row, 0)
        if any(_cell(row, c) for c in range(ncols + 1, len(row))):
            raise InputError(
                f"row {letter} has values beyond column {ncols}", where=sheet_where(sheet, i)
            )
        for c in range(1, ncols + 1):
            try:
                grid[f"{letter}{c}"] = parse_reading(_cell(row, c), decimal)
            except InputError as err:
                raise InputError(
                    f"well {letter}{c}: {err.message}", where=sheet_where(sheet, i, c)
                ) from None
    return grid


def _table(
    sheet: str,
    rows: list[list[str]],
    mode: str,
    reads: dict[str, dict[str, Reading]],
    skipped: list[str],
) -> tuple[int, int]:
    """Read the ``Raw Data`` rows of a table sheet (a ``Well`` row of A01 ... names)."""
    wells: list[str] = []
    size = (8, 12)
    for i, row in enumerate(rows):
        first = _cell(row, 0)
        if first.lower() == "well":
            wells = [_well(_cell(row, j)) for j in range(1, len(row))]
            big = any(w and (w[0] > "H" or int(w[1:]) > 12) for w in wells)
            size = (16, 24) if big else (8, 12)
            continue
        if not wells or not first:
            continue
        raw = _RAW_DATA.match(first)
        if not raw:
            if first not in skipped and first.lower() != "content":
                skipped.append(first)
            continue
        label, _ = bmg_label(raw[1], sheet_where(sheet, i), mode)
        label = unique_label(label, reads)
        decimal = guess_decimal(_cell(row, j) for j in range(1, len(row)))
        grid = empty_grid(*size)
        for j, well in enumerate(wells, start=1):
            if not well:
                continue
            if well not in grid:
                raise InputError(
                    f"well {well} is outside a {size[0] * size[1]}-well plate",
                    where=sheet_where(sheet, i, j),
                )
            try:
                grid[well] = parse_reading(_cell(row, j), decimal)
            except InputError as err:
                raise InputError(
                    f"well {well}: {err.message}", where=sheet_where(sheet, i, j)
                ) from None
        reads[label] = grid
    return size


def _well(text: str) -> str:
    """``A01`` -> ``A1``; "" for a cell that is not a well name."""
    m = re.fullmatch(r"([A-P])0*(\d{1,2})", text.strip())
    return f"{m[1]}{int(m[2])}" if m else ""
