"""PerkinElmer/Revvity EnVision CSV exports (EnVision Workstation / Manager "Plate" export).

Layout: per plate and label, a ``Plate information`` section (a header row
``Plate,Repeat,Barcode,...,Label,...,Kinetics,Measurement date`` and one row),
an optional ``Background information`` section, then the results: a ``Results
for A450(1) ...`` title (or none) and a grid ``,01,02,...,12`` with rows ``A``
.. ``H`` (or a bare 8x12 or 16x24 matrix of numbers, without title, column
numbers or row letters, after the plate or background information). Then the
protocol sections: ``Basic assay information``, ``Protocol information``,
``Plate type:``, ``Platemap:`` (a layout grid, not a read), ``Labels:``,
``Filters:``, ``Instrument:`` and the ``Exported with EnVision Workstation
version ...`` line. The field separator is the PC's ("System"): comma or
semicolon; with a semicolon the numbers may use decimal commas. Cells like
``="1050242"`` (Excel text) are unwrapped.

What is read:

- Plates, in file order: one per plate number and repeat; the id is the
  barcode, or ``"Plate <n>"`` when the barcode is empty (as allotropy
  names them). Every label measured on a plate is one of its reads. Two
  plates with the same id (the same barcode twice) do not overwrite each
  other: the second is ``"<id> (2)"``.
- Read label: the wavelength of the label's filter (``Filters:`` description
  ``CWL=450nm``), else the digits of the label's name (``A450`` -> "450"),
  else the label's name. A dual-emission label (HTRF, LANCE) gives two reads:
  channel 1 (``Results for ... - channel 1``, or MeasInfo ``De=1st``) through
  its ``Ems. filter``, channel 2 (``De=2nd``) through its ``2nd ems. filter``
  (``trf 665``, ``trf 620``). A label no ``Labels:`` entry or name describes
  takes its mode from its detector line (MeasInfo ``Ex=``, ``Em=``, ``Wdw=``).
- Only absorbance labels: a label whose ``Labels:`` entry has an
  ``Exc. filter`` and no ``Ems. filter``; without a ``Labels:`` entry, one
  named like ``A450``, ``Abs 450``, ``OD450``. Other labels (fluorescence,
  luminescence) and ``Calculated results`` (a ``Formula`` in place of a
  label) are skipped and listed in ``metadata["skipped"]``.
- Refused: a file with no absorbance label, or only kinetic rows
  (``Kinetics`` other than 0), a label whose mode cannot be told, a grid
  that is not 8x12 or 16x24.
- Metadata: ``software`` and ``software_version`` (from ``Exported with``),
  ``reader_type`` ("EnVision"), ``reader_serial``, ``reader_name``
  (nickname), ``plate_number``, ``repeat``, ``barcode``, ``measurement_date``
  (raw) and ``read_datetime`` (ISO, only when day/month is unambiguous; this
  is the plate's acquisition time, unlike ``Assay Exported``),
  ``assay_started`` (raw), ``assay_id``, ``protocol_name``, ``protocol_id``,
  ``plate_type``, ``measured_height``, ``temperature`` (chamber temperature
  at start, °C; 0 means not reported) and ``temperature_end``, ``labels``,
  ``wavelengths`` (ints), ``skipped``.
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
    empty_grid,
    read_label,
)
from il6assay.plate.readers._common import iso_datetime
from il6assay.plate.readers.source import Sniff, Source
from il6assay.plate.tokens import guess_decimal, parse_reading

NAME = "envision"
DESCRIPTION = (
    "PerkinElmer/Revvity EnVision CSV export (absorbance, fluorescence, luminescence, "
    "Alpha, TRF labels)"
)

_LETTERS = "ABCDEFGHIJKLMNOP"
_SIZES = {12: (8, 12), 24: (16, 24)}
_CWL = re.compile(r"CWL\s*=\s*(\d+(?:\.\d+)?)\s*nm", re.IGNORECASE)
_DIGITS = re.compile(r"(\d{3,4})")
_ABS_NAME = re.compile(
    r"^(?:a|abs|absorbance|od|photometr\w*)[\s_-]*\d{3,4}\b|\babsorbance\b", re.I
)
_SUFFIX = re.compile(r"\s*\(\d+\)\s*$")
# Section titles after which grids are not plate reads.
_PROTOCOL_SECTIONS = (
    "basic assay information",
    "protocol information",
    "platemap",
    "calculations",
    "auto export parameters",
    "operations",
    "labels",
    "filters",
    "instrument",
    "plate type",
    "coordinates of corners",
    "protocol",
)
KINETIC_ERROR = (
    "kinetic measurement: il6assay reads endpoint plates; export an endpoint "
    "(single-measurement) protocol"
)
_FL_NAME = re.compile(r"fluor|\bfi\b|fitc|alexa|\bfam\b|gfp|rhodamine|texas|cy[35]\b", re.I)


@dataclass
class _Result:
    """One label measured on one plate: its plate-information row and its grid."""

    info: dict[str, str]
    line: int
    grid_line: int | None = None
    cells: list[tuple[str, str, int, int]] = field(default_factory=list)  # well, text, line, j
    ncols: int = 0
    channel: int = 0  # a dual-emission label's detector: 1, 2 (0: not said)

    @property
    def detector(self) -> int:
        """The emission channel: the results title's, else the MeasInfo's ``De=2nd``."""
        if self.channel:
            return self.channel
        info = " ".join(v for k, v in self.info.items() if k.lower() == "measinfo")
        return 2 if re.search(r"\bDe=2nd\b", info, re.IGNORECASE) else 1


def sniff(source: Source) -> Sniff:
    """Claim a CSV whose first lines are ``Plate information`` and its ``Plate,`` header."""
    if source.is_zip or source.is_ole:
        return Sniff(False, "a binary file, not an EnVision CSV export")
    lines = [ln.strip() for ln in source.head_text.splitlines() if ln.strip()]
    if "Exported with EnVision" in source.head_text:
        return Sniff(True)
    if (
        len(lines) >= 2
        and _title(lines[0]) == "plate information"
        and re.match(r'"?Plate"?\s*[,;\t]', lines[1])
    ):
        return Sniff(True)
    return Sniff(False, "no 'Plate information' section at the start")


def read(source: Source) -> list[Plate]:
    """Read every plate's absorbance labels (see the module docstring)."""
    text = source.text
    raw = text.splitlines()
    delimiter = _delimiter(raw)
    rows = [_split(line, delimiter) for line in raw]
    results, meta, skipped = _scan(rows, raw)
    labels = meta.pop("_labels")
    filters = meta.pop("_filters")
    decimal = guess_decimal(t for r in results for _, t, _, _ in r.cells)
    plates: dict[tuple[str, str], Plate] = {}
    kinetic: list[_Result] = []
    for result in results:
        if "Formula" in result.info and not result.info.get("Label"):
            skipped.append(f"calculated results '{result.info['Formula']}'")
            continue
        label = _SUFFIX.sub("", result.info.get("Label", "")).strip()
        if not label:
            raise InputError("plate information without a label", where=f"line {result.line}")
        mode = _label_mode(label, labels, result)
        if result.info.get("Kinetics", "0").strip() not in ("", "0"):
            kinetic.append(result)
            continue
        if result.grid_line is None:
            raise InputError(
                f"no results grid for label '{label}' of plate {result.info.get('Plate', '?')}",
                where=f"line {result.line}",
            )
        plate = _plate_for(result, plates, meta)
        read = _read_label(label, labels, filters, mode, result.detector)
        if read in plate.reads:
            raise InputError(
                f"plate {plate.metadata['plate_number']}: label '{label}' read twice",
                where=f"line {result.grid_line}",
            )
        rows_n, cols_n = _SIZES[result.ncols] if result.ncols in _SIZES else _shape(result, meta)
        if (plate.rows, plate.cols) != (rows_n, cols_n) and plate.reads:
            raise InputError(
                f"plate {plate.metadata['plate_number']}: grids of different sizes",
                where=f"line {result.grid_line}",
            )
        plate.rows, plate.cols = rows_n, cols_n
        grid = empty_grid(rows_n, cols_n)
        for well, cell, number, j in result.cells:
            try:
                grid[well] = parse_reading(cell, decimal)
            except InputError as err:
                raise InputError(
                    f"well {well}: {err.message}", where=f"line {number}, field {j + 1}"
                ) from None
        plate.reads[read] = grid
        plate.metadata["labels"].append(label)
        wavelength = _wavelength(label, labels, filters) if mode == ABSORBANCE else None
        if wavelength is not None:
            plate.metadata["wavelengths"].append(wavelength)
    if not plates:
        if kinetic:
            raise InputError(KINETIC_ERROR, where=f"line {kinetic[0].line}")
        what = ", ".join(skipped) if skipped else "no results"
        raise InputError(f"no endpoint read in this EnVision export (found {what})")
    out = list(plates.values())
    seen: dict[str, int] = {}
    for plate in out:
        seen[plate.id] = seen.get(plate.id, 0) + 1
        if seen[plate.id] > 1:
            plate.id = f"{plate.id} ({seen[plate.id]})"
        plate.metadata["skipped"] = list(skipped)
        if kinetic:
            plate.metadata["skipped"].append(f"{len(kinetic)} kinetic measurement(s)")
    return out


