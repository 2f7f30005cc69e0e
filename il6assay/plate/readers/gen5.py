"""Agilent/BioTek Gen5 exports: the text export (.txt) and the Excel export (.xlsx).

Both are read through one code path, on rows of cell text: the text export
split at tabs (CRLF or LF, trailing tabs and quoted fields tolerated), the
workbook's cells as :func:`~il6assay.plate.readers.source.cell_text` shows them.

What is read:

- Plates: each ``Plate Number`` row starts a plate (id = its value,
  "Plate 1"); a file without one is one plate named after the file. The
  header above it (``Software Version``, experiment and protocol paths)
  applies to every plate that follows, until the next ``Software Version``.
- Reads: every grid (a header row of column numbers, row letters down the
  column left of the "1") in the plate's part of the file; each line's
  trailing label says which data set it holds, so continuation lines (no row
  letter) belong to the last row letter but never inherit its read. Every
  **raw endpoint read** is returned, labelled by mode and optics (see
  :mod:`il6assay.plate.export`): ``abs450:450`` -> "450", a bare ``280`` ->
  "280"; the pathlength-correction reads ``977 [Test]`` and ``900 [Ref]`` ->
  "977" and "900"; ``fluor:485,528`` or ``Fl:485/20,528/20`` (filter sets)
  -> "fl 485/528"; ``LUM:Lum`` -> "lum" (``lum 460`` through an emission
  filter); ``Alpha`` -> "alpha" (with the wavelengths when the procedure
  names them); time-resolved fluorescence -> "trf 665"; polarization ->
  "fp 485/528 parallel" and "... perpendicular". The mode comes from the
  ``Read`` step the label names (``Fluorescence Endpoint``, ...; a step with a
  ``Fluorescence Polarization`` line reads polarization), the optics
  from the label, else from the step's filter sets. Lines of Gen5-computed
  data (``Blank 630nmAbsRead:630``, ``[Concentration]``, ``NormLum``,
  ``Log Alpha``, any label in brackets or starting with "Blank"), and layout
  lines (``Well ID``, ``Conc/Dil``) are skipped and listed in
  ``metadata["skipped"]``: the fit and the blank handling are ours to do.
  A label without the step's name (``Lum``, ``485/20,528/20``: Gen5 can leave
  it out) belongs to the one step of that mode, or to the step whose filter
  set it names; a data set matching no step (``NormLum``) is skipped.
- Results may also be a table of wells: a header row with ``Well`` (after an
  optional ``Well ID``) and one column per data set, one line per well; each
  column is classified as a matrix line's label is.
- Values: a number between asterisks (``*0.356*``) is how Gen5 marks a value
  outside the range it validated; it is kept as a token, never a number
  (:mod:`il6assay.plate.tokens`).
- Refused: a kinetic export (``Start Kinetic`` in the procedure), a file
  with no raw endpoint read, a file with only computed data.
- Metadata: ``software_version``, ``experiment_file``, ``protocol_file``,
  ``plate_number``, ``date`` and ``time`` (raw strings as printed),
  ``read_datetime`` (ISO 8601, local time, only when unambiguous, see
  :func:`iso_datetime`), ``reader_type``, ``reader_serial``,
  ``reading_type``, ``plate_type``, ``wavelengths`` (ints, from the
  absorbance endpoint steps' ``Wavelengths:`` lines), ``read_steps`` (name,
  mode, wavelengths, filter sets of every ``Read`` step), ``skipped``.
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
)
from il6assay.plate.readers._common import column_letter, iso_datetime
from il6assay.plate.readers.source import Sniff, Source
from il6assay.plate.tokens import guess_decimal, parse_reading

NAME = "gen5"
DESCRIPTION = (
    "Agilent/BioTek Gen5 text or Excel export (endpoint absorbance, fluorescence, "
    "luminescence, Alpha, TRF reads)"
)

SNIFF_ROWS = 40
SNIFF_SHEETS = 3
# allotropy looks for "Software Version" in the first 5 lines; we allow a few
# more for exports with extra blank lines or a title.
SOFTWARE_VERSION_WITHIN = 10
_MARKERS = (
    "plate number",
    "procedure details",
    "reader type",
    "reader serial number",
    "protocol file path",
    "experiment file path",
    "results",
    "layout",
)
KINETIC_ERROR = (
    "kinetic read: il6assay reads endpoint plates; export the endpoint read "
    "(not the kinetic curve) from Gen5"
)

_FILE_KEYS = {
    "software version": "software_version",
    "experiment file path": "experiment_file",
    "protocol file path": "protocol_file",
}
_PLATE_KEYS = {
    "date": "date",
    "time": "time",
    "reader type": "reader_type",
    "reader serial number": "reader_serial",
    "reading type": "reading_type",
    "plate type": "plate_type",
}
_MODE = re.compile(
    r"(absorbance|fluorescence|luminescence|alpha\w*|time.resolved|polarization)\b.*"
    r"\b(endpoint|kinetic|spectrum|scan)\b",
    re.IGNORECASE,
)
# A filter set's or monochromator's optics: "Excitation: 485/20,  Emission: 528/20".
_OPTICS = re.compile(
    r"excitation:\s*(\d+)(?:/\d+)?\b.*?emission:\s*(\d+|full light)", re.IGNORECASE
)
_EMISSION_ONLY = re.compile(r"emission:\s*(\d+)", re.IGNORECASE)
# The pathlength-correction reads of an absorbance step: "977 [Test]", "900 [Ref]".
_PATHLENGTH = re.compile(r"(?:.*:)?\s*(\d{3,4})\s*\[(?:test|ref)\]\Z", re.IGNORECASE)
_MODE_WORDS = {
    "lum": LUMINESCENCE,
    "luminescence": LUMINESCENCE,
    "alpha": ALPHA,
    "alphascreen": ALPHA,
    "alphalisa": ALPHA,
}
_LETTERS = frozenset("ABCDEFGHIJKLMNOP")  # rows of 96- and 384-well plates
_WELL = re.compile(r"[A-P](0?[1-9]|1[0-9]|2[0-4])")


@dataclass
class _Step:
    """One ``Read`` step of the procedure."""

    name: str
    mode: str = ""
    wavelengths: list[int] = field(default_factory=list)
    filters: list[tuple[int | None, int | None]] = field(default_factory=list)

    @property
    def is_abs_endpoint(self) -> bool:
        return self.mode.lower() == "absorbance endpoint"

    @property
    def is_endpoint(self) -> bool:
        return "endpoint" in self.mode.lower()

    @property
    def read_mode(self) -> str | None:
        """The step's mode in il6assay's words, None for one it does not know."""
        text = self.mode.lower()
        if "polarization" in text:
            return POLARIZATION
        if "time resolved" in text or "time-resolved" in text or "trf" in text:
            return TRF
        for word, mode in (
            ("absorbance", ABSORBANCE),
            ("fluorescence", FLUORESCENCE),
            ("luminescence", LUMINESCENCE),
            ("alpha", ALPHA),
        ):
            if word in text:
                return mode
        return None


class _Rows:
    """Rows of cell text with where each came from (text line or sheet cell)."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.origin: list[tuple[str | None, int, int]] = []

    def add(self, cells: list[str], sheet: str | None, number: int, skip: int = 0) -> None:
        """Add a row; ``skip`` is how many empty leading columns were dropped."""
        cells = list(cells)
        while cells and not cells[-1]:
            cells.pop()
        self.rows.append(cells)
        self.origin.append((sheet, number, skip))

    def where(self, i: int, j: int | None = None) -> str:
        """ "line 14" / "line 14, field 3" or "sheet 'Plate 1' row 14" / "sheet 'Plate 1' C14"."""
        sheet, number, skip = self.origin[i]
        if sheet is None:
            return f"line {number}" if j is None else f"line {number}, field {j + 1}"
        if j is None:
            return f"sheet '{sheet}' row {number}"
        return f"sheet '{sheet}' {column_letter(j + skip)}{number}"


