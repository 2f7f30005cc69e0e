"""Tecan i-control (infinite) and SparkControl (Spark) exports (text, CSV, XLSX; English or German).

Layout: a header of ``Application: Tecan i-control`` (German ``Programm:``) or
``Application: SparkControl`` (a SparkControl CSV opens with ``Method name:``
first), ``Device: infinite 200Pro`` / ``Gerät:``, ``Serial number:``,
``Firmware:``, ``Date:`` / ``Datum:``, ``Time:`` / ``Zeit:``, then ``System``,
``User`` / ``Anwender``, ``Plate`` / ``Platte`` (the plate definition) and
``Plate-ID (Stacker)`` lines whose value sits a few cells to the right. Then one
section per read: i-control starts it with ``Label: <name>`` and a ``Mode``
line, SparkControl with ``Mode,<mode>`` and ``Name,<name>``; settings lines
(``Measurement Wavelength 450 nm``, ``Excitation Wavelength``, ``Emission
Wavelength``, ``Gain``, ``Part of Plate A1-H3``...), ``Start Time:``,
``Temperature: 22.5 °C``, then the data: a matrix under a ``<>`` corner with
column numbers (``<>  1  2 ... 12``) and rows ``A``..``P``, or SparkControl's
well list (``<>,Value,Time [ms]`` then ``A1,0.0921,0``). i-control 1.11's CSV
has no ``Label:`` lines: every read's ``Mode`` group comes first, then the
tables, each under a ``<name>:<suffix>`` title, in the same order. The cells are tab
separated (text export), comma or semicolon separated (CSV), or a workbook's.

What is read:

- Plates: one per file (per sheet with its own application line in a workbook);
  id = ``Plate-ID (Stacker)`` when set, else the file's stem (with the sheet's
  name when a workbook holds several exports). 96 or 384 wells, from the plate
  definition (``... 384 ...``) or a well past H12.
- Reads: every endpoint section's data, labelled by mode and optics from its
  ``Mode`` line and wavelengths (``Absorbance`` + ``Measurement Wavelength 450``
  -> "450"; ``Fluorescence Top Reading`` + 485/535 -> "fl 485/535";
  ``Luminescence`` -> "lum"; fluorescence polarization -> "fp 485/535",
  time-resolved -> "trf 665"; AlphaScreen -> "alpha"); a section without a
  ``Mode`` line but with a measurement wavelength is absorbance. The same
  optics twice (one fluorescein read at several gains, three substrates read
  at 360/465 nm over different columns) get counters ("fl 488/530 (2)").
  Wells outside a section's ``Part of Plate`` stay empty. Cells go through the
  shared token table (``OVER`` is SATURATED); decimal commas are recognised.
- Skipped with a warning: kinetic sections (``Kinetic Measurement``, ``Mode
  Kinetic``, a ``Cycle Nr.`` table) when the file has an endpoint read too.
- Refused: a file with only kinetic data, scans (``Absorbance Scan``,
  spectra), a mode of no known kind, multiple reads per well (a ``Well`` /
  ``Mean`` list), 1536-well plates.
- Metadata: ``software`` ("Tecan i-control" or "SparkControl"),
  ``software_version``, ``reader_type`` (device), ``reader_serial``,
  ``firmware``, ``date``/``time`` (raw), ``read_datetime`` (ISO, only when the
  date is unambiguous), ``user``, ``system``, ``plate_type``, ``plate_id``,
  ``sections`` (per read: label, name, mode as printed, settings, start time,
  temperature), ``temperature`` (°C per read label), ``wavelengths``
  (absorbance), ``skipped``.
"""

from __future__ import annotations

import csv
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
    read_info,
    read_label,
    unique_label,
)
from il6assay.plate.readers._common import iso_datetime
from il6assay.plate.readers._common import sheet_where as _sheet_where
from il6assay.plate.readers.source import Sniff, Source
from il6assay.plate.tokens import guess_decimal, parse_reading

NAME = "icontrol"
DESCRIPTION = (
    "Tecan i-control (infinite) and SparkControl (Spark) text, CSV or XLSX export, "
    "English or German (endpoint absorbance, fluorescence, luminescence, FP, TRF, Alpha)"
)

