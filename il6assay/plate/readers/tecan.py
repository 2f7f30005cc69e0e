"""Tecan Magellan XLSX exports: a well list with the run's metadata below it.

Layout (Magellan "list" export, e.g. ``Magellan Sheet 1``): a header row
holding ``Well positions``, one column per read (``Raw data`` for a single
measurement, ``Label1``, ``Label2``, ... for several) and optionally a
``Plate`` column (the plate ID, written on some rows only: empty rows take
the value above). The header may be followed by a cycle-time row (``0s``)
and a temperature row (``24.8 °C``); then one row per well (``A1``, ``B1``,
...); then one metadata line per row in the first column:

- ``Date of measurement: 2021-07-06/Time of measurement: 09:43:07``
- the method (``*.mth``) and workspace (``*.wsp``) names and paths
- the wavelengths (``485nm``), the user, the instrument (``ULTRA``),
  ``Instrument serial number: ...``
- one settings block per measurement (``Measurement 1:``, ``Measurement
  mode: Absorbance``, ``Measurement wavelength: 485 nm``, ``Number of
  flashes``, ``Plate definition file: COS384ft.pdf``, ``Unit: OD``),
- ``Meas. temperature: Label1: 24.8 °C`` lines, in measurement order.

Magellan Pro 7.5 can write a compact settings block without ``Unit``,
``Number of flashes`` and the ``Meas. temperature`` lines (allotropy#1258);
then the temperature comes from the table's temperature row, and a
bracketed plate description (``[IL6 plate 3]``) is the plate ID. No such
file was available: this form is taken from that issue's description and
covered by a synthetic fixture.

What is read:

- Reads: every ``Raw data`` / ``LabelN`` column, labelled by its wavelength
  ("485"): from a ``Label1=485`` cell if the file has one, else the label's
  place among the ``Meas. temperature`` lines, else N, matched to the N-th
  settings block. A column whose settings block is of another mode
  (``Measurement mode: Fluorescence Top Reading``, ``Luminescence``, ...) is
  labelled by mode and optics from its ``Excitation wavelength`` and
  ``Emission wavelength`` lines ("fl 485/535", "lum"). Other columns
  (means, concentrations, ...) are skipped and
  listed in ``metadata["skipped"]``. Cells go through the shared token table
  (``OVER`` is SATURATED).
- Plates: one per ``Plate`` value, else one plate whose ID is the bracketed
  plate description or, failing that, the file's stem. 384-well plates
  (a well past H or 12, or a 384 plate definition) are 16x24.
- Refused: a kinetic export (cycle times other than 0 s, a label in two
  columns, kinetic settings), a spectral scan, a measurement mode of no
  known kind.
- Metadata: ``software`` ("Magellan"), ``software_version`` (when a line
  names it), ``reader_type`` (instrument), ``reader_serial``, ``user``,
  ``plate_id``, ``plate_type`` (plate definition file), ``date``/``time``
  (raw), ``read_datetime`` (ISO, acquisition time from ``Date of
  measurement``; never a guessed day/month order), ``wavelengths``,
  ``temperature`` (°C per read label), ``method_file``, ``workspace_file``,
  ``measurements`` (each settings block as printed), ``skipped``.
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
from il6assay.plate.readers._common import cell_text as _cell
from il6assay.plate.readers._common import iso_datetime
from il6assay.plate.readers._common import sheet_where as _where
from il6assay.plate.readers.source import Sniff, Source
from il6assay.plate.tokens import guess_decimal, parse_reading

NAME = "tecan"
DESCRIPTION = (
    "Tecan Magellan XLSX export (well list + metadata; endpoint absorbance, fluorescence, "
    "luminescence reads)"
)

SNIFF_ROWS = 10
WELL_POSITIONS = "well positions"
KINETIC_ERROR = (
    "kinetic read: il6assay reads endpoint absorbance plates; export the endpoint read "
    "(one value per well and wavelength) from Magellan"
)
SPECTRAL_ERROR = (
    "spectral (wavelength scan) read: il6assay reads endpoint absorbance plates at "
    "fixed wavelengths; export an endpoint measurement from Magellan"
)

_WELL = re.compile(r"([A-Z]{1,2})(\d{1,2})\Z")
_READ_HEADER = re.compile(r"(label\s*\d+|raw data)\Z", re.IGNORECASE)
_HINT = re.compile(r"(label\s*\d+)\s*=\s*(\d{3,4})\s*(?:nm)?\Z", re.IGNORECASE)
_CYCLE = re.compile(r"(\d+(?:\.\d+)?)\s*s\Z")
_TEMP = re.compile(r"(-?\d+(?:[.,]\d+)?)\s*°?\s*C\Z")
_MEASURED = re.compile(
    r"date of measurement:\s*(.+?)\s*/\s*time of measurement:\s*(.+)", re.IGNORECASE
)
_NM_LINE = re.compile(r"(\d{3,4})\s*nm\Z", re.IGNORECASE)
_BLOCK = re.compile(r"measurement\s*(\d+)\s*:?\Z", re.IGNORECASE)
_TEMP_LINE = re.compile(r"meas\.? temperature:\s*(.+?):\s*(-?\d+(?:[.,]\d+)?)\s*°?\s*C", re.I)
_BRACKETED = re.compile(r"\[([^\]]+)\]")
_VERSION = re.compile(r"magellan\b.*?(\d+(?:\.\d+)+)", re.IGNORECASE)


@dataclass
class _Measurement:
    """One settings block (``Measurement N:``) of the metadata."""

    number: int
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return self.settings.get("Measurement mode", "")

    @property
    def wavelength(self) -> int | None:
        m = re.match(r"\s*(\d{3,4})\b", self.settings.get("Measurement wavelength", ""))
        return int(m[1]) if m else None


@dataclass
class _Meta:
    """The metadata lines below the well list, parsed."""

    values: dict[str, Any] = field(default_factory=dict)
    measurements: list[_Measurement] = field(default_factory=list)
    nm_lines: list[int] = field(default_factory=list)
    temp_labels: list[tuple[str, float]] = field(default_factory=list)
    kinetic_line: int | None = None


def sniff(source: Source) -> Sniff:
    """Claim an XLSX workbook with a ``Well positions`` header in a sheet's first rows."""
    if not source.is_workbook:
        return Sniff(False, "not an XLSX workbook (Magellan exports are .xlsx)")
    try:
        names = source.sheet_names
    except InputError as err:
        return Sniff(False, err.message)
    for name in names:
        if _header(source.sheet_rows(name, SNIFF_ROWS)) is not None:
            return Sniff(True)
        if name.lower().startswith("magellan sheet"):
            return Sniff(True)  # read() says what is missing
    return Sniff(False, f"no 'Well positions' header in the first {SNIFF_ROWS} rows of any sheet")