def sniff(source: Source) -> Sniff:
    """Claim a file with "Software Version" in its first rows and Gen5's section markers."""
    if source.is_ole and not source.is_xls:
        return Sniff(
            False,
            "an OLE binary (a Gen5 .xpt experiment or a legacy .xls?): "
            "export the plate from Gen5 as text or Excel",
        )
    if source.is_workbook:
        try:
            names = source.sheet_names
        except InputError as err:
            return Sniff(False, err.message)
        reasons = []
        # Gen5's workbook export starts with its own sheets: the first few decide.
        for name in names[:SNIFF_SHEETS]:
            verdict = _sniff_rows(_trim_left(source.sheet_rows(name, SNIFF_ROWS)))
            if verdict.ok:
                return verdict
            reasons.append(f"sheet '{name}': {verdict.reason}")
        return Sniff(False, reasons[0] if reasons else "no sheets")
    lines = source.head_lines
    return _sniff_rows([_split(line) for line in lines[:SNIFF_ROWS]])


def read(source: Source) -> list[Plate]:
    """Read every plate's raw absorbance endpoint reads (see the module docstring)."""
    rows = _Rows()
    if source.is_workbook:
        for name in source.sheet_names:
            sheet = source.sheet_rows(name)
            skip = len(sheet[0]) - len(_trim_left(sheet)[0]) if sheet else 0
            for n, cells in enumerate(_trim_left(sheet), start=1):
                rows.add(cells, name, n, skip)
    else:
        for n, line in enumerate(source.text.splitlines(), start=1):
            rows.add(_split(line), None, n)
    return _parse(rows, default_id=source.path.stem)


