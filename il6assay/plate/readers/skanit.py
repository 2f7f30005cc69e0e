"""Thermo Scientific SkanIt XLSX exports (Varioskan, Multiskan): one sheet per result.

Layout: every result sheet starts ``Measurement results``, the session file
(``*.skax``), the execution time and the step's name (``Absorbance 1``);
then, per plate and wavelength, a ``Wavelength: 450 nm`` line, the plate's
name (``Plate 1``) and a grid whose corner cell says what it holds
(``Abs`` for the raw absorbance, ``Sample`` for the layout, ``Blank
subtracted``, ``Conc. [...]`` ... for SkanIt's calculations). Information
sheets follow: ``General information`` (software), ``Session
information`` (session name, execution time), ``Instrument information``
(name, serial), ``Protocol parameters``, ``Run log`` (temperatures),
``Layout definitions`` (plate template per plate).

What is read:

- Reads: every raw grid, by its corner: ``Abs`` (absorbance, labelled by
  the wavelength above it, "450"), ``RLU`` (luminescence, "lum"), ``RFU``
  (fluorescence, or time-resolved fluorescence / Alpha when the step's name
  says so, labelled with the ``Wavelength:`` line's excitation/emission:
  "fl 485/535"; a single wavelength is the emission).
  Sheets of SkanIt's calculations (blank subtraction, standard curve,
  dilution factor, ...) and layout grids are skipped and their sheets listed
  in ``metadata["skipped"]``: the fit and the blank handling are ours.
- Plates, in file order: a grid joins the first plate of that name that has
  no read at that wavelength yet, so the 214 and 280 nm grids of "Plate 1"
  make one plate, and steps read one after another (``Absorbance 260``,
  ``Absorbance 280``) join up by plate name. A second plate with the same
  name (its wavelength already taken) becomes its own plate, ID "Plate 1
  (2)": duplicate names never overwrite each other (allotropy#979, #1025).
- Grids are 8x12 or 16x24 (384-well); empty cells are wells not read.
- Refused: a kinetic or spectral step, a file with no raw grid.
- Metadata: ``software``, ``software_version``, ``reader_type`` (instrument
  name), ``reader_serial``, ``firmware_version``, ``session``, ``plate_name``,
  ``plate_type`` (layout template), ``execution_time`` (raw),
  ``read_datetime`` (ISO, when unambiguous: SkanIt prints dates in the PC's
  locale, so "6/5/2023" is left as None), ``wavelengths``, ``steps``,
  ``temperature`` (°C, the run log's first reading), ``skipped``.
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
    TRF,
    Plate,
    Reading,
    empty_grid,
    read_label,
)
from il6assay.plate.readers._common import cell_text as _cell
from il6assay.plate.readers._common import iso_datetime
from il6assay.plate.readers._common import sheet_where as _where
from il6assay.plate.readers.source import Sniff, Source
from il6assay.plate.tokens import guess_decimal, parse_reading

NAME = "skanit"
DESCRIPTION = (
    "Thermo Scientific SkanIt XLSX export (endpoint absorbance, fluorescence, luminescence grids)"
)

SNIFF_ROWS = 5
MARKER = "measurement results"
INFO_SHEETS = {
    "general information",
    "session information",
    "instrument information",
    "protocol parameters",
    "run log",
    "layout definitions",
}
KINETIC_ERROR = (
    "kinetic or spectral absorbance step: il6assay reads endpoint plates; "
    "export an endpoint step from SkanIt"
)
# Corner cells of raw grids (the reader's unit), lower-case.
_RAW_CORNERS = {"abs": ABSORBANCE, "rlu": LUMINESCENCE, "rfu": FLUORESCENCE, "counts": None}
_ROWS = "ABCDEFGHIJKLMNOP"
# "Wavelength: 450 nm"; fluorescence "Wavelengths: 485 / 535 nm" or "Ex 485 nm, Em 535 nm".
_WAVELENGTH = re.compile(
    r"wavelengths?:\s*(?:ex\w*\s*)?(\d+)(?:\s*nm)?"
    r"(?:\s*[/,;]?\s*(?:em\w*\s*)?(\d+))?\s*nm",
    re.IGNORECASE,
)
_NOT_ENDPOINT = re.compile(r"kinetic|spectrum|spectral|scan|reading\s*\d", re.IGNORECASE)
_TEMP = re.compile(r"(-?\d+(?:[.,]\d+)?)\s*°?\s*C\Z")


@dataclass
class _Plate:
    name: str
    id: str
    reads: dict[str, dict[str, Reading]] = field(default_factory=dict)
    size: tuple[int, int] = (8, 12)
    steps: list[str] = field(default_factory=list)


def sniff(source: Source) -> Sniff:
    """Claim an XLSX workbook whose first result sheet starts with ``Measurement results``."""
    if not source.is_workbook:
        return Sniff(False, "not an XLSX workbook (SkanIt exports are .xlsx)")
    try:
        names = source.sheet_names
    except InputError as err:
        return Sniff(False, err.message)
    for name in names:
        if name.lower() in INFO_SHEETS:
            continue
        rows = source.sheet_rows(name, SNIFF_ROWS)
        if rows and rows[0] and rows[0][0].strip().lower() == MARKER:
            return Sniff(True)
        break
    return Sniff(False, "first sheet does not start with SkanIt's 'Measurement results'")


def read(source: Source) -> list[Plate]:
    """Read every plate's raw absorbance grids (see the module docstring)."""
    info = _info(source)
    plates: list[_Plate] = []
    skipped: list[str] = []
    other_modes: list[str] = []
    steps: list[str] = []
    for sheet in source.sheet_names:
        if sheet.lower() in INFO_SHEETS:
            continue
        rows = source.sheet_rows(sheet)
        if not rows or not rows[0] or rows[0][0].strip().lower() != MARKER:
            skipped.append(sheet)
            continue
        step = rows[4][0].strip() if len(rows) > 4 and rows[4] else sheet
        grids = _grids(sheet, rows)
        raw = [g for g in grids if g[0].lower() in _RAW_CORNERS]
        if not raw:
            skipped.append(sheet)
            if not step.lower().startswith(("absorbance", "blank", "standard", "dilution")):
                other_modes.append(step)
            continue
        if _NOT_ENDPOINT.search(step):
            raise InputError(KINETIC_ERROR + f" (step '{step}')", where=f"sheet '{sheet}' A5")
        steps.append(step)
        for corner, i, _, _ in raw:
            _add(sheet, rows, i, step, plates, _mode(corner, step))
    if not plates:
        if other_modes:
            raise InputError(
                "no absorbance read in this SkanIt export (found "
                + ", ".join(f"'{m}'" for m in other_modes)
                + "): il6assay reads absorbance (OD) plates"
            )
        raise InputError(
            "no raw absorbance grid ('Abs' in the corner) in this SkanIt export"
            + (f" (sheets: {', '.join(skipped)})" if skipped else "")
        )
    out = []
    for p in plates:
        nrows, ncols = p.size
        reads = {}
        for label, wells in p.reads.items():
            grid = empty_grid(nrows, ncols)
            grid.update(wells)
            reads[label] = grid
        meta = {
            **info["file"],
            "plate_name": p.name,
            "wavelengths": [int(label) for label in p.reads if label.isdigit()],
            "steps": p.steps,
            "skipped": skipped,
        }
        if p.name in info["templates"]:
            meta["plate_type"] = info["templates"][p.name]
        out.append(Plate(id=p.id, reads=reads, metadata=meta, rows=nrows, cols=ncols))
    return out


