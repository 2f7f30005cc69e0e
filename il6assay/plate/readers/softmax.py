"""Molecular Devices SoftMax Pro text exports (``.txt``, "Export as text, all sections").

Layout: a ``##BLOCKS= n`` line, then ``n`` blocks each ending ``~End``:
``Note:`` blocks (protocol notes), ``Plate:`` blocks (the reads) and
``Group:`` blocks (SoftMax's sample tables and calculations). SoftMax writes
UTF-16 LE with a BOM, or the PC's code page; :func:`~il6assay.plate.readers.source.decode`
handles both. A ``Plate:`` line is a tab-separated header; for absorbance its
fields are: name, export version (``1.3``), export format (``PlateFormat`` or
``TimeFormat``), read type (``Endpoint``, ``Kinetic``, ``Spectrum``, ``Well
Scan``), read mode (``Absorbance``, ...), data type, pre-read, kinetic
points, read time, interval, start/end/step wavelength, number of
wavelengths, wavelengths (``"260 280 340 "``), first column, number of
columns, number of wells, first row, number of rows.

What is read:

- Plates: every ``Plate:`` block of an **absorbance endpoint** read, in file
  order (id = the block's name). Two blocks with the same name (allotropy#979)
  do not overwrite each other: the second becomes ``"Plate01 (2)"``, its
  ``metadata["plate_name"]`` keeping the printed name.
- ``PlateFormat``: a column-header row (``Temperature(°C)``, then one run of
  column numbers per wavelength, runs separated by an empty field) and one
  line per plate row, A first; the first row read gives the temperature. A
  partial plate prints the rows it did not read as lines of tabs (kept as
  rows, their wells empty); an empty line, or the plate's last row, ends the
  raw grid. ``TimeFormat``: a header row of well names (``A1`` ...) and one
  line per wavelength, blank lines between. Cells are placed by the column
  numbers / well names printed in the header row, not by the header's first-
  column/number-of-columns fields, which mislead on partial plates
  (allotropy#333, #1013); the plate's size comes from the number of wells (96
  or 384); a header declaring another count (``24``, a plate read in part) misleads:
  the plate is the smallest 96- or 384-well one holding the wells printed, the count kept
  in ``metadata["declared_wells"]``. Wells the export leaves empty are ``None``.
- Reads: one per wavelength, labelled by the wavelength ("450"). A
  wavelength listed twice in one block (``"426 426 426"``) gives ``"426"``,
  ``"426 (2)"``, ``"426 (3)"``, listed in ``metadata["duplicate_wavelengths"]``.
- Only the raw grid is read: the grid SoftMax writes below it without a
  temperature column is its reduced data, skipped (the blank handling and
  the fit are ours). A block holding only reduced data is refused.
- Skipped and listed in ``metadata["skipped"]``: ``Note`` and ``Group``
  blocks, reduced grids, and plate blocks of other read types or modes.
- Refused: a file whose plate blocks are all kinetic, spectral, well-scan or
  non-absorbance (the error names the first such block); a file that ends
  before its declared number of blocks; a file of group tables only none of which
  lists wells with their values (the error names the tables).
- Group tables only (no ``Plate:`` block): each table's ``Wells``/``Value`` columns give
  the listed wells' values (SoftMax's ``!WellValues``), one plate per ``WellPlateName``,
  read label ``Value`` (no mode: the tables name no wavelength).
- Numbers: the block's decimal mark is guessed from its cells (a European PC
  writes ``0,123``). A block that otherwise uses points but has a cell like
  ``0,02`` (a comma that cannot be a thousands separator) reads it as 0.02
  and lists the cell in ``metadata["decimal_comma_cells"]``; ``1,234`` is
  refused. Words (``Range?``, ``Masked``, ``Path?``, ``NaN``) go through
  :func:`~il6assay.plate.tokens.parse_reading`.
- Metadata: ``software`` ("SoftMax Pro"), ``plate_name``, ``export_version``,
  ``export_format``, ``read_type``, ``read_mode``, ``data_type``,
  ``wavelengths`` (ints), ``temperature`` (°C; a printed 0 or NaN means the
  reader did not report it, allotropy#639, and gives None),
  ``original_filename`` and ``date_last_saved`` (raw, from the last line:
  when the file was saved, not when the plate was read), ``read_datetime``
  (always None: the text export holds no acquisition time; reader model,
  serial and software version are not in it either), ``skipped``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from il6assay.errors import InputError
from il6assay.plate.export import (
    ABSORBANCE,
    ALPHA,
    FLUORESCENCE,
    LUMINESCENCE,
    POLARIZATION,
    TRF,
    Plate,
    Reading,
    empty_grid,
    read_label,
    unique_label,
)
from il6assay.plate.readers.source import Sniff, Source
from il6assay.plate.tokens import guess_decimal, parse_reading

NAME = "softmax"
DESCRIPTION = (
    "Molecular Devices SoftMax Pro text export (endpoint plate blocks: absorbance, "
    "fluorescence, luminescence, TRF, Alpha)"
)

_BLOCKS = re.compile(r"##BLOCKS=\s*(\d+)")
_WELL = re.compile(r"([A-P])(\d{1,2})\Z")
# "0,02", "0,5", "-0,014": a comma that cannot separate thousands (integer
# part 0, or not exactly three digits after it).
_UNAMBIGUOUS_COMMA = re.compile(r"[+-]?(?:0,\d+|\d+,(?:\d{1,2}|\d{4,}))(?:[eE][+-]?\d+)?\Z")
_SIZES = {96: (8, 12), 384: (16, 24)}
_LETTERS = "ABCDEFGHIJKLMNOP"
NOT_ENDPOINT_ERROR = (
    "il6assay reads endpoint plates; export the endpoint plate section from SoftMax Pro"
)
# SoftMax's read modes (the header's fifth field) in il6assay's words.
_MODES = {
    "absorbance": ABSORBANCE,
    "fluorescence": FLUORESCENCE,
    "luminescence": LUMINESCENCE,
    "timeresolved": TRF,
    "time resolved": TRF,
    "trf": TRF,
    "htrf": TRF,
    "polarization": POLARIZATION,
    "fluorescencepolarization": POLARIZATION,
    "alphascreen": ALPHA,
    "alpha": ALPHA,
}
# The read of a group-tables-only file: SoftMax's per-well plate value, mode not printed.
GROUP_READ = "Value"
_DATA_TYPES = ("raw", "reduced", "both")


@dataclass
class _Line:
    """A line's tab-separated fields (stripped) and its 1-based number."""

    number: int
    cells: list[str]

    @property
    def blank(self) -> bool:
        return not any(self.cells)

    @property
    def empty(self) -> bool:
        """No field at all: a section break (a row not read is a line of tabs, not empty)."""
        return len(self.cells) <= 1 and not any(self.cells)

    def cell(self, j: int) -> str:
        return self.cells[j] if j < len(self.cells) else ""


