"""Revvity (PerkinElmer) Kaleido CSV exports (EnSight, VICTOR Nivo): endpoint reads.

Two layouts are read, both comma separated, with Kaleido's non-breaking
spaces taken as plain spaces:

- Kaleido 2 ("CSV plate", the reference export): a ``Results for <operation>``
  line, ``Barcode: <id>, PlateRepeat: 1, WellRepeat: 1``, then the grid (a
  header row ``1 .. 12`` or ``1 .. 24``, rows A-H or A-P). Information
  follows: ``Software version:,,Kaleido 2.0...``, ``Measurement Started:``,
  ``Instrument Serial Number:``, ``Plate Type Name:``, a ``Platemap`` grid
  (sample types, not readings), and under ``Measurements:`` one column per
  operation (``Tech``, ``Excitation wavelength [nm]``, ``Measurement mode``).
- Kaleido 3 ("EnSight Results from" first line): ``Result for <operation>``,
  a ``Barcode,Repeat,...`` header row with the values on the next row, the
  grid; then ``Key,,value`` information and ``Operation,,,<name>`` with its
  settings below.

What is read:

- Plates: one per barcode (the plate id, as allotropy); the sections of one
  barcode are its reads. The operation's name gives the mode (containing
  "abs": absorbance, as allotropy decides; "lum": luminescence;
  "fluorescence"/"FI": fluorescence; "alpha"; "TRF"/"HTRF"/"LANCE"/
  "time-resolved"; "FP"/"polarization"). Absorbance reads are labelled by
  the operation's wavelength ("450", from ``Excitation wavelength [nm]``),
  the others by mode and optics ("lum", "fl 485/535", from the operation's
  excitation and emission settings or the result's ``Exc wl / filter`` and
  ``Ems wl`` fields).
- Operations of no known mode are skipped and listed in ``metadata["skipped"]``.
- Refused: no endpoint result, an absorbance operation without a
  wavelength, a kinetic/spectral/repeated read (two results for one plate
  and label, or a mode other than single), an unknown word in a well.
- Metadata: ``software`` ("Kaleido"), ``software_version``,
  ``reader_type`` ("EnSight" when the file says so), ``reader_serial``,
  ``barcode``, ``measurement_started`` / ``measurement_finished`` (raw),
  ``read_datetime`` (ISO 8601 from the start time: its own offset kept when
  the file gives ISO, else only when the date is unambiguous, never a guessed
  day/month order), ``measurement_signature``, ``protocol_name``,
  ``protocol_owner``, ``plate_type``, ``operations`` (name -> wavelength),
  ``wavelengths`` (ints), ``plate_repeat``, ``temperature`` (°C, when given
  and non-zero), ``skipped``.
"""

from __future__ import annotations

import csv
import datetime as dt
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
    read_label,
)
from il6assay.plate.readers._common import ROW_LETTERS as _ROWS
from il6assay.plate.readers._common import SIZES_BY_COLUMNS as _SIZES
from il6assay.plate.readers._common import iso_datetime, parse_grid_rows
from il6assay.plate.readers.source import Sniff, Source

NAME = "kaleido"
DESCRIPTION = (
    "Revvity Kaleido CSV export (EnSight, VICTOR Nivo; endpoint absorbance, fluorescence, "
    "luminescence, Alpha, TRF)"
)

SNIFF_ROWS = 12
_RESULTS = re.compile(r"results?\s+for\s+(.+)", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_INFO_KEYS = {
    "software version": "software_version",
    "measurement signature": "measurement_signature",
    "measurement started": "measurement_started",
    "measurement finished": "measurement_finished",
    "barcode": "barcode",
    "instrument serial number": "reader_serial",
    "protocol name": "protocol_name",
    "protocol owner": "protocol_owner",
    "plate type name": "plate_type",
}
_OP_HEADS = ("tech", "operation")
_NOT_ENDPOINT = ("kinetic", "spectr", "scan")


@dataclass
class _Section:
    """One ``Results for`` block: its operation, barcode and grid."""

    operation: str
    line: int
    barcode: str = ""
    repeat: str = ""
    header: int | None = None
    numbers: list[int] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)  # Kaleido 3's header fields, lower-case