def read(source: Source) -> list[Plate]:
    """Read every plate's absorbance endpoint reads (see the module docstring)."""
    plates: list[Plate] = []
    for name in source.sheet_names:
        rows = source.sheet_rows(name)
        found = _header(rows[:SNIFF_ROWS])
        if found is not None:
            plates += _sheet(name, rows, found, default_id=source.path.stem)
    if not plates:
        raise InputError(
            "no 'Well positions' column in any sheet: export the Magellan results as a list "
            "with well positions (the matrix layout is not read)"
        )
    ids = [p.id for p in plates]
    for p in plates:
        if ids.count(p.id) > 1:
            raise InputError(f"plate '{p.id}' appears in two sheets: export one table per plate")
    return plates


def _header(rows: list[list[str]]) -> tuple[int, int] | None:
    """(row, column) of the ``Well positions`` header cell, if any."""
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            if cell.strip().lower() == WELL_POSITIONS:
                return i, j
    return None


def _sheet(
    sheet: str, rows: list[list[str]], found: tuple[int, int], default_id: str
) -> list[Plate]:
    h, w = found
    header = rows[h]
    well_rows = [i for i in range(h + 1, len(rows)) if _WELL.match(_cell(rows[i], w))]
    if not well_rows:
        raise InputError(
            "no well rows (A1, B1, ...) under 'Well positions'", where=_where(sheet, h, w)
        )
    first, last = well_rows[0], well_rows[-1]
    pre = rows[h + 1 : first]
    meta = _metadata(sheet, rows, last + 1)

    # Columns: reads, the plate ID, and the rest (skipped).
    reads: list[tuple[int, str]] = []
    plate_col: int | None = None
    skipped: list[str] = []
    hints: dict[str, int] = {}
    for r in [header, *pre]:
        for cell in r:
            if m := _HINT.match(cell.strip()):
                hints[_norm(m[1])] = int(m[2])
    for j, cell in enumerate(header):
        text = cell.strip()
        if j == w or not text or _HINT.match(text):
            continue
        if text.lower() == "plate":
            plate_col = j
        elif _READ_HEADER.match(text) or _norm(text) in {_norm(t) for t, _ in meta.temp_labels}:
            reads.append((j, text))
        else:
            skipped.append(text)
    if not reads:
        raise InputError(
            "no read column ('Raw data' or 'Label1', ...) beside 'Well positions'",
            where=_where(sheet, h),
        )

    # Kinetic and spectral exports are refused.
    names = [_norm(t) for _, t in reads]
    for j, text in reads:
        if names.count(_norm(text)) > 1:
            raise InputError(
                KINETIC_ERROR + f" ('{text}' in several columns)", where=_where(sheet, h, j)
            )
        for k, r in enumerate(pre):
            m = _CYCLE.match(_cell(r, j))
            if m and float(m[1]) != 0:
                raise InputError(KINETIC_ERROR, where=_where(sheet, h + 1 + k, j))
    if meta.kinetic_line is not None:
        raise InputError(KINETIC_ERROR, where=_where(sheet, meta.kinetic_line))
    action = meta.values.get("settings", {}).get("Action", "")  # compact 7.5 form
    for m in meta.measurements:
        mode = (m.mode or action).lower()
        if any(word in mode for word in ("scan", "spectr")) or "-" in m.settings.get(
            "Measurement wavelength", ""
        ):
            raise InputError(SPECTRAL_ERROR, where=_where(sheet, last + 1))
        if mode and _mode(mode) is None:
            raise InputError(
                f"measurement mode '{m.mode or action}': not one il6assay reads (absorbance, "
                "fluorescence, luminescence, time-resolved fluorescence, AlphaScreen)",
                where=_where(sheet, last + 1),
            )

    labels = _labels(sheet, h, reads, meta, hints)
    temperature = _temperatures(reads, pre, meta, labels)

    # Wells, by plate.
    decimal = guess_decimal(_cell(rows[i], j) for i in well_rows for j, _ in reads)
    by_plate: dict[str, dict[str, dict[str, Reading]]] = {}
    plate_id = ""
    for i in well_rows:
        row = rows[i]
        if plate_col is not None and _cell(row, plate_col):
            plate_id = _cell(row, plate_col)
        pid = plate_id or meta.values.get("plate_description") or default_id
        well = _cell(row, w)
        grids = by_plate.setdefault(pid, {label: {} for label in labels.values()})
        for j, _ in reads:
            grid = grids[labels[j]]
            if well in grid:
                raise InputError(
                    f"well {well} listed twice for plate '{pid}'", where=_where(sheet, i, w)
                )
            try:
                grid[well] = parse_reading(_cell(row, j), decimal)
            except InputError as err:
                raise InputError(f"well {well}: {err.message}", where=_where(sheet, i, j)) from None

    plates = []
    for pid, grids in by_plate.items():
        nrows, ncols = _size(sheet, grids, meta.values.get("plate_type", ""), first)
        out = {}
        for label, wells in grids.items():
            grid = empty_grid(nrows, ncols)
            grid.update(wells)
            out[label] = grid
        metadata = {
            **{k: v for k, v in meta.values.items() if k != "plate_description"},
            "plate_id": pid,
            "wavelengths": [int(label) for label in grids if label.isdigit()],
            "temperature": temperature,
            "measurements": [m.settings for m in meta.measurements],
            "skipped": skipped,
        }
        if "plate_description" in meta.values:
            metadata["plate_description"] = meta.values["plate_description"]
        plates.append(Plate(id=pid, reads=out, metadata=metadata, rows=nrows, cols=ncols))
    return plates


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _metadata(sheet: str, rows: list[list[str]], start: int) -> _Meta:
    """Parse the one-cell metadata lines below the well list."""
    meta = _Meta(values={"software": "Magellan"})
    values = meta.values
    block: _Measurement | None = None
    free: list[str] = []  # lines with no key, before the serial: user, instrument
    serial_seen = False
    settings: dict[str, str] = {}
    for i in range(start, len(rows)):
        line = next((c.strip() for c in rows[i] if c.strip()), "")
        if not line:
            continue
        low = line.lower()
        if m := _MEASURED.match(line):
            values["date"], values["time"] = m[1].strip(), m[2].strip()
            values["read_datetime"] = iso_datetime(values["date"], values["time"])
        elif low.endswith(".mth"):
            values["method_file"] = line
        elif low.endswith(".wsp"):
            values["workspace_file"] = line
        elif m := _NM_LINE.match(line):
            meta.nm_lines.append(int(m[1]))
        elif m := _BLOCK.match(line):
            block = _Measurement(int(m[1]))
            meta.measurements.append(block)
        elif m := _TEMP_LINE.match(line):
            meta.temp_labels.append((m[1].strip(), float(m[2].replace(",", "."))))
        elif low.startswith("instrument serial number"):
            values["reader_serial"] = line.partition(":")[2].strip()
            serial_seen = True
        elif re.match(r"(kinetic|number of (kinetic )?cycles|kinetic cycles)\b", low):
            meta.kinetic_line = i
        elif ":" in line and not low.startswith(("date:", "c:\\")):
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            target = block.settings if block is not None else settings
            target[key] = value
            if key.lower() == "plate definition file":
                values["plate_type"] = value
            if (b := _BRACKETED.search(value)) and "plate" in key.lower():
                values["plate_description"] = b[1].strip()
        elif low.startswith("date:"):
            values["report_datetime"] = line  # raw: not the acquisition time
        elif (b := _BRACKETED.fullmatch(line)) is not None:
            values["plate_description"] = b[1].strip()
        elif (v := _VERSION.search(line)) is not None:
            values["software_version"] = v[1]
        elif not serial_seen:
            free.append(line)
    if settings:
        if meta.measurements:
            # Settings before the first "Measurement N:" apply to the run (shaking, ...).
            values["settings"] = settings
        else:
            # A single measurement printed without a "Measurement 1:" header.
            meta.measurements.append(_Measurement(1, settings))
    # The last free lines before the serial are the user and the instrument.
    if free:
        values["reader_type"] = free[-1]
    if len(free) >= 2:
        values["user"] = free[-2]
    for m in meta.measurements:
        if "plate_type" not in values and m.settings.get("Plate definition file"):
            values["plate_type"] = m.settings["Plate definition file"]
    return meta