def _title(line: str) -> str:
    """A section title's text, lower-case, without trailing separators or colon."""
    return line.strip().strip(",;\t").strip().rstrip(":").strip().lower()


def _delimiter(lines: list[str]) -> str:
    """The field separator: the one after ``Plate`` in the plate information header."""
    for line in lines[:20]:
        if m := re.match(r'"?Plate"?([,;\t])', line):
            return m[1]
    return ","


def _split(line: str, delimiter: str) -> list[str]:
    cells = []
    for cell in next(csv.reader([line], delimiter=delimiter)) if line else []:
        cell = cell.strip()
        if cell.startswith('="') and cell.endswith('"'):
            cell = cell[2:-1].strip()
        cells.append(cell)
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _grid_header(row: list[str]) -> int:
    """Number of columns if ``row`` is a grid header ``,01,02,...``, else 0."""
    if len(row) < 2 or row[0]:
        return 0
    for k, cell in enumerate(row[1:], start=1):
        if not cell.isdigit() or int(cell) != k:
            return 0
    return len(row) - 1


def _scan(
    rows: list[list[str]], raw: list[str] | None = None
) -> tuple[list[_Result], dict[str, Any], list[str]]:
    """Results in file order, file metadata, and what was skipped."""
    raw = raw if raw is not None else [",".join(r) for r in rows]
    results: list[_Result] = []
    meta: dict[str, Any] = {"_labels": {}, "_filters": {}}
    skipped: list[str] = []
    section = ""
    current: _Result | None = None
    entry: dict[str, str] | None = None  # the Labels:/Filters: entry being read
    i = 0
    while i < len(rows):
        row = rows[i]
        if not row:
            entry = None
            i += 1
            continue
        first = row[0]
        single = len(row) == 1
        low = _title(first)
        if first.startswith("Exported with "):
            m = re.match(r"Exported with (.+?) version (.+)", first)
            if m:
                meta["software"], meta["software_version"] = m[1].strip(), m[2].strip()
                meta["reader_type"] = "EnVision" if "EnVision" in m[1] else m[1].strip()
            i += 1
            continue
        if single and low == "plate information":
            header = rows[i + 1] if i + 1 < len(rows) else []
            values = rows[i + 2] if i + 2 < len(rows) else []
            if not header or header[0] != "Plate":
                raise InputError(
                    "expected the plate information header ('Plate,Repeat,Barcode,...')",
                    where=f"line {i + 2}",
                )
            current = _Result(dict(zip(header, values, strict=False)), line=i + 3)
            results.append(current)
            section = "plate"
            i += 3
            # A grid straight after the plate information, without header or row letters.
            k = i + 1 if i < len(rows) and not raw[i].strip() else i
            if k < len(raw) and raw[k].strip() and _BARE_CELL.match(raw[k]) and any(rows[k]):
                i = _bare_grid(raw, rows, k, current)
            continue
        if single and (low.startswith("results") or low == "calculated results"):
            section = "plate" if current is not None else section
            if current is not None and (m := re.search(r"channel (\d+)", low)):
                current.channel = int(m[1])  # "... - channel 2 window 1 (Counts)"
            i += 1
            continue
        if single and low == "background information":
            section = "background"
            i += 1
            continue
        if single and (low in _PROTOCOL_SECTIONS or low.startswith("platemap")):
            section = low
            current = None
            entry = None
            i += 1
            continue
        if (
            section == "background"
            and current is not None
            and current.grid_line is None
            and _BARE_CELL.match(raw[i])
            and row[0][:1] in set("0123456789.+-")
        ):
            # A grid without title, header or row letters after the background information.
            i = _bare_grid(raw, rows, i, current)
            section = "plate"
            continue
        if section == "plate" and current is not None and (ncols := _grid_header(row)):
            if ncols not in _SIZES:
                raise InputError(
                    f"results grid with {ncols} columns (expected 12 or 24)", where=f"line {i + 1}"
                )
            if current.grid_line is not None:
                raise InputError(
                    "two results grids for one plate information", where=f"line {i + 1}"
                )
            current.grid_line, current.ncols = i + 1, ncols
            i = _grid(rows, i, ncols, current)
            continue
        value = next((c for c in reversed(row[1:]) if c), "")
        key = first.rstrip(":").strip().lower()
        if section == "basic assay information":
            names = {
                "assay id": "assay_id",
                "assay started": "assay_started",
                "assay exported": "assay_exported",
                "protocol id": "protocol_id",
                "protocol name": "protocol_name",
                "serial#": "reader_serial",
            }
            if key in names:
                meta[names[key]] = value
        elif section == "plate type" and key == "name of the plate type":
            meta["plate_type"] = value
        elif section == "instrument":
            if key == "serial number":
                meta["reader_serial"] = value
            elif key == "nickname":
                meta["reader_name"] = value
        elif section in ("labels", "filters"):
            book = meta["_labels"] if section == "labels" else meta["_filters"]
            if entry is None:
                entry = book.setdefault(first, {})
            else:
                entry[key] = value
        i += 1
    return results, meta, skipped