def sniff(source: Source) -> Sniff:
    """Claim a CSV with a ``Results for <operation>`` line and a barcode in its first lines."""
    if source.is_zip or source.is_ole:
        return Sniff(False, "a binary file, not a Kaleido CSV export")
    lines = source.head_lines
    rows = [_norm(line).lower() for line in lines if line.strip(" ,\t\r\n\xa0")][:SNIFF_ROWS]
    if not any(_RESULTS.match(r) for r in rows):
        return Sniff(False, "no 'Results for <operation>' line near the top (Kaleido CSV)")
    if not any(r.startswith("barcode") for r in rows):
        return Sniff(False, "'Results for' but no 'Barcode' line below it (Kaleido CSV)")
    return Sniff(True)


def read(source: Source) -> list[Plate]:
    """Read the absorbance results of every plate (see the module docstring)."""
    lines = source.text.splitlines()
    rows = [[_norm(c) for c in cells] for cells in csv.reader(lines)]
    widths = [len(cells) for cells in rows]
    for cells in rows:
        while cells and not cells[-1]:
            cells.pop()
    sections = _sections(rows)
    if not sections:
        raise InputError("no 'Results for <operation>' section: not a Kaleido result export")
    info = _info(rows)
    operations = _operations(rows)
    plates: dict[str, Plate] = {}
    skipped: list[str] = []
    for sec in sections:
        op = operations.get(sec.operation.casefold(), {})
        read_mode = _mode(sec.operation)
        if read_mode is None:
            if sec.operation not in skipped:
                skipped.append(sec.operation)
            continue
        mode = op.get("measurement mode", "")
        if any(w in f"{sec.operation} {mode}".lower() for w in _NOT_ENDPOINT):
            raise InputError(
                f"'{sec.operation}' ({mode or 'no mode'}) is not an endpoint read: il6assay "
                "reads endpoint plates",
                where=f"line {sec.line + 1}",
            )
        wavelength = _wavelength(op) if read_mode == ABSORBANCE else 0
        if wavelength is None:
            raise InputError(
                f"no wavelength for absorbance operation '{sec.operation}' (expected "
                "'Excitation wavelength [nm]' under Measurements)",
                where=f"line {sec.line + 1}",
            )
        if sec.header is None:
            raise InputError(
                f"no grid (header row 1-12 or 1-24) under 'Results for {sec.operation}'",
                where=f"line {sec.line + 1}",
            )
        plate_id = sec.barcode or info.get("barcode") or source.path.stem
        if read_mode == ABSORBANCE:
            label = str(wavelength)
        else:
            ex = _nm(
                op, sec.info, ("excitation wavelength [nm]", "exc. filter [nm]", "exc wl / filter")
            )
            em = _nm(op, sec.info, ("emission wavelength [nm]", "ems. filter [nm]", "ems wl"))
            label = read_label(read_mode, excitation=ex, emission=em)
        nrows, ncols = _SIZES[len(sec.numbers)]
        plate = plates.get(plate_id)
        if plate is None:
            plate = Plate(id=plate_id, reads={}, metadata={}, rows=nrows, cols=ncols)
            plates[plate_id] = plate
        elif (plate.rows, plate.cols) != (nrows, ncols):
            raise InputError(
                f"plate '{plate_id}' has grids of two sizes", where=f"line {sec.header + 1}"
            )
        if label in plate.reads:
            raise InputError(
                f"plate '{plate_id}' has two results for read {label} (plate repeats or a "
                "kinetic run?): il6assay reads one endpoint read per label",
                where=f"line {sec.line + 1}",
            )
        plate.reads[label] = _grid(rows, sec.header, nrows, ncols, widths)
        plate.metadata.setdefault("operations", {})[sec.operation] = (
            wavelength if read_mode == ABSORBANCE else label
        )
        if sec.repeat:
            plate.metadata["plate_repeat"] = sec.repeat
    if not plates:
        found = ", ".join(f"'{s}'" for s in skipped)
        raise InputError(
            f"no endpoint result of a known mode in this Kaleido export (found {found})",
            where=f"line {sections[0].line + 1}",
        )
    for plate in plates.values():
        plate.metadata = _metadata(info, rows, plate, skipped)
    return list(plates.values())