def _labels(
    sheet: str, h: int, reads: list[tuple[int, str]], meta: _Meta, hints: dict[str, int]
) -> dict[int, str]:
    """Read label (wavelength digits) of each read column."""
    waves = [m.wavelength for m in meta.measurements]
    if not any(waves):
        waves = list(meta.nm_lines)
    order = [_norm(label) for label, _ in meta.temp_labels]
    labels: dict[int, str] = {}
    for j, text in reads:
        key = _norm(text)
        other = _other_mode_label(key, order, reads, meta)
        if other is not None:
            if other in labels.values():
                raise InputError(
                    f"two reads {other} in one table: export them separately",
                    where=_where(sheet, h, j),
                )
            labels[j] = other
            continue
        wave: int | None = hints.get(key)
        if wave is None:
            index: int | None = None
            if key in order:
                index = order.index(key)
            elif m := re.match(r"label(\d+)\Z", key):
                index = int(m[1]) - 1
            elif len(reads) == 1:
                index = 0
            if index is not None and index < len(waves):
                wave = waves[index]
        if wave is None:
            raise InputError(
                f"cannot tell the wavelength of column '{text}' (no matching "
                "'Measurement wavelength' line below the table)",
                where=_where(sheet, h, j),
            )
        label = str(wave)
        if label in labels.values():
            raise InputError(
                f"two reads at {label} nm in one table: export them separately",
                where=_where(sheet, h, j),
            )
        labels[j] = label
    return labels