_APPLICATION = re.compile(
    r'\A"?(?:application|programm|anwendung)\s*:\s*"?(tecan i-control|sparkcontrol|spark control)',
    re.IGNORECASE,
)
_LETTERS = frozenset("ABCDEFGHIJKLMNOP")
_KEY_CELL = re.compile(r"[^\W\d][^:]*:")  # "Serial number of connected stacker:", not "18:19"
_WELL = re.compile(r"([A-P])0?([1-9][0-9]?)\Z")
KINETIC_ERROR = (
    "only kinetic data: il6assay reads endpoint plates; export an endpoint measurement "
    "from i-control / SparkControl"
)
# Header keys (English and German) -> metadata keys.
_HEADER = {
    "device": "reader_type",
    "gerät": "reader_type",
    "serial number": "reader_serial",
    "seriennummer": "reader_serial",
    "firmware": "firmware",
    "date": "date",
    "datum": "date",
    "time": "time",
    "zeit": "time",
    "system": "system",
    "user": "user",
    "anwender": "user",
    "benutzer": "user",
    "plate": "plate_type",
    "platte": "plate_type",
    "plate-id (stacker)": "plate_id",
    "platten-id (stapler)": "plate_id",
    "method name": "method",
    "methodenname": "method",
}
# Settings keys (English and German) that give a read's optics.
_WAVELENGTH = {"measurement wavelength", "wavelength", "messwellenlänge", "wellenlänge"}
_EXCITATION = {"excitation wavelength", "anregungswellenlänge", "anregung wellenlänge"}
_EMISSION = {"emission wavelength", "emissionswellenlänge", "emission wellenlänge"}
_KINETIC_WORDS = ("kinetic", "kinetik")
_NOT_ENDPOINT = ("scan", "spectrum", "spektrum", "well scan")


@dataclass
class _Section:
    """One read's settings and data."""

    line: int
    name: str = ""
    mode: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    kinetic: bool = False
    start_time: str = ""
    temperature: float | None = None
    cells: list[tuple[str, str, str]] = field(default_factory=list)  # (well, text, where)
    has_table: bool = False  # a data table (endpoint or kinetic) was given to this read


def sniff(source: Source) -> Sniff:
    """Claim a file whose first lines (or a sheet's first rows) name i-control or SparkControl."""
    if source.is_ole and not source.is_xls:
        return Sniff(False, "an OLE binary, not an i-control or SparkControl export")
    if source.is_workbook:
        try:
            names = source.sheet_names
        except InputError as err:
            return Sniff(False, err.message)
        for name in names[:3]:
            if _has_application(source.sheet_rows(name, 4)):
                return Sniff(True)
        return Sniff(False, "no 'Application: Tecan i-control' or SparkControl line")
    lines = [ln for ln in source.head_lines if ln.strip(" ,;\t\r\n")][:3]
    if _has_application([_split(ln, _delimiter(ln)) for ln in lines]):
        return Sniff(True)
    return Sniff(False, "no 'Application: Tecan i-control' or SparkControl line in the first lines")


def _has_application(rows: list[list[str]]) -> bool:
    return any(row and _APPLICATION.match(row[0].lstrip("\ufeff")) for row in rows[:3])


def read(source: Source) -> list[Plate]:
    """Read every endpoint section of the export (see the module docstring)."""
    if source.is_workbook:
        sheets = [n for n in source.sheet_names if _has_application(source.sheet_rows(n, 4))]
        plates = []
        for name in sheets:
            rows = source.sheet_rows(name)
            default = source.path.stem if len(sheets) == 1 else f"{source.path.stem} {name}"
            plates.append(_plate(rows, default, lambda i, j=None, n=name: _sheet_where(n, i, j)))
        return plates
    lines = source.text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    delimiter = _delimiter(first)
    rows = [[_clean(c) for c in cells] for cells in csv.reader(lines, delimiter=delimiter)]
    for row in rows:
        while row and not row[-1]:
            row.pop()
    return [_plate(rows, source.path.stem, _line_where)]


def _line_where(i: int, j: int | None = None) -> str:
    return f"line {i + 1}" if j is None else f"line {i + 1}, field {j + 1}"