@dataclass
class _Block:
    kind: str  # "Plate", "Group", "Note", ...
    lines: list[_Line]

    @property
    def title(self) -> str:
        first = self.lines[0].cells
        name = first[0].partition(":")[2].strip() or (first[1] if len(first) > 1 else "")
        return f"{self.kind} '{name}'" if name else self.kind


@dataclass
class _Read:
    label: str
    wells: dict[str, Reading] = field(default_factory=dict)


def sniff(source: Source) -> Sniff:
    """Claim a text file whose first line is ``##BLOCKS= n`` (or a bare ``Plate:`` block)."""
    if source.is_zip or source.is_ole:
        return Sniff(False, "a binary file, not a SoftMax Pro text export")
    first = next((line.strip() for line in source.head_text.splitlines() if line.strip()), "")
    if _BLOCKS.match(first):
        return Sniff(True)
    if first.startswith("Plate:") and ("PlateFormat" in first or "TimeFormat" in first):
        return Sniff(True)
    return Sniff(False, "no '##BLOCKS=' line at the start")


def read(source: Source) -> list[Plate]:
    """Read every absorbance endpoint plate block (see the module docstring)."""
    lines = [
        _Line(n, [c.strip() for c in text.split("\t")])
        for n, text in enumerate(source.text.splitlines(), start=1)
    ]
    blocks, file_meta = _blocks(lines)
    plates: list[Plate] = []
    skipped: list[str] = []
    warnings: list[str] = []
    refused: list[tuple[_Block, str]] = []
    for block in blocks:
        if block.kind != "Plate":
            skipped.append(block.title)
            continue
        header = block.lines[0]
        read_type, mode = header.cell(4), header.cell(5)
        if read_type.lower() != "endpoint" or _mode(mode) is None:
            skipped.append(f"{block.title} ({read_type} {mode})")
            refused.append((block, f"{read_type} {mode}".strip()))
            continue
        if not _has_data(block):
            # SoftMax writes a block for every plate of the experiment, read or not.
            what = f"{block.title} (line {header.number}) holds no data lines: skipped"
            skipped.append(what)
            warnings.append(what)
            continue
        plates.append(_plate(block, file_meta))
    if not plates:
        if refused:
            block, what = refused[0]
            raise InputError(
                f"{block.title} is a {what} read: {NOT_ENDPOINT_ERROR}",
                where=f"line {block.lines[0].number}",
            )
        if warnings:
            raise InputError(
                f"no plate block with data in this SoftMax Pro export ({'; '.join(warnings)})"
            )
        groups = [b for b in blocks if b.kind == "Group"]
        if groups:
            return _group_plates(groups, file_meta, skipped)
        raise InputError("no 'Plate:' block in this SoftMax Pro export")
    seen: dict[str, int] = {}
    for plate in plates:
        name = plate.id
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            plate.id = f"{name} ({seen[name]})"
        plate.metadata["skipped"] = plate.metadata["skipped"] + skipped
    if plates and warnings:
        plates[0].metadata["warnings"] = warnings
    return plates