def _grid(rows: list[list[str]], h: int, ncols: int, result: _Result) -> int:
    """Read the lettered rows below header ``h`` into ``result``; the index after them.

    Rows come in plate order; a protocol that reads only some rows (``A``,
    ``E``, ``I``, ``M`` of a 384-well plate) prints only those, and the
    others stay empty.
    """
    want = _SIZES[ncols][0]
    i = h + 1
    last = -1
    while i < len(rows) and rows[i] and rows[i][0] in _LETTERS[:want]:
        letter = rows[i][0]
        if _LETTERS.index(letter) <= last:
            break
        last = _LETTERS.index(letter)
        row = rows[i]
        if len(row) > ncols + 1:
            raise InputError(
                f"row {letter} has {len(row) - 1} cells for {ncols} columns", where=f"line {i + 1}"
            )
        for c in range(1, ncols + 1):
            result.cells.append((f"{letter}{c}", row[c] if c < len(row) else "", i + 1, c))
        i += 1
    if last < 0:
        raise InputError(
            f"results grid has no rows (expected rows A-{_LETTERS[want - 1]})",
            where=f"line {h + 1}",
        )
    if i < len(rows) and len(rows[i]) > 1 and 0 < len(rows[i][0]) <= 2:
        raise InputError(
            f"grid row '{rows[i][0]}' is not a row letter after row {_LETTERS[last]} "
            f"(expected rows in order within A-{_LETTERS[want - 1]})",
            where=f"line {i + 1}",
        )
    return i