def _delimiter(line: str) -> str:
    return max(("\t", ",", ";"), key=line.count)


def _split(line: str, delimiter: str) -> list[str]:
    return [_clean(c) for c in line.split(delimiter)]


def _clean(cell: str) -> str:
    cell = cell.strip().lstrip("\ufeff").strip()
    if len(cell) >= 2 and cell[0] == cell[-1] == '"':
        cell = cell[1:-1].strip()
    return cell.lstrip("'")  # i-control quotes dates and times: '4:13:13 AM


def _key(row: list[str]) -> str:
    return row[0].rstrip(":").strip().casefold() if row else ""


def _values(row: list[str]) -> list[str]:
    """The non-empty cells right of the key (value, then unit)."""
    return [c for c in row[1:] if c]


def _plate(rows: list[list[str]], default_id: str, where: Any) -> Plate:
    meta: dict[str, Any] = {"software": "Tecan i-control"}
    # i-control's labelled form puts each read's data under its "Label:" section; without
    # "Label:" lines (i-control 1.11 CSV, SparkControl) the tables may follow every read's
    # Mode group, titled with the read's name: see _table_owner.
    labelled = any(row and row[0].startswith("Label") for row in rows)
    sections: list[_Section] = []
    current: _Section | None = None
    skipped: list[str] = []
    i = 0
    while i < len(rows):
        row = rows[i]
        if not any(row):
            i += 1
            continue
        key = _key(row)
        head = row[0]
        if m := _APPLICATION.match(head):
            meta["software"] = "SparkControl" if "spark" in m[1].lower() else "Tecan i-control"
            version = next((c for c in row[1:] if c), "")
            meta["software_version"] = version.rsplit(",", 1)[-1].strip().lstrip("Vv") or None
            i += 1
            continue
        if current is None and not sections:
            _header(row, meta)
        if head.startswith("Label:") or head.startswith("Label :"):
            current = _Section(line=i, name=head.split(":", 1)[1].strip())
            sections.append(current)
        elif key in ("mode", "modus"):
            mode = next(iter(_values(row)), "")
            if current is None or current.mode or current.has_table:
                current = _Section(line=i)
                sections.append(current)
            current.mode = mode
            if mode.casefold() in _KINETIC_WORDS:
                current.kinetic = current.has_table = True  # the kinetic loop's own group
        elif key in ("name",) and current is not None and not current.name:
            current.name = next(iter(_values(row)), "")
        elif current is not None and key.startswith(("kinetic measurement", "kinetik")):
            current.kinetic = True
        elif current is not None and key.startswith(("start time", "startzeit")):
            current.start_time = next(iter(_values(row)), "")
        elif current is not None and (t := _temperature(row)) is not None:
            current.temperature = t
        elif key in ("cycle nr", "cycle nr.", "zyklus nr", "zyklus nr.", "cycles / well"):
            if current is not None:
                owner = _table_owner(sections, current, rows, i, labelled)
                owner.kinetic = owner.has_table = True
            i = _skip_table(rows, i)
            continue
        elif key in ("well", "well positions") and _values(row)[:1] in (["Mean"], ["Mittelwert"]):
            raise InputError(_well_scan(current, row), where=where(i))
        elif head == "<>":
            if current is None:
                raise InputError("a data table before any read's settings", where=where(i))
            owner = _table_owner(sections, current, rows, i, labelled)
            owner.has_table = True
            i = _data(rows, i, owner, where)
            continue
        elif current is not None and len(_values(row)) >= 1 and key:
            current.settings.setdefault(key, " ".join(_values(row)))
        i += 1
    return _finish(sections, meta, skipped, default_id, where)


def _well_scan(section: _Section | None, row: list[str]) -> str:
    """The refusal of a multiple-reads-per-well list: a well scan of one endpoint, named."""
    name = f"read '{section.name}'" if section is not None and section.name else "a read"
    points = [c for c in _values(row)[1:] if re.fullmatch(r"\d+;\d+", c.strip())]
    pattern = " ".join(
        v
        for k, v in (section.settings.items() if section is not None else ())
        if k.startswith(("multiple reads per well", "mehrfachmessung"))
    )
    what = f"{len(points)} reads per well" if points else "several reads per well"
    return (
        f"{name} is a well scan: multiple reads per well of one endpoint ({what}"
        f"{', ' + pattern if pattern else ''}; a 'Well'/'Mean' list): il6assay reads one "
        "value per well; export the measurement without multiple reads per well"
    )