def _group_plates(
    groups: list[_Block], file_meta: dict[str, Any], skipped: list[str]
) -> list[Plate]:
    """A file of group tables only: each well's value from the tables' Wells/Value columns.

    A table lists wells (``Wells``, or ``Well``) and their plate values (``Value``, or
    ``Values``, SoftMax's ``!WellValues``), with the plate's name in ``WellPlateName``.
    Tables without those columns are skipped; none with them is a one-line refusal.
    """
    listed: list[tuple[str, str, str, str, str]] = []  # (plate, well, text, table, where)
    used: list[str] = []
    for block in groups:
        header = block.lines[1] if len(block.lines) > 1 else _Line(0, [])
        names = [c.lower() for c in header.cells]
        well_j = next((names.index(n) for n in ("wells", "well") if n in names), None)
        value_j = next((names.index(n) for n in ("value", "values") if n in names), None)
        formula = _group_formula(block, header.cell(value_j) if value_j is not None else "")
        if well_j is None or value_j is None or formula not in ("", "!wellvalues"):
            continue
        plate_j = names.index("wellplatename") if "wellplatename" in names else None
        used.append(block.title)
        for line in block.lines[2:]:
            if line.blank:
                break
            well = line.cell(well_j)
            if not _WELL.match(well):
                continue  # a well list SoftMax prints as a range or a note, not one well
            plate = (line.cell(plate_j) if plate_j is not None else "") or "Groups"
            where = f"line {line.number}, field {value_j + 1}"
            listed.append((plate, well, line.cell(value_j), block.title, where))
    decimal = guess_decimal(text for _p, _w, text, _t, _where in listed)
    reads: dict[str, dict[str, tuple[Reading, str]]] = {}
    for plate, well, text, table, where in listed:
        try:
            value = parse_reading(text, decimal)
        except InputError as err:
            raise InputError(f"well {well} ({table}): {err.message}", where=where) from None
        grid = reads.setdefault(plate, {})
        if well in grid and grid[well][0] != value:
            raise InputError(
                f"well {well} of plate '{plate}' has {grid[well][1]} in one group table and "
                f"{text} in {table}",
                where=where,
            )
        grid[well] = (value, text)
    if not reads:
        raise InputError(
            f"no 'Plate:' block in this SoftMax Pro export, only {', '.join(skipped)}, and no "
            "group table lists wells with their values ('Wells' and 'Value' columns): export "
            "the plate section"
        )
    plates = []
    for name, grid in reads.items():
        rows, cols = _fitting_size(
            [(w, "", t, 0, 0) for w, (_v, t) in grid.items()], name, "group tables"
        )
        values = empty_grid(rows, cols)
        values.update({w: v for w, (v, _t) in grid.items()})
        meta: dict[str, Any] = {
            "software": "SoftMax Pro",
            "plate_name": name,
            "source": "group tables",
            "group_tables": used,
            **file_meta,
            "read_datetime": None,
            "skipped": [s for s in skipped if s not in used],
        }
        plates.append(
            Plate(id=name, reads={GROUP_READ: values}, metadata=meta, rows=rows, cols=cols)
        )
    return plates