def _trim_left(rows: list[list[str]]) -> list[list[str]]:
    """Drop leading columns that are empty in every row (a sheet laid out from column B)."""
    skip = min((next((j for j, c in enumerate(r) if c), len(r)) for r in rows if any(r)), default=0)
    return [r[skip:] for r in rows] if skip else rows


def _split(line: str) -> list[str]:
    """A text line's tab-separated cells, stripped, quotes removed, trailing blanks dropped."""
    cells = []
    for cell in line.split("\t"):
        cell = cell.strip()
        if len(cell) >= 2 and cell[0] == cell[-1] == '"':
            cell = cell[1:-1].replace('""', '"').strip()
        cells.append(cell)
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _key(row: list[str]) -> str:
    return row[0].rstrip(":").strip().lower() if row else ""


def _value(row: list[str]) -> str:
    return next((c for c in row[1:] if c), "")


def _sniff_rows(rows: list[list[str]]) -> Sniff:
    nonempty = [r for r in rows if any(r)]
    head = nonempty[:SOFTWARE_VERSION_WITHIN]
    if not any(_key(r) == "software version" for r in head):
        return Sniff(
            False, f"no 'Software Version' line in the first {SOFTWARE_VERSION_WITHIN} lines"
        )
    if not any(_key(r) in _MARKERS for r in nonempty):
        return Sniff(False, "'Software Version' but none of Gen5's sections (Plate Number, ...)")
    return Sniff(True)


def _parse(rows: _Rows, default_id: str) -> list[Plate]:
    starts = [i for i, r in enumerate(rows.rows) if _key(r) == "plate number"]
    if not starts:
        starts = [0]
    plates = []
    file_meta: dict[str, str] = {}
    scanned = 0
    for k, start in enumerate(starts):
        for row in rows.rows[scanned:start]:
            key = _key(row)
            if key == "software version":
                file_meta = {}
            if key in _FILE_KEYS:
                file_meta[_FILE_KEYS[key]] = _value(row)
        scanned = start
        end = starts[k + 1] if k + 1 < len(starts) else len(rows.rows)
        plates.append(_plate(rows, start, end, dict(file_meta), default_id))
    return plates