def _grids(sheet: str, rows: list[list[str]]) -> list[tuple[str, int, int, int]]:
    """(corner text, header row, rows, columns) of every grid in column A onwards."""
    found = []
    for i, row in enumerate(rows):
        if len(row) < 2 or not _cell(row, 0):
            continue
        ncols = 0
        while _cell(row, ncols + 1) == str(ncols + 1):
            ncols += 1
        if ncols == 0:
            continue
        nrows = 0
        while i + 1 + nrows < len(rows) and nrows < len(_ROWS):
            if _cell(rows[i + 1 + nrows], 0) != _ROWS[nrows]:
                break
            nrows += 1
        if (nrows, ncols) not in ((8, 12), (16, 24)):
            if _cell(row, 0).lower() == "abs":
                raise InputError(
                    f"grid is {nrows}x{ncols}, expected 8x12 (rows A-H) or 16x24 (rows A-P)",
                    where=_where(sheet, i),
                )
            continue
        found.append((_cell(row, 0), i, nrows, ncols))
    return found


def _mode(corner: str, step: str) -> str:
    """A raw grid's mode: its corner (Abs, RLU, RFU), the step's name for RFU's kind."""
    mode = _RAW_CORNERS.get(corner.lower())
    low = step.lower()
    if mode in (FLUORESCENCE, None):
        if "time-resolved" in low or "time resolved" in low or re.search(r"\btrf\b", low):
            return TRF
        if "alpha" in low:
            return ALPHA
        if "lum" in low:
            return LUMINESCENCE
        return FLUORESCENCE
    return mode