def _group_formula(block: _Block, column: str) -> str:
    """The formula of a group column (``!WellValues``), lower case; "" when not printed."""
    for k, line in enumerate(block.lines):
        if line.cell(0) == "Group Column" and line.cell(2) == "Formula":
            for row in block.lines[k + 1 :]:
                if row.blank:
                    break
                if row.cell(1) == column:
                    return row.cell(2).lower()
    return ""


def _mode(text: str) -> str | None:
    return _MODES.get(text.strip().lower())


def _has_data(block: _Block) -> bool:
    """Whether a plate block holds raw data lines (not only its reduced grid, or nothing).

    PlateFormat: the lines after the column header up to the first blank one;
    TimeFormat: the lines up to the reduced grid's header of well names.
    """
    body = block.lines[1:]
    if not body or not body[0].cell(1).lower().startswith("temperature"):
        return any(not line.blank for line in body)
    time_format = block.lines[0].cell(3) == "TimeFormat"
    for line in body[1:]:
        if line.blank:
            if time_format or not line.empty:
                continue  # a partial plate's row not read: a line of tabs
            return False
        if time_format and not line.cell(1) and _WELL.match(line.cell(2)):
            return False
        if any(line.cells[1:]):
            return True
    return False


def _offset(header: _Line) -> int:
    """Shift of the header's fields after the read mode: fluorescence headers carry one more.

    The data type (``Raw``/``Reduced``) is field 6 for absorbance and
    luminescence, field 7 for fluorescence (after an extra flag); every
    field after it moves with it.
    """
    for j in (6, 7, 8):
        if header.cell(j).lower() in _DATA_TYPES:
            return j - 6
    return 0


def _blocks(lines: list[_Line]) -> tuple[list[_Block], dict[str, Any]]:
    """The ``~End``-terminated blocks and the file's trailing metadata."""
    i = next((k for k, line in enumerate(lines) if not line.blank), len(lines))
    declared = None
    if i < len(lines) and (m := _BLOCKS.match(lines[i].cells[0])):
        declared = int(m[1])
        i += 1
    blocks: list[_Block] = []
    meta: dict[str, Any] = {}
    current: list[_Line] = []
    for line in lines[i:]:
        first = line.cells[0]
        if not current:
            if line.blank:
                continue
            if first.startswith("Original Filename:"):
                text = "\t".join(line.cells)
                name, _, saved = text.partition(";")
                meta["original_filename"] = name.partition(":")[2].strip()
                if "Date Last Saved:" in saved:
                    meta["date_last_saved"] = saved.partition(":")[2].strip()
                continue
        if first == "~End":
            if current:
                kind = current[0].cells[0].partition(":")[0].strip()
                blocks.append(_Block(kind, current))
            current = []
            continue
        current.append(line)
    if current:
        raise InputError(
            f"{_Block(current[0].cells[0].partition(':')[0], current).title} has no '~End' line "
            "(is the file cut short?)",
            where=f"line {current[0].number}",
        )
    if declared is not None and len(blocks) < declared:
        raise InputError(
            f"'##BLOCKS= {declared}' but the file holds {len(blocks)} blocks "
            "(is the file cut short?)",
            where=f"line {lines[-1].number}" if lines else None,
        )
    return blocks, meta