_BARE_CELL = re.compile(r"[\s0-9.,;Ee+-]*\Z")


def _bare_grid(raw: list[str], rows: list[list[str]], i: int, result: _Result) -> int:
    """A grid without header or row letters (plate export "List"-less form), from line ``i``.

    Consecutive non-empty lines of numbers, one per plate row from A; a line
    of separators only is a row that was not read. The number of lines gives
    the plate's rows (8 or 16), the plate type its columns.
    """
    start = i
    while i < len(raw) and raw[i].strip() and _BARE_CELL.match(raw[i]):
        i += 1
    n = i - start
    if n not in (8, 16):
        raise InputError(
            f"results grid without row letters has {n} lines (expected 8 or 16)",
            where=f"line {start + 1}",
        )
    ncols = 12 if n == 8 else 24
    for r in range(n):
        row = rows[start + r]
        if len(row) > ncols:
            raise InputError(
                f"row {_LETTERS[r]} has {len(row)} cells for {ncols} columns",
                where=f"line {start + r + 1}",
            )
        for c in range(ncols):
            result.cells.append(
                (f"{_LETTERS[r]}{c + 1}", row[c] if c < len(row) else "", start + r + 1, c)
            )
    result.grid_line, result.ncols = start + 1, ncols
    return i


def _label_mode(label: str, labels: dict[str, dict[str, str]], result: _Result) -> str:
    """A label's read mode: from its ``Labels:`` entry, its name, else its detector line.

    EnVision names the technology in the label's name and entry (AlphaScreen,
    LANCE/DELFIA/HTRF for time-resolved fluorescence, luminescence by its
    aperture or the ``De=...Lum`` detector); otherwise an excitation and an
    emission filter make fluorescence, an excitation filter alone absorbance.
    """
    entry = labels.get(label)
    info = " ".join(v for k, v in result.info.items() if k.lower() == "measinfo")
    text = " ".join([label, *(entry or {}).values()])
    if re.search(r"alpha", text, re.I):
        return ALPHA
    if re.search(r"lance|delfia|htrf|tr-fret|\btrf\b|time.resolved", label, re.I) or (
        entry is not None and any("delay" in k or "window" in k for k in entry)
    ):
        return TRF
    if re.search(r"polari[sz]|\bfp\b", label, re.I):
        return POLARIZATION
    if re.search(r"lum", label, re.I) or re.search(r"De=\w*lum", info, re.I):
        return LUMINESCENCE
    if entry is not None:
        exc, ems = (entry.get(k, "n/a").strip().lower() for k in ("exc. filter", "ems. filter"))
        exc_ok, ems_ok = exc not in ("", "n/a"), ems not in ("", "n/a")
        if "luminescence" in entry.get("aperture", "").lower() or (ems_ok and not exc_ok):
            return LUMINESCENCE
        if exc_ok and ems_ok:
            return FLUORESCENCE
        if exc_ok:
            return ABSORBANCE
    if _ABS_NAME.search(label):
        return ABSORBANCE
    if _FL_NAME.search(label):
        return FLUORESCENCE
    if detector := _detector_mode(info):
        return detector
    raise InputError(
        f"cannot tell the read mode of label '{label}' (no 'Labels:' section describes it): "
        "export with protocol information",
        where=f"line {result.line}",
    )