def _mode(text: str) -> str | None:
    """A Magellan measurement mode in il6assay's words ("Fluorescence Top Reading" ...)."""
    low = text.lower()
    if "absorbance" in low:
        return ABSORBANCE
    if "time resolved" in low or "time-resolved" in low or re.search(r"\btrf\b", low):
        return TRF
    if "alpha" in low:
        return ALPHA
    if "polari" in low:
        return POLARIZATION
    if "fluorescence" in low:
        return FLUORESCENCE
    if "lumin" in low:
        return LUMINESCENCE
    return None


def _other_mode_label(
    key: str, order: list[str], reads: list[tuple[int, str]], meta: _Meta
) -> str | None:
    """The label of a column whose measurement is not absorbance ("fl 485/535"), else None."""
    index: int | None = None
    if key in order:
        index = order.index(key)
    elif m := re.match(r"label(\d+)\Z", key):
        index = int(m[1]) - 1
    elif len(reads) == 1:
        index = 0
    if index is None or index >= len(meta.measurements):
        return None
    settings = meta.measurements[index].settings
    mode = _mode(settings.get("Measurement mode", ""))
    if mode in (None, ABSORBANCE):
        return None

    def nm(name: str) -> int | None:
        m = re.match(r"\s*(\d{3,4})\b", settings.get(name, ""))
        return int(m[1]) if m else None

    return read_label(
        mode, excitation=nm("Excitation wavelength"), emission=nm("Emission wavelength")
    )