def _plate(block: _Block, file_meta: dict[str, Any]) -> Plate:
    header = block.lines[0]
    where = f"line {header.number}"
    name = header.cell(1)
    if not name:
        raise InputError("plate block without a name", where=where)
    fmt = header.cell(3)
    mode = _mode(header.cell(5)) or ABSORBANCE
    shift = _offset(header)
    wavelengths = _numbers(header, 15 + shift, name, where)
    if not wavelengths:
        raise InputError(f"plate '{name}': no wavelength in the block header", where=where)
    declared = header.cell(14 + shift)
    if declared.isdigit() and int(declared) != len(wavelengths):
        raise InputError(
            f"plate '{name}': header says {declared} wavelengths but lists "
            f"'{header.cell(15 + shift)}'",
            where=where,
        )
    declared_wells = header.cell(18 + shift)
    size = _size(header, where, 18 + shift)
    rows, cols = size or (16, 24)
    excitation: list[int] = []
    if mode in (FLUORESCENCE, TRF, POLARIZATION, ALPHA):
        excitation = _numbers(header, 19 + shift, name, where)
        if excitation and len(excitation) != len(wavelengths):
            raise InputError(
                f"plate '{name}': {len(wavelengths)} emission but {len(excitation)} excitation "
                "wavelengths in the block header",
                where=where,
            )
    labels = _labels(wavelengths, mode, excitation)
    meta: dict[str, Any] = {
        "software": "SoftMax Pro",
        "plate_name": name,
        "export_version": header.cell(2),
        "export_format": fmt,
        "read_type": header.cell(4),
        "read_mode": header.cell(5),
        "data_type": header.cell(6 + shift),
        "wavelengths": wavelengths,
        **({"excitation_wavelengths": excitation} if excitation else {}),
        "temperature": None,
        **file_meta,
        "read_datetime": None,
        "skipped": [],
    }
    dupes = sorted({str(w) for w in wavelengths if wavelengths.count(w) > 1})
    if dupes:
        meta["duplicate_wavelengths"] = dupes
    body = block.lines[1:]
    if fmt == "PlateFormat":
        cells, temperature, reduced = _plate_format(body, labels, name, where, rows)
    elif fmt == "TimeFormat":
        cells, temperature, reduced = _time_format(body, labels, name, where)
    else:
        raise InputError(
            f"plate '{name}': unknown export format '{fmt}' (expected PlateFormat or TimeFormat)",
            where=where,
        )
    meta["temperature"] = temperature
    if size is None:
        # The header's well count misleads (24 wells of a 96-well plate): the plate is the
        # smallest 96- or 384-well plate that holds every well the block prints.
        rows, cols = _fitting_size(cells, name, where)
        cells = [c for c in cells if c[2] or _in_plate(c[0], rows, cols)]
        meta["declared_wells"] = int(declared_wells)
    if reduced:
        meta["skipped"].append(f"reduced data of plate '{name}'")
    reads = _values(cells, labels, rows, cols, meta)
    return Plate(id=name, reads=reads, metadata=meta, rows=rows, cols=cols)


def _numbers(header: _Line, j: int, name: str, where: str) -> list[int]:
    try:
        return [int(float(w)) for w in header.cell(j).split()]
    except ValueError:
        raise InputError(
            f"plate '{name}': wavelengths field '{header.cell(j)}' is not a list of numbers",
            where=where,
        ) from None