def _plate(rows: _Rows, start: int, end: int, meta: dict[str, Any], default_id: str) -> Plate:
    head = rows.rows[start]
    for i in range(start, end):
        row = rows.rows[i]
        if _key(row) == "plate type" and "1536" in _value(row):
            raise InputError(
                f"a 1536-well plate ('{_value(row)}'): il6assay reads 96- and 384-well plates",
                where=rows.where(i),
            )
    plate_id = _value(head) if _key(head) == "plate number" else ""
    plate_id = plate_id or default_id
    meta = {"software": "Gen5", **meta, "plate_number": plate_id}
    steps: list[_Step] = []
    step: _Step | None = None
    headers: list[int] = []
    for i in range(start, end):
        row = rows.rows[i]
        key = _key(row)
        if key in _PLATE_KEYS and _PLATE_KEYS[key] not in meta:
            meta[_PLATE_KEYS[key]] = _value(row)
        if key == "start kinetic":
            raise InputError(KINETIC_ERROR, where=rows.where(i))
        if key == "read":
            # "Read <name>" then indented lines; or "Read <mode>" when the step is unnamed.
            value = _value(row)
            step = _Step(name="" if _MODE.search(value) else value)
            steps.append(step)
            _describe(step, value)
        elif step is not None and not key and len(row) > 1:
            _describe(step, _value(row))
        elif key or not row:
            step = None
        if _grid_header(rows.rows, i) is not None or _table_header(rows.rows, i) is not None:
            headers.append(i)
    if "date" in meta:
        meta["read_datetime"] = iso_datetime(meta["date"], meta.get("time", ""))
    meta["wavelengths"] = [w for s in steps if s.is_abs_endpoint for w in s.wavelengths]
    meta["read_steps"] = [
        {
            "name": s.name,
            "mode": s.mode,
            "wavelengths": s.wavelengths,
            **({"filters": [list(f) for f in s.filters]} if s.filters else {}),
        }
        for s in steps
    ]
    reads, skipped, other_modes = _grids(rows, headers, end, steps)
    meta["skipped"] = skipped
    if not headers:
        raise InputError(
            "no results grid found: expected a 'Results' section with a header row 1-12 "
            "and rows A-H, or a table of wells (export the plate's raw read)",
            where=rows.where(start),
        )
    if not reads:
        if other_modes:
            raise InputError(
                "no endpoint read in this Gen5 export il6assay can use (found "
                + ", ".join(f"'{m}'" for m in other_modes)
                + "): il6assay reads endpoint plates",
                where=rows.where(start),
            )
        raise InputError(
            "no raw read in the results (found only "
            + ", ".join(f"'{s}'" for s in skipped)
            + "): export the raw read, not only calculated data",
            where=rows.where(start),
        )
    nrows, ncols = _size(reads, meta.get("plate_type", ""))
    grids = {}
    for label, wells in reads.items():
        grid = empty_grid(nrows, ncols)
        grid.update(wells)
        grids[label] = grid
    return Plate(id=plate_id, reads=grids, metadata=meta, rows=nrows, cols=ncols)


def _describe(step: _Step, text: str) -> None:
    if _MODE.search(text):
        step.mode = text.strip()
    elif text.strip().lower() == "fluorescence polarization":
        # A fluorescence endpoint step read in polarization: "[Parallel]"/"[Perpendicular]".
        step.mode = f"{step.mode} Polarization".strip()
    elif text.lower().startswith("wavelengths"):
        step.wavelengths = [int(w) for w in re.findall(r"\d+", text.partition(":")[2])]
    elif text.lower().startswith("pathlength correction"):
        # "Pathlength Correction: 977 / 900": two more absorbance reads of the step.
        step.wavelengths += [int(w) for w in re.findall(r"\d{3,4}", text.partition(":")[2])]
    elif m := _OPTICS.search(text):
        em = int(m[2]) if m[2].isdigit() else None
        step.filters.append((int(m[1]), em))
    elif m := _EMISSION_ONLY.search(text):
        step.filters.append((None, int(m[1])))


def _grid_header(rows: list[list[str]], i: int) -> tuple[int, list[int]] | None:
    """(column of the first number, column numbers) if row ``i`` heads a grid."""
    row = rows[i]
    j = next((j for j, c in enumerate(row) if c), None)
    if not j or not row[j].isdigit():
        return None
    numbers = []
    for cell in row[j:]:
        if not cell.isdigit() or (numbers and int(cell) != numbers[-1] + 1):
            return None
        numbers.append(int(cell))
    nxt = rows[i + 1] if i + 1 < len(rows) else []
    if len(nxt) <= j or nxt[j - 1] not in _LETTERS or any(nxt[: j - 1]):
        return None
    return j, numbers