def _add(
    sheet: str,
    rows: list[list[str]],
    h: int,
    step: str,
    plates: list[_Plate],
    mode: str = ABSORBANCE,
) -> None:
    """Read the raw grid headed at row ``h`` into the right plate."""
    wavelength = None
    second = None
    name = None
    for i in range(h - 1, -1, -1):
        text = _cell(rows[i], 0)
        if not text:
            continue
        if m := _WAVELENGTH.match(text):
            wavelength, second = m[1], m[2]
            break
        if name is None:
            name = text
    if wavelength is None or name is None:
        raise InputError(
            "raw grid without a 'Wavelength: N nm' line and plate name above it",
            where=_where(sheet, h),
        )
    if mode == ABSORBANCE and wavelength == "0":
        raise InputError("absorbance grid at 'Wavelength: 0 nm'", where=_where(sheet, h))
    if mode != ABSORBANCE:
        ex, em = (wavelength, second) if second else (None, wavelength)
        wavelength = read_label(
            mode, excitation=int(ex) if ex else None, emission=int(em) if em and em != "0" else None
        )
    ncols = 24 if _cell(rows[h], 24) == "24" else 12
    nrows = 16 if ncols == 24 else 8
    cells = [_cell(rows[h + 1 + r], c) for r in range(nrows) for c in range(1, ncols + 1)]
    decimal = guess_decimal(cells)
    wells: dict[str, Reading] = {}
    for r in range(nrows):
        row = rows[h + 1 + r]
        for c in range(1, ncols + 1):
            well = f"{_ROWS[r]}{c}"
            try:
                wells[well] = parse_reading(_cell(row, c), decimal)
            except InputError as err:
                raise InputError(
                    f"well {well}: {err.message}", where=_where(sheet, h + 1 + r, c)
                ) from None
    plate = next((p for p in plates if p.name == name and wavelength not in p.reads), None)
    if plate is None:
        same = sum(p.name == name for p in plates)
        pid = name if same == 0 else f"{name} ({same + 1})"
        while any(p.id == pid for p in plates):
            pid += "'"
        plate = _Plate(name=name, id=pid, size=(nrows, ncols))
        plates.append(plate)
    elif plate.size != (nrows, ncols):
        raise InputError(
            f"plate '{name}' is {plate.size[0]}x{plate.size[1]} at one wavelength and "
            f"{nrows}x{ncols} at {wavelength} nm",
            where=_where(sheet, h),
        )
    plate.reads[wavelength] = wells
    if step not in plate.steps:
        plate.steps.append(step)


def _pairs(rows: list[list[str]]) -> list[tuple[str, str]]:
    """(key, value) of an information sheet: the first text cell and the last."""
    out = []
    for row in rows:
        cells = [c.strip() for c in row if c.strip()]
        if len(cells) >= 2:
            out.append((cells[0], cells[-1]))
    return out


def _info(source: Source) -> dict[str, Any]:
    """File-level metadata from the information sheets, and plate templates by name."""
    names = {n.lower(): n for n in source.sheet_names}
    meta: dict[str, Any] = {"software": "SkanIt"}
    templates: dict[str, str] = {}
    if "general information" in names:
        for key, value in _pairs(source.sheet_rows(names["general information"])):
            if key.lower().startswith("report generated with sw version"):
                software, _, version = value.rpartition(",")
                meta["software"] = (software or value).strip()
                if m := re.search(r"\d+(?:\.\d+)+", version or value):
                    meta["software_version"] = m[0]
    if "session information" in names:
        for key, value in _pairs(source.sheet_rows(names["session information"])):
            low = key.lower()
            if low == "session name":
                meta["session"] = value
            elif low == "execution time":
                meta["execution_time"] = value
                meta["read_datetime"] = _iso(value)
    if "instrument information" in names:
        for key, value in _pairs(source.sheet_rows(names["instrument information"])):
            low = key.lower()
            if low == "name" and "reader_type" not in meta:
                meta["reader_type"] = value
            elif low == "serial number" and "reader_serial" not in meta:
                meta["reader_serial"] = value
            elif low == "esw version":
                meta["firmware_version"] = value
    if "run log" in names:
        for row in source.sheet_rows(names["run log"]):
            cells = [c.strip() for c in row if c.strip()]
            if len(cells) >= 3 and cells[1].lower() == "temperature":
                m = _TEMP.match(cells[2])
                # 0 °C means "not measured" (allotropy#639): look further.
                if m and float(m[1].replace(",", ".")) != 0:
                    meta["temperature"] = float(m[1].replace(",", "."))
                    break
    if "layout definitions" in names:
        current = None
        for key, value in _pairs(source.sheet_rows(names["layout definitions"])):
            if key.lower() == "name":
                current = value
            elif key.lower() == "plate template" and current is not None:
                templates[current] = value
    return {"file": meta, "templates": templates}


def _iso(value: str) -> str | None:
    """ISO 8601 of an execution time: an Excel date cell, or text when unambiguous."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T[\d:.]+)?", value):
        return value if "T" in value else value + "T00:00:00"
    date, _, clock = value.partition(" ")
    return iso_datetime(date, clock)