def _norm(text: str) -> str:
    """A cell with non-breaking spaces made plain, runs of spaces collapsed, stripped."""
    return _SPACES.sub(" ", text.replace("\xa0", " ")).strip()


def _key(cell: str) -> str:
    return cell.rstrip(":").strip().lower()


def _header_numbers(row: list[str]) -> list[int] | None:
    if len(row) < 2 or row[0] or row[1] != "1":
        return None
    numbers: list[int] = []
    for cell in row[1:]:
        if not cell.isdigit() or int(cell) != len(numbers) + 1:
            return None
        numbers.append(int(cell))
    return numbers


def _sections(rows: list[list[str]]) -> list[_Section]:
    sections: list[_Section] = []
    current: _Section | None = None
    for i, row in enumerate(rows):
        first = row[0] if row else ""
        m = _RESULTS.fullmatch(first) if len([c for c in row if c]) == 1 else None
        if m:
            current = _Section(operation=m[1].strip(), line=i)
            sections.append(current)
            continue
        if current is None or current.header is not None:
            continue
        key = _key(first)
        if first.lower().startswith("barcode:"):
            # Kaleido 2: "Barcode: X", "PlateRepeat: 1", "WellRepeat: 1" in one row.
            for cell in row:
                name, _, value = cell.partition(":")
                if name.strip().lower() == "barcode":
                    current.barcode = value.strip()
                elif name.strip().lower() == "platerepeat":
                    current.repeat = value.strip()
        elif key == "barcode" and i + 1 < len(rows):
            # Kaleido 3: a header row, the values on the next row.
            values = rows[i + 1]
            for j, name in enumerate(row):
                value = values[j] if j < len(values) else ""
                if name and value:
                    current.info[name.lower()] = value
                if name.lower() == "barcode":
                    current.barcode = value
                elif name.lower() == "repeat":
                    current.repeat = value
        numbers = _header_numbers(row)
        if numbers is not None:
            if len(numbers) not in _SIZES:
                raise InputError(
                    f"grid with columns 1-{len(numbers)}: il6assay reads 96-well (1-12) "
                    "and 384-well (1-24) plates",
                    where=f"line {i + 1}",
                )
            current.header, current.numbers = i, numbers
    return sections


def _info(rows: list[list[str]]) -> dict[str, str]:
    """``Key:,,value`` (Kaleido 2) and ``Key,,value`` (Kaleido 3) information lines."""
    info: dict[str, str] = {}
    for row in rows:
        if len(row) < 3 or not row[0] or row[1]:
            continue
        key = _key(row[0])
        value = next((c for c in row[2:] if c), "")
        if key in _INFO_KEYS and value:
            info.setdefault(_INFO_KEYS[key], value)
        elif key.startswith("temperature") and value:
            info.setdefault("temperature", value)
    return info