_MEASINFO = re.compile(r"De=(\S*)\s+Ex=(\S+)\s+Em=(\S+)\s+Wdw=(\S+)", re.IGNORECASE)


def _detector_mode(info: str) -> str | None:
    """A read's mode from its detector line (``De=1st Ex=Top Em=Top Wdw=N/A``), if it tells.

    A time window is time-resolved fluorescence; excitation and emission both used is
    fluorescence; excitation alone (light through the well to the detector) absorbance;
    emission alone, or a luminescence detector, luminescence.
    """
    m = _MEASINFO.search(info)
    if not m:
        return None
    detector, ex, em, window = (x.lower() for x in m.groups())
    used = {name: value not in ("n/a", "") for name, value in (("ex", ex), ("em", em))}
    if window not in ("n/a", ""):
        return TRF
    if "lum" in detector or (used["em"] and not used["ex"]):
        return LUMINESCENCE
    if used["ex"] and used["em"]:
        return FLUORESCENCE
    if used["ex"]:
        return ABSORBANCE
    return None


def _shape(result: _Result, meta: dict[str, Any]) -> tuple[int, int]:
    return _SIZES.get(result.ncols, (8, 12))


def _wavelength(
    label: str, labels: dict[str, dict[str, str]], filters: dict[str, dict[str, str]]
) -> int | None:
    flt = labels.get(label, {}).get("exc. filter", "")
    description = filters.get(flt, {}).get("description", "")
    if m := _CWL.search(description):
        return int(float(m[1]))
    if m := _DIGITS.search(label):
        return int(m[1])
    return None