def _table_owner(
    sections: list[_Section], current: _Section, rows: list[list[str]], i: int, labelled: bool
) -> _Section:
    """The read the data table at row ``i`` belongs to.

    Under a "Label:" section, that read. Otherwise the read named by the table's title line
    (``OD600`` in SparkControl, ``OD600:600`` in i-control 1.11 CSV, whose Mode groups all
    come before the tables), else the first read still without a table, in order.
    """
    if labelled:
        return current
    title = rows[i - 1] if i and len(rows[i - 1]) == 1 else []
    if title:
        name = title[0].strip()
        for s in sections:
            if s.name and not s.has_table and s.name in (name, name.rsplit(":", 1)[0]):
                return s
    owner = next((s for s in sections if not s.has_table), current)
    if title and not owner.name:
        owner.name = title[0].rsplit(":", 1)[0]  # "OD600:600" names the read it holds
    return owner


def _header(row: list[str], meta: dict[str, Any]) -> None:
    """Header ``key: value`` cells (several per row) and ``key ... value`` rows."""
    cells = [c for c in row if c]
    k = 0
    while k < len(cells):
        cell = cells[k]
        key, colon, value = cell.partition(":")
        name = _HEADER.get(key.strip().casefold())
        if colon and name:
            value = value.strip()
            if not value and k + 1 < len(cells) and not _KEY_CELL.match(cells[k + 1]):
                value = cells[k + 1]
                k += 1
            if value:
                meta.setdefault(name, value)
        elif k == 0 and name and len(cells) > 1:
            meta.setdefault(name, cells[1])
            return
        k += 1


def _temperature(row: list[str]) -> float | None:
    for cell in row:
        m = re.match(r"(?:temperature|temperatur)\s*:?\s*([+-]?\d+(?:[.,]\d+)?)", cell, re.I)
        if m:
            return float(m[1].replace(",", "."))
    if _key(row) in ("temperature", "temperatur") and len(row) > 1:
        value = next(iter(_values(row)), "")
        try:
            return float(value.replace(",", "."))
        except ValueError:
            return None
    return None


def _skip_table(rows: list[list[str]], i: int) -> int:
    while i < len(rows) and any(rows[i]):
        i += 1
    return i


def _number(cell: str) -> int | None:
    m = re.fullmatch(r"(\d+)(?:\.0+)?", cell)
    return int(m[1]) if m else None


def _data(rows: list[list[str]], h: int, section: _Section, where: Any) -> int:
    """Read a ``<>`` table (a matrix or a well list) into ``section``; the row after it."""
    header = rows[h]
    numbers = [_number(c) for c in header[1:]]
    if numbers and all(n is not None for n in numbers):
        i = h + 1
        while i < len(rows) and rows[i] and rows[i][0] in _LETTERS:
            row = rows[i]
            for k, col in enumerate(numbers, start=1):
                text = row[k] if k < len(row) else ""
                section.cells.append((f"{row[0]}{col}", text, where(i, k)))
            i += 1
        if i == h + 1:
            raise InputError("a '<>' matrix header without rows A, B, ...", where=where(h))
        return i
    if len(header) > 1 and header[1].casefold() in ("value", "wert", "mean", "mittelwert"):
        i = h + 1
        while i < len(rows) and rows[i] and (m := _WELL.match(rows[i][0])):
            text = rows[i][1] if len(rows[i]) > 1 else ""
            section.cells.append((f"{m[1]}{int(m[2])}", text, where(i, 1)))
            i += 1
        return i
    raise InputError(
        f"a '<>' table of unknown form ('{' '.join(header[:4])}'): expected column numbers "
        "or 'Value'",
        where=where(h),
    )