def _operations(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    """Settings per operation name (casefolded) from the Measurements table(s)."""
    ops: dict[str, dict[str, str]] = {}
    i = 0
    while i < len(rows):
        row = rows[i]
        if row and _key(row[0]) in _OP_HEADS and any(row[1:]):
            columns = {j: name for j, name in enumerate(row) if j and name}
            i += 1
            while i < len(rows) and rows[i] and rows[i][0]:
                setting = _key(rows[i][0])
                if setting in _OP_HEADS:
                    break
                for j, name in columns.items():
                    if j < len(rows[i]) and rows[i][j]:
                        ops.setdefault(name.casefold(), {})[setting] = rows[i][j]
                i += 1
            continue
        i += 1
    return ops


def _mode(operation: str) -> str | None:
    """An operation's read mode from its name ("ABS 450", "Luminescence 1", ...), or None."""
    low = operation.lower()
    if "abs" in low:
        return ABSORBANCE
    if "alpha" in low:
        return ALPHA
    if re.search(r"\b(h?trf|lance|delfia|tr-fret)\b|time.resolved", low):
        return TRF
    if re.search(r"\bfp\b|polari", low):
        return POLARIZATION
    if "lum" in low:
        return LUMINESCENCE
    if re.search(r"fluor|\bfi\b", low):
        return FLUORESCENCE
    return None


def _nm(op: dict[str, str], info: dict[str, str], keys: tuple[str, ...]) -> int | None:
    """A wavelength in nm from the operation's settings or the result's header fields."""
    for key in keys:
        m = re.match(r"\s*(\d{3,4})(?:\.0+)?\b", op.get(key, "") or info.get(key, ""))
        if m:
            return int(m[1])
    return None


def _wavelength(op: dict[str, str]) -> int | None:
    for key in ("excitation wavelength [nm]", "wavelength [nm]", "exc. filter [nm]"):
        m = re.fullmatch(r"(\d{3,4})(?:\.0+)?\s*(?:nm)?", op.get(key, ""))
        if m:
            return int(m[1])
    return None


def _grid(
    rows: list[list[str]], header: int, nrows: int, ncols: int, widths: list[int] | None = None
) -> dict[str, Reading]:
    letters = _ROWS[:nrows]
    body: list[int] = []
    for i in range(header + 1, len(rows)):
        row = rows[i]
        if not row or len(row[0]) != 1 or row[0] not in _ROWS:
            break
        if row[0] not in letters:
            raise InputError(
                f"row {row[0]} in a grid with rows A-{letters[-1]}", where=f"line {i + 1}"
            )
        if len(row) > ncols + 1:
            raise InputError(
                f"row {row[0]} has values beyond column {ncols}", where=f"line {i + 1}"
            )
        body.append(i)
    if not body:
        raise InputError("grid header without rows A, B, ... below it", where=f"line {header + 1}")
    return parse_grid_rows(rows, body, nrows, ncols, widths)


def _metadata(
    info: dict[str, str], rows: list[list[str]], plate: Plate, skipped: list[str]
) -> dict[str, Any]:
    meta: dict[str, Any] = {"software": "Kaleido"}
    version = info.get("software_version", "")
    if not version:
        # Kaleido 3 also ends with "Exported with Kaleido 3.5...".
        for row in rows:
            if row and row[0].lower().startswith("exported with kaleido"):
                version = row[0][len("exported with ") :]
    if version:
        meta["software_version"] = re.sub(r"(?i)^kaleido\s*", "", version)
    first = next((r[0] for r in rows if r and r[0]), "")
    if first.lower().startswith("ensight"):
        meta["reader_type"] = "EnSight"
    for key in (
        "reader_serial",
        "measurement_signature",
        "measurement_started",
        "measurement_finished",
        "protocol_name",
        "protocol_owner",
        "plate_type",
    ):
        if key in info:
            meta[key] = info[key]
    meta["barcode"] = plate.id
    meta["read_datetime"] = _iso(info.get("measurement_started", ""))
    if "temperature" in info:
        m = re.match(r"[+-]?\d+(?:[.,]\d+)?", info["temperature"])
        if m and float(m[0].replace(",", ".")) != 0:
            meta["temperature"] = float(m[0].replace(",", "."))
    meta.update(plate.metadata)
    meta["wavelengths"] = [int(label) for label in plate.reads if label.isdigit()]
    meta["skipped"] = list(skipped)
    return meta


def _iso(text: str) -> str | None:
    """ISO 8601 of a Kaleido time stamp: ISO kept (to the second), locale dates if unambiguous."""
    text = text.strip()
    if not text:
        return None
    if _ISO.match(text):
        m = re.fullmatch(r"(.*?:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?", text)
        if m:
            try:
                stamp = dt.datetime.fromisoformat(m[1].replace(" ", "T") + (m[3] or ""))
            except ValueError:
                return None
            return stamp.isoformat(timespec="seconds")
        return None
    date, _, clock = text.partition(" ")
    return iso_datetime(date, clock)