def _temperatures(
    reads: list[tuple[int, str]], pre: list[list[str]], meta: _Meta, labels: dict[int, str]
) -> dict[str, float]:
    """°C per read label: from 'Meas. temperature' lines, else the table's temperature row."""
    by_label = {_norm(label): t for label, t in meta.temp_labels}
    out: dict[str, float] = {}
    for j, text in reads:
        if _norm(text) in by_label:
            out[labels[j]] = by_label[_norm(text)]
            continue
        for r in pre:
            if m := _TEMP.match(_cell(r, j)):
                out[labels[j]] = float(m[1].replace(",", "."))
    # A compartment temperature of 0 means "not measured" (allotropy#639).
    return {label: t for label, t in out.items() if t != 0}


def _size(
    sheet: str, grids: dict[str, dict[str, Reading]], plate_type: str, first: int
) -> tuple[int, int]:
    wells = [w for grid in grids.values() for w in grid]
    for w in wells:
        m = _WELL.match(w)
        if m is None or len(m[1]) > 1 or m[1] > "P" or not 1 <= int(m[2]) <= 24:
            raise InputError(
                f"well {w}: only 96- and 384-well plates (A1-P24) are read",
                where=_where(sheet, first),
            )
    big = "384" in plate_type or any(w[0] > "H" or int(w[1:]) > 12 for w in wells)
    return (16, 24) if big else (8, 12)