def _table_header(rows: list[list[str]], i: int) -> tuple[int, list[int]] | None:
    """(column of "Well", columns of data sets) if row ``i`` heads a table of wells.

    Gen5 can export its Results as one line a well (``Well ID``, ``Well``, then one column
    per data set: ``LUM:Lum``, ``NormLum``) instead of matrices.
    """
    row = rows[i]
    if "Well" not in row or i + 1 >= len(rows):
        return None
    j = row.index("Well")
    nxt = rows[i + 1]
    if len(nxt) <= j or not _WELL.fullmatch(nxt[j]):
        return None
    return j, [k for k in range(j + 1, len(row)) if row[k]]


def _grids(
    rows: _Rows, headers: list[int], end: int, steps: list[_Step]
) -> tuple[dict[str, dict[str, Reading]], list[str], list[str]]:
    """Raw endpoint reads by label, labels skipped, labels of reads of other kinds."""
    reads: dict[str, dict[str, Reading]] = {}
    labels_by_line: dict[str, str] = {}
    origin: dict[tuple[str, str], int] = {}
    skipped: list[str] = []
    other_modes: list[str] = []
    # (row, label, [(column, well)]): a matrix line, or one well of a table per data set
    lines: list[tuple[int, str, list[tuple[int, str]]]] = []
    for h in headers:
        if table := _table_header(rows.rows, h):
            lines += _table_lines(rows.rows, h, end, *table)
            continue
        first, numbers = _grid_header(rows.rows, h)  # type: ignore[misc]
        letter = ""
        for i in range(h + 1, end):
            row = rows.rows[i]
            if not any(row) or any(row[: first - 1]):
                break
            cell = row[first - 1] if first - 1 < len(row) else ""
            if cell in _LETTERS:
                letter = cell
            elif cell or not letter:
                break
            label = row[first + len(numbers)] if len(row) > first + len(numbers) else ""
            lines.append((i, label, [(first + n, f"{letter}{c}") for n, c in enumerate(numbers)]))
    cells = [rows.rows[i][j] for i, _, at in lines for j, _ in at if j < len(rows.rows[i])]
    decimal = guess_decimal(cells)
    for i, label, at in lines:
        row = rows.rows[i]
        kind, read = _classify(label, steps)
        if kind == "other" and label not in other_modes:
            other_modes.append(label)
        if kind != "read":
            if label not in skipped:
                skipped.append(label)
            continue
        if read is None:
            raise InputError(
                "results line without a read label in its last column", where=rows.where(i)
            )
        read_label_ = labels_by_line.setdefault(label, read)
        wells = reads.setdefault(read_label_, {})
        for j, well in at:
            try:
                value = parse_reading(row[j] if j < len(row) else "", decimal)
            except InputError as err:
                raise InputError(f"well {well}: {err.message}", where=rows.where(i, j)) from None
            if well in wells and wells[well] != value:
                raise InputError(
                    f"well {well} has two values for read {read_label_} "
                    f"(the other at {rows.where(origin[read_label_, well])})",
                    where=rows.where(i, j),
                )
            wells[well] = value
            origin[read_label_, well] = i
    return reads, skipped, other_modes


def _table_lines(
    rows: list[list[str]], h: int, end: int, well_col: int, data_cols: list[int]
) -> list[tuple[int, str, list[tuple[int, str]]]]:
    """A table of wells as results lines: one per well and data set."""
    out = []
    for i in range(h + 1, end):
        row = rows[i]
        well = row[well_col] if well_col < len(row) else ""
        if not _WELL.fullmatch(well):
            break
        well = f"{well[0]}{int(well[1:])}"
        out += [(i, rows[h][j], [(j, well)]) for j in data_cols]
    return out