def _size(header: _Line, where: str, j: int = 18) -> tuple[int, int] | None:
    """The plate's rows and columns from the header's well count; None for another count."""
    wells = header.cell(j)
    if wells.isdigit() and int(wells) in _SIZES:
        return _SIZES[int(wells)]
    if wells.isdigit() and 0 < int(wells) < 384:
        return None  # a partial count (24 wells): the size comes from the wells printed
    raise InputError(
        f"plate '{header.cell(1)}': {wells or 'no'} wells in the block header "
        "(this reader takes 96- or 384-well plates)",
        where=where,
    )


def _in_plate(well: str, rows: int, cols: int) -> bool:
    m = _WELL.match(well)
    return bool(m) and _LETTERS.index(m[1]) < rows and int(m[2]) <= cols


def _fitting_size(cells: list[_Cell], name: str, where: str) -> tuple[int, int]:
    """The smallest 96- or 384-well plate holding every well printed with a value."""
    rows = cols = 0
    for well, _label, text, _number, _j in cells:
        m = _WELL.match(well)
        if m and text:
            rows = max(rows, _LETTERS.index(m[1]) + 1)
            cols = max(cols, int(m[2]))
    for size in sorted(_SIZES):
        if rows <= _SIZES[size][0] and cols <= _SIZES[size][1]:
            return _SIZES[size]
    raise InputError(f"plate '{name}': wells beyond a 384-well plate", where=where)


def _labels(
    wavelengths: list[int], mode: str = ABSORBANCE, excitation: list[int] = ()
) -> list[str]:  # type: ignore[assignment]
    """One label per wavelength: "450" (absorbance), "fl 485/535", "lum", "trf 665"..."""
    labels: list[str] = []
    for k, w in enumerate(wavelengths):
        if mode == ABSORBANCE:
            label = str(w)
        else:
            ex = excitation[k] if k < len(excitation) and excitation[k] else None
            label = read_label(mode, excitation=ex, emission=w or None)
        labels.append(unique_label(label, labels))
    return labels


def _temperature(text: str) -> float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    # NaN, or 0 printed by readers without a temperature sensor (allotropy#639).
    return None if value != value or value == 0 else value


# A cell as read from the file: (well, read label, text, line, field index).
_Cell = tuple[str, str, str, int, int]


def _raw_header(body: list[_Line], name: str, where: str) -> _Line:
    """The 'Temperature' header line a raw-data block starts with; refuse reduced-only data."""
    if not body or not body[0].cell(1).lower().startswith("temperature"):
        raise InputError(
            f"plate '{name}': no raw data (expected a 'Temperature' column header below the "
            "block header; export raw data, not only reduced data)",
            where=f"line {body[0].number}" if body else where,
        )
    return body[0]