def _mode(section: _Section, where: Any) -> str:
    """The section's read mode in il6assay's words; scans and unknown modes refused."""
    text = section.mode.casefold()
    if not text:
        if any(k in section.settings for k in _WAVELENGTH):
            return ABSORBANCE
        raise InputError(
            f"read '{section.name}' names no mode (no 'Mode' line) and no measurement wavelength",
            where=where(section.line),
        )
    if any(w in text for w in _NOT_ENDPOINT):
        raise InputError(
            f"read '{section.name}' is a scan ('{section.mode}'), not an endpoint read: "
            "il6assay reads endpoint plates",
            where=where(section.line),
        )
    if "polari" in text:
        return POLARIZATION
    if "time resolved" in text or "time-resolved" in text or "zeitaufgelöst" in text:
        return TRF
    if "alpha" in text:
        return ALPHA
    if "absorb" in text or "absorp" in text:
        return ABSORBANCE
    if "lumin" in text:
        return LUMINESCENCE
    if "fluores" in text:
        return FLUORESCENCE
    raise InputError(
        f"read mode '{section.mode}' of read '{section.name}' is not one il6assay reads",
        where=where(section.line),
    )


def _nm(section: _Section, keys: set[str]) -> float | None:
    for key, value in section.settings.items():
        if key in keys:
            m = re.match(r"(\d+(?:[.,]\d+)?)", value)
            if m:
                return float(m[1].replace(",", "."))
    return None


def _finish(
    sections: list[_Section], meta: dict[str, Any], skipped: list[str], default_id: str, where: Any
) -> Plate:
    endpoint = [s for s in sections if not s.kinetic and s.cells]
    for s in sections:
        if s.kinetic:
            skipped.append(f"kinetic: {s.name or s.mode}")
    if not endpoint:
        if any(s.kinetic for s in sections):
            raise InputError(KINETIC_ERROR, where=where(sections[0].line))
        raise InputError("no read with data ('<>' table) found", where=where(0))
    plate_type = meta.get("plate_type", "")
    if "1536" in plate_type:
        raise InputError(
            f"a 1536-well plate ('{plate_type}'): il6assay reads 96- and 384-well plates",
            where=where(endpoint[0].line),
        )
    big = "384" in plate_type or any(
        w[0] > "H" or int(w[1:]) > 12 for s in endpoint for w, _, _ in s.cells
    )
    nrows, ncols = (16, 24) if big else (8, 12)
    reads: dict[str, dict[str, Reading]] = {}
    described = []
    temperatures: dict[str, float] = {}
    for s in endpoint:
        mode = _mode(s, where)
        label = read_label(
            mode,
            wavelength=_nm(s, _WAVELENGTH),
            excitation=_nm(s, _EXCITATION),
            emission=_nm(s, _EMISSION),
        )
        label = unique_label(label, reads)
        grid = empty_grid(nrows, ncols)
        decimal = guess_decimal(text for _, text, _ in s.cells)
        seen: set[str] = set()
        for well, text, at in s.cells:
            if well not in grid:
                raise InputError(f"well {well} is outside a {nrows * ncols}-well plate", where=at)
            if well in seen:
                raise InputError(f"well {well} given twice in read '{s.name}'", where=at)
            seen.add(well)
            try:
                grid[well] = parse_reading(text, decimal)
            except InputError as err:
                raise InputError(f"well {well}: {err.message}", where=at) from None
        reads[label] = grid
        if s.temperature is not None:
            temperatures[label] = s.temperature
        described.append(
            {
                "label": label,
                "name": s.name,
                "mode": s.mode,
                "settings": s.settings,
                "start_time": s.start_time,
                "temperature": s.temperature,
            }
        )
    meta["sections"] = described
    meta["temperature"] = temperatures
    absorbance = [read_info(label) for label in reads if read_info(label)["mode"] == ABSORBANCE]
    meta["wavelengths"] = [i["wavelength_nm"] for i in absorbance if "wavelength_nm" in i]
    meta["skipped"] = skipped
    if skipped:
        meta["warnings"] = [
            f"skipped {', '.join(skipped)}: il6assay reads the endpoint reads of this export"
        ]
    if "date" in meta:
        meta["read_datetime"] = iso_datetime(meta["date"], meta.get("time", ""))
    plate_id = meta.get("plate_id") or default_id
    return Plate(id=plate_id, reads=reads, metadata=meta, rows=nrows, cols=ncols)