def _read_label(
    label: str,
    labels: dict[str, dict[str, str]],
    filters: dict[str, dict[str, str]],
    mode: str = ABSORBANCE,
    detector: int = 1,
) -> str:
    if mode == ABSORBANCE:
        wavelength = _wavelength(label, labels, filters)
        return str(wavelength) if wavelength is not None else label
    entry = labels.get(label, {})
    ex = _cwl(filters, entry.get("exc. filter", ""))
    # A dual-emission label (HTRF, LANCE: "Ems. filter APC 665", "2nd ems. filter Cy5 620")
    # reads both at once: the second detector's channel is the second filter.
    second = entry.get("2nd ems. filter", "n/a")
    use_second = detector == 2 and second.strip().lower() not in ("", "n/a")
    em = _cwl(filters, second if use_second else entry.get("ems. filter", ""))
    if em is None and mode in (ALPHA, TRF, FLUORESCENCE):
        # No filter entry: the wavelengths in the label's name ("AlphaScreen 570", "LANCE 665").
        digits = [int(d) for d in _DIGITS.findall(label)]
        if digits:
            em = digits[-1]
            ex = ex if ex is not None or len(digits) < 2 else digits[0]
    return read_label(mode, excitation=ex, emission=em)


def _cwl(filters: dict[str, dict[str, str]], name: str) -> int | None:
    """A filter's centre wavelength (``CWL=485nm`` in its description), else digits in its name."""
    if not name or name.lower() == "n/a":
        return None
    description = filters.get(name, {}).get("description", "")
    if m := _CWL.search(description):
        return int(float(m[1]))
    if m := _DIGITS.search(name):
        return int(m[1])
    return None


def _number(text: str | None) -> float | None:
    try:
        return float((text or "").replace(",", "."))
    except ValueError:
        return None


def _plate_for(
    result: _Result, plates: dict[tuple[str, str], Plate], meta: dict[str, Any]
) -> Plate:
    info = result.info
    number = info.get("Plate", "").strip()
    repeat = info.get("Repeat", "1").strip() or "1"
    key = (number, repeat)
    if key in plates:
        return plates[key]
    barcode = info.get("Barcode", "").strip()
    plate_id = barcode or f"Plate {number}"
    if repeat != "1":
        plate_id += f" repeat {repeat}"
    date = info.get("Measurement date", "").strip()
    read_dt = None
    if date:
        day, _, clock = date.partition(" ")
        read_dt = iso_datetime(day, clock)
    temperature = _number(info.get("Chamber temperature at start"))
    plate_meta: dict[str, Any] = {
        "software": meta.get("software", "EnVision"),
        **{k: v for k, v in meta.items() if k != "software"},
        "plate_number": number,
        "repeat": repeat,
        "barcode": barcode,
        "measurement_date": date,
        "read_datetime": read_dt,
        "measured_height": _number(info.get("Measured height")),
        "temperature": temperature or None,
        "temperature_end": _number(info.get("Chamber temperature at end")) or None,
        "labels": [],
        "wavelengths": [],
    }
    plate = Plate(id=plate_id, reads={}, metadata=plate_meta)
    plates[key] = plate
    return plate