def _classify(label: str, steps: list[_Step]) -> tuple[str, str | None]:
    """What a results line holds: ("read", read label), ("other", None) or ("skip", None).

    "other" is a read of a kind il6assay does not take (a kinetic or spectral
    step's data); "skip" is computed data or layout.
    """
    text = label.strip()
    if not text:
        # No label: only acceptable when the procedure has a single absorbance wavelength.
        waves = [w for s in steps if s.is_abs_endpoint for w in s.wavelengths]
        return ("read", str(waves[0])) if len(waves) == 1 else ("read", None)
    if m := _PATHLENGTH.match(text):
        return "read", m[1]
    if (
        "[" in text and not re.search(r"\[(parallel|perpendicular)\]", text, re.IGNORECASE)
    ) or text.lower().startswith("blank"):
        return "skip", None
    name, colon, tail = text.rpartition(":")
    name, tail = name.strip(), tail.strip()
    if not colon:
        tail = text
    if not steps:
        # No procedure in the export: a wavelength label is all we can go by.
        return ("read", tail) if tail.isdigit() else ("skip", None)
    if name:
        matching = [s for s in steps if s.name.casefold() == name.casefold()]
    elif tail.isdigit():
        # An absorbance wavelength, else an emission filter's ("620": no step name).
        matching = [s for s in steps if int(tail) in s.wavelengths]
        matching = matching or _unlabelled_step(tail, steps)
    else:
        matching = _unlabelled_step(tail, steps)
    if not matching:
        return "skip", None
    step = matching[0]
    mode = step.read_mode
    if not step.is_endpoint or mode is None:
        return "other", None
    if mode == ABSORBANCE:
        return ("read", tail) if tail.isdigit() else ("other", None)
    return "read", _optics_label(mode, tail, step)


def _unlabelled_step(tail: str, steps: list[_Step]) -> list[_Step]:
    """The step a data label without a step name belongs to ("Lum", "485/20,528/20").

    An unnamed step's data is labelled by its mode word ("Alpha", "Lum"); Gen5 also drops a
    named step's name from its data lines when the export is set so. A mode word then names
    the one step of that mode, optics name the step whose filter set they are; anything else
    (a calculated data set such as "NormLum") matches no step.
    """
    word = _MODE_WORDS.get(tail.casefold())
    if word:
        unnamed = [s for s in steps if not s.name and s.read_mode == word]
        of_mode = [s for s in steps if s.read_mode == word]
        return unnamed or (of_mode if len(of_mode) == 1 else [])
    if emission := re.fullmatch(r"(\d+)(?:/\d+)?", tail):
        # One wavelength ("460/40", "620"): the step whose filter set emits there.
        em = int(emission[1])
        return [
            s for s in steps if s.read_mode != ABSORBANCE and any(f[1] == em for f in s.filters)
        ][:1]
    optics = re.fullmatch(r"(\d+)(?:/\d+)?\s*,\s*(\d+)(?:/\d+)?(?:\s*\[\w+\])?", tail)
    if not optics:
        return []
    pair = (int(optics[1]), int(optics[2]))
    by_filter = [s for s in steps if pair in s.filters]
    if by_filter:
        return by_filter[:1]
    # Monochromator steps print no filter set: the one endpoint step of a light-emitting mode.
    emitting = [
        s for s in steps if s.is_endpoint and s.read_mode not in (None, ABSORBANCE, LUMINESCENCE)
    ]
    return emitting if len(emitting) == 1 else []


def _optics_label(mode: str, tail: str, step: _Step) -> str:
    """The read label of a non-absorbance line: optics from the label, else the step's filters."""
    channel = ""
    if mode == POLARIZATION:
        low = tail.lower()
        channel = " parallel" if "parallel" in low else " perpendicular" if "perp" in low else ""
    # "485,528", "360/40,460/40": excitation then emission, each with an optional bandwidth.
    parts = [p.strip() for p in re.split(r"[,;]", re.sub(r"\[.*?\]", "", tail)) if p.strip()]
    numbers = [re.match(r"(\d+)(?:/\d+)?\Z", p) for p in parts]
    ex = em = None
    if len(parts) == 2 and all(numbers):
        ex, em = (int(n[1]) for n in numbers)  # type: ignore[index]
    elif len(parts) == 1 and numbers[0]:
        em = int(numbers[0][1])
    elif len(step.filters) == 1:
        ex, em = step.filters[0]
    return read_label(mode, excitation=ex, emission=em) + channel


def _size(reads: dict[str, dict[str, Reading]], plate_type: str) -> tuple[int, int]:
    wells = [w for grid in reads.values() for w in grid]
    big = "384" in plate_type or any(w[0] > "H" or int(w[1:]) > 12 for w in wells)
    return (16, 24) if big else (8, 12)