def _plate_format(
    body: list[_Line], labels: list[str], name: str, where: str, nrows: int
) -> tuple[list[_Cell], float | None, bool]:
    head = _raw_header(body, name, where)
    # Runs of consecutive column numbers, one per wavelength.
    runs: list[list[tuple[int, int]]] = []  # [(field index, column number)]
    for j in range(2, len(head.cells)):
        text = head.cells[j]
        if not text:
            continue
        if not text.isdigit():
            raise InputError(
                f"plate '{name}': column header '{text}' is not a column number",
                where=f"line {head.number}, field {j + 1}",
            )
        col = int(text)
        if runs and runs[-1][-1][0] == j - 1 and runs[-1][-1][1] == col - 1:
            runs[-1].append((j, col))
        else:
            runs.append([(j, col)])
    if len(runs) != len(labels):
        raise InputError(
            f"plate '{name}': {len(labels)} wavelengths in the header but {len(runs)} "
            "column sets in the grid",
            where=f"line {head.number}",
        )
    cells: list[_Cell] = []
    temperature = None
    reduced = False
    columns = _filled(head.cells[2:])
    for k, line in enumerate(body[1:], start=1):
        if line.empty or k > nrows or (line.blank and not any(not ln.blank for ln in body[k:])):
            # The raw grid ends at an empty line, after the plate's rows; a line of tabs
            # within them is a row a partial plate did not read (its cells stay empty).
            reduced = any(not ln.blank for ln in body[k:])
            break
        if not line.cell(1) and _filled(line.cells[2:]) == columns:
            reduced = True  # the reduced grid's column header: the raw rows have ended
            break
        if temperature is None and not line.blank:
            temperature = _temperature(line.cell(1))
        if line.cell(0):
            raise InputError(
                f"plate '{name}': '{line.cell(0)}' in the time column of an endpoint read",
                where=f"line {line.number}",
            )
        if k > len(_LETTERS):
            raise InputError(f"plate '{name}': more than 16 rows", where=f"line {line.number}")
        letter = _LETTERS[k - 1]
        for label, run in zip(labels, runs, strict=True):
            for j, col in run:
                cells.append((f"{letter}{col}", label, line.cell(j), line.number, j))
    return cells, temperature, reduced


def _filled(cells: list[str]) -> list[str]:
    """``cells`` without trailing empty ones."""
    cells = list(cells)
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _time_format(
    body: list[_Line], labels: list[str], name: str, where: str
) -> tuple[list[_Cell], float | None, bool]:
    head = _raw_header(body, name, where)
    wells: list[tuple[int, str]] = []
    for j in range(2, len(head.cells)):
        text = head.cells[j]
        if not text:
            continue
        if not _WELL.match(text):
            raise InputError(
                f"plate '{name}': column header '{text}' is not a well name",
                where=f"line {head.number}, field {j + 1}",
            )
        wells.append((j, text))
    data = [line for line in body[1:] if not line.blank]
    # Raw lines carry a temperature; the reduced section has a header of
    # well names in field 3 and an empty temperature field.
    raw = []
    for line in data:
        if not line.cell(1) and _WELL.match(line.cell(2)):
            break
        raw.append(line)
    reduced = len(raw) < len(data)
    if len(raw) != len(labels):
        what = "kinetic points or " if len(raw) > len(labels) else ""
        raise InputError(
            f"plate '{name}': {len(labels)} wavelengths in the header but {len(raw)} data "
            f"lines ({what}a line missing?)",
            where=f"line {head.number}",
        )
    cells: list[_Cell] = []
    for label, line in zip(labels, raw, strict=True):
        if line.cell(0):
            raise InputError(
                f"plate '{name}': '{line.cell(0)}' in the time column of an endpoint read",
                where=f"line {line.number}",
            )
        for j, well in wells:
            cells.append((well, label, line.cell(j), line.number, j))
    temperature = _temperature(raw[0].cell(1)) if raw else None
    return cells, temperature, reduced


def _values(
    cells: list[_Cell], labels: list[str], rows: int, cols: int, meta: dict[str, Any]
) -> dict[str, dict[str, Reading]]:
    reads = {label: empty_grid(rows, cols) for label in labels}
    decimal = guess_decimal(c[2] for c in cells)
    commas: list[str] = []
    for well, label, text, number, j in cells:
        grid = reads[label]
        if well not in grid:
            raise InputError(
                f"well {well} is outside a {rows * cols}-well plate",
                where=f"line {number}, field {j + 1}",
            )
        try:
            value = parse_reading(text, decimal)
        except InputError as err:
            if decimal == "." and _UNAMBIGUOUS_COMMA.match(text.strip()):
                value = parse_reading(text, ",")
                commas.append(f"{label} {well}")
            else:
                raise InputError(
                    f"well {well} ({label}): {err.message}", where=f"line {number}, field {j + 1}"
                ) from None
        grid[well] = value
    if commas:
        meta["decimal_comma_cells"] = commas
    return reads
