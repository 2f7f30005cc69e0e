"""Allotrope Simple Model (ASM) plate-reader JSON, as allotropy and lab data platforms write it.

Structure read (the plate-reader manifest, REC/2024/06 and REC/2025/03, and
the BENCHLING/2023/09 form, which share these names)::

    {"$asm.manifest": ".../plate-reader/...",
     "plate reader aggregate document": {
       "plate reader document": [          # one per well (allotropy) or per group
         {"measurement aggregate document": {
            "measurement time": "...", "plate well count": {"value": 96},
            "measurement document": [
              {"device control aggregate document": {"device control document": [
                  {"detection type": "Absorbance",
                   "detector wavelength setting": {"value": 450.0, "unit": "nm"}}]},
               "sample document": {"location identifier": "A1",
                                   "well plate identifier": "Plate 1"},
               "absorbance": {"value": 2.1, "unit": "mAU"},
               "error aggregate document": {"error document": [
                   {"error": "OVRFLW", "error feature": "absorbance"}]}}]}}],
       "data system document": {"software name": ..., "software version": ...},
       "device system document": {"model number": ..., "equipment serial number": ...}}}

What is read:

- Plates: measurements grouped by ``well plate identifier`` (the plate id),
  in order of first appearance; without one, the file stem. Size from
  ``plate well count`` (96 or 384), else from the wells seen.
- Reads: absorbance measurements (detection type "absorbance", or an
  ``absorbance`` value) labelled by ``detector wavelength setting`` ("450");
  fluorescence and luminescence measurements (a ``fluorescence`` or
  ``luminescence`` value) by mode and optics ("fl 485/520" from the
  excitation and detector wavelength settings, "lum"). Wells by ``location
  identifier`` ("A1", "A01"). Other detection types are skipped and listed
  in ``metadata["skipped"]``.
- Values: the ``absorbance`` value as written. allotropy labels every
  absorbance "mAU" although the numbers are the reader's ODs (its Gen5
  document holds 2.1 "mAU" where Gen5 printed an OD of 2.100), so no unit
  conversion is done; the units seen are in ``metadata["absorbance_units"]``.
- Errors: a measurement with an error document for its absorbance has no
  number (allotropy writes a placeholder -0.0 beside it): the error text goes
  through :func:`~il6assay.plate.tokens.parse_reading` when it is a reader's token
  (``OVRFLW`` -> SATURATED, ``MISSED`` -> MISSING), else it is mapped by its
  words (overflow/saturated/above range -> SATURATED; masked/excluded ->
  MASKED; not read/missing/invalid/below range -> MISSING), keeping the text.
  An error saying none of these is refused, never guessed.
- Refused: kinetic or spectral absorbance (an ``absorption profile`` or
  ``spectrum data cube``), two absorbance values for one well and wavelength,
  no absorbance measurement at all, a JSON that is not a plate-reader ASM.
- Metadata: ``software``, ``software_version``, ``reader_type`` (model
  number), ``reader_serial``, ``device_identifier``, ``asm_manifest``,
  ``asm_converter`` (name and version), ``source_file`` (the export it came
  from), ``plate_number`` (a custom "Plate Number"), ``read_datetime`` (the
  ASM's ``measurement time``, ISO 8601 as written: an ASM converter has
  already read the export's date, so a locale date it could not know the
  order of, and a "+00:00" it added for want of a zone, are its word, not
  ours), ``measurement_times`` (if several), ``wavelengths``,
  ``analytical_method``, ``experimental_data_identifier``, ``temperature``
  (compartment temperature, °C, non-zero only), ``absorbance_units``,
  ``skipped``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from il6assay.errors import InputError
from il6assay.plate.export import (
    ABSORBANCE,
    FLUORESCENCE,
    LUMINESCENCE,
    MASKED,
    MISSING,
    SATURATED,
    Plate,
    Reading,
    Token,
    empty_grid,
    read_label,
)
from il6assay.plate.readers.source import Sniff, Source
from il6assay.plate.tokens import parse_reading

NAME = "asm"
DESCRIPTION = (
    "Allotrope Simple Model (ASM) plate-reader JSON (absorbance, fluorescence, "
    "luminescence endpoint)"
)

MANIFEST = "$asm.manifest"
AGGREGATE = "plate reader aggregate document"
_MANIFEST_VALUE = re.compile(r'"\$asm\.manifest"\s*:\s*("(?:[^"\\]|\\.)*"|\{)')
_WELL = re.compile(r"([A-Pa-p])0*([1-9]\d?)\Z")
_SIZES = {96: (8, 12), 384: (16, 24)}
# Words in an error text that say what happened to the well, for texts that are
# not a reader's token (allotropy keeps the token; other writers may describe it).
_ERROR_WORDS = (
    (SATURATED, ("overflow", "ovrflw", "saturat", "over range", "above range", "too high")),
    (MASKED, ("mask", "exclud")),
    (
        MISSING,
        ("not read", "missed", "missing", "not measured", "no value", "invalid", "below range"),
    ),
)


def sniff(source: Source) -> Sniff:
    """Claim a JSON document whose ``$asm.manifest`` names the plate-reader manifest."""
    if source.is_zip or source.is_ole:
        return Sniff(False, "a binary file, not ASM JSON")
    text = source.head_text.lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        return Sniff(False, "not a JSON object (an ASM document starts with '{')")
    m = _MANIFEST_VALUE.search(text)
    if not m:
        return Sniff(False, "JSON without '$asm.manifest' near the top: not an ASM document")
    manifest = m[1] if m[1] != "{" else text[m.start(1) : m.start(1) + 2000]
    if "plate-reader" not in manifest and "plate_reader" not in manifest:
        return Sniff(False, f"an ASM document, but not a plate-reader one ({manifest.strip()})")
    return Sniff(True)


def read(source: Source) -> list[Plate]:
    """Read the absorbance measurements of every plate (see the module docstring)."""
    import json

    try:
        doc = json.loads(source.text)
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg})", where=f"line {err.lineno}") from None
    if not isinstance(doc, dict):
        raise InputError("not an ASM document: the JSON is not an object")
    manifest = doc.get(MANIFEST)
    if "plate-reader" not in json.dumps(manifest):
        raise InputError(f"'$asm.manifest' is not a plate-reader manifest ({manifest!r})")
    aggregate = doc.get(AGGREGATE)
    if not isinstance(aggregate, dict):
        raise InputError(f"no '{AGGREGATE}' in this ASM document")
    base = _file_metadata(aggregate, manifest)
    groups = _list(aggregate, "plate reader document", AGGREGATE)
    plates: dict[str, _PlateBuilder] = {}
    skipped: list[str] = []
    for i, group in enumerate(groups, start=1):
        where_group = f"plate reader document {i}"
        agg = _dict(group, "measurement aggregate document", where_group)
        documents = _list(agg, "measurement document", where_group)
        for k, measurement in enumerate(documents, start=1):
            where = f"{where_group}, measurement document {k}"
            if not isinstance(measurement, dict):
                raise InputError("a measurement document that is not an object", where=where)
            _add(measurement, agg, group, plates, skipped, where, source.path.stem)
    if not plates:
        found = ", ".join(f"'{s}'" for s in skipped) or "no measurement"
        raise InputError(
            f"no endpoint measurement of a known kind in this ASM document (found {found})"
        )
    return [p.build(base, skipped) for p in plates.values()]


class _PlateBuilder:
    """Measurements of one plate, collected before the plate's size is known."""

    def __init__(self, plate_id: str) -> None:
        self.id = plate_id
        self.reads: dict[str, dict[str, Reading]] = {}
        self.origin: dict[tuple[str, str], str] = {}
        self.well_counts: set[int] = set()
        self.times: list[str] = []
        self.units: list[str] = []
        self.meta: dict[str, Any] = {}

    def build(self, base: dict[str, Any], skipped: list[str]) -> Plate:
        wells = [w for grid in self.reads.values() for w in grid]
        big = any(w[0] > "H" or int(w[1:]) > 12 for w in wells)
        if len(self.well_counts) > 1:
            raise InputError(f"plate '{self.id}' has two well counts {sorted(self.well_counts)}")
        count = next(iter(self.well_counts), 384 if big else 96)
        if count not in _SIZES:
            raise InputError(
                f"plate '{self.id}' has {count} wells: il6assay reads 96- and 384-well plates"
            )
        nrows, ncols = _SIZES[count]
        if big and count == 96:
            well = next(w for w in wells if w[0] > "H" or int(w[1:]) > 12)
            raise InputError(f"plate '{self.id}': well {well} on a 96-well plate")
        reads = {}
        # Absorbance reads by wavelength, then the others in order of appearance.
        for label in sorted(self.reads, key=lambda lb: (0, int(lb)) if lb.isdigit() else (1, 0)):
            grid = empty_grid(nrows, ncols)
            grid.update(self.reads[label])
            reads[label] = grid
        meta = {**base, **self.meta}
        times = list(dict.fromkeys(self.times))
        meta["read_datetime"] = times[0] if len(times) == 1 else None
        if len(times) > 1:
            meta["measurement_times"] = times
        meta["wavelengths"] = [int(label) for label in reads if label.isdigit()]
        meta["absorbance_units"] = list(dict.fromkeys(self.units))
        meta["skipped"] = list(skipped)
        return Plate(id=self.id, reads=reads, metadata=meta, rows=nrows, cols=ncols)


def _add(
    measurement: dict[str, Any],
    agg: dict[str, Any],
    group: dict[str, Any],
    plates: dict[str, _PlateBuilder],
    skipped: list[str],
    where: str,
    default_id: str,
) -> None:
    """File one measurement document under its plate, read and well."""
    control = _device_control(measurement)
    detection = str(control.get("detection type", "")).strip()
    cubes = [k for k in measurement if k.endswith("data cube")]
    is_abs = "absorb" in detection.lower() or "absorbance" in measurement
    if any(k.startswith("absor") for k in cubes) or (is_abs and cubes):
        kind = "spectral" if any("spectrum" in k for k in cubes) else "kinetic"
        raise InputError(
            f"{kind} absorbance data ('{cubes[0]}'): il6assay reads endpoint absorbance "
            "plates; convert the endpoint read",
            where=where,
        )
    kind = _value_key(measurement, detection)
    if cubes and kind != "absorbance":
        raise InputError(
            f"kinetic or spectral {kind or detection or 'data'} ('{cubes[0]}'): il6assay reads "
            "endpoint plates; convert the endpoint read",
            where=where,
        )
    if kind is None:
        label = detection or next((k for k in cubes), "unknown measurement")
        if label not in skipped:
            skipped.append(label)
        return
    sample = measurement.get("sample document") or {}
    location = str(sample.get("location identifier", "")).strip()
    m = _WELL.match(location)
    if not m:
        raise InputError(
            f"location identifier '{location}' is not a well ('A1'..'P24')", where=where
        )
    well = f"{m[1].upper()}{int(m[2])}"
    wavelength = _number(control.get("detector wavelength setting"))
    if kind != "absorbance":
        excitation = _number(control.get("excitation wavelength setting"))
        label = read_label(_MODES[kind], excitation=excitation, emission=wavelength)
    elif wavelength is None or not wavelength.is_integer():
        raise InputError(
            f"well {well}: absorbance without a detector wavelength setting in nm", where=where
        )
    else:
        label = str(int(wavelength))
    plate_id = str(sample.get("well plate identifier") or default_id).strip()
    plate = plates.get(plate_id)
    if plate is None:
        plate = plates[plate_id] = _PlateBuilder(plate_id)
    wells = plate.reads.setdefault(label, {})
    if well in wells:
        raise InputError(
            f"well {well} of plate '{plate_id}' has two values for read {label} "
            f"(the other in {plate.origin[label, well]}): a kinetic or repeated read?",
            where=where,
        )
    wells[well] = _reading(measurement, well, where, kind)
    plate.origin[label, well] = where
    count = _number(agg.get("plate well count"))
    if count is not None:
        plate.well_counts.add(int(count))
    if agg.get("measurement time"):
        plate.times.append(str(agg["measurement time"]))
    absorbance = measurement.get("absorbance")
    if isinstance(absorbance, dict) and absorbance.get("unit"):
        plate.units.append(str(absorbance["unit"]))
    _plate_metadata(plate.meta, measurement, agg, sample, control)


# ASM value keys of endpoint measurements, and their read modes.
_MODES = {
    "absorbance": ABSORBANCE,
    "fluorescence": FLUORESCENCE,
    "luminescence": LUMINESCENCE,
}


def _value_key(measurement: dict[str, Any], detection: str) -> str | None:
    """The measurement's value key ("absorbance", "fluorescence", ...), None for another kind."""
    low = detection.lower()
    for key in _MODES:
        if key in measurement or key[:6] in low:
            return key
    return None


def _reading(
    measurement: dict[str, Any], well: str, where: str, kind: str = "absorbance"
) -> Reading:
    errors = [
        e
        for e in (measurement.get("error aggregate document") or {}).get("error document", [])
        if isinstance(e, dict) and str(e.get("error feature", kind)).strip().lower() in (kind, "")
    ]
    if errors:
        return _error_token(str(errors[0].get("error", "")).strip(), well, where)
    absorbance = measurement.get(kind)
    value = absorbance.get("value") if isinstance(absorbance, dict) else absorbance
    if value is None:
        raise InputError(f"well {well}: absorbance without a value or an error", where=where)
    if isinstance(value, bool):
        raise InputError(f"well {well}: absorbance value {value!r} is not a number", where=where)
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            return float(value)
        value = "NaN" if math.isnan(value) else ("-Inf" if value < 0 else "Inf")
    try:
        return parse_reading(str(value))
    except InputError as err:
        raise InputError(f"well {well}: {err.message}", where=where) from None


def _error_token(text: str, well: str, where: str) -> Token:
    """An ASM error text as our token: the reader's own word if known, else by its words."""
    try:
        reading = parse_reading(text)
    except InputError:
        reading = None
    if isinstance(reading, Token):
        return reading
    low = text.lower()
    for status, words in _ERROR_WORDS:
        if any(w in low for w in words):
            return Token(status, text)
    raise InputError(
        f"well {well}: unknown error '{text}' in the ASM (not a reader token, and it does not "
        "say saturated, masked or not read)",
        where=where,
    )


def _device_control(measurement: dict[str, Any]) -> dict[str, Any]:
    agg = measurement.get("device control aggregate document") or {}
    docs = (agg.get("device control document") or []) if isinstance(agg, dict) else []
    return next((d for d in docs if isinstance(d, dict)), {})


def _number(quantity: Any) -> float | None:
    value = quantity.get("value") if isinstance(quantity, dict) else quantity
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _dict(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        raise InputError(f"no '{key}' object", where=where)
    return value


def _list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, list):
        raise InputError(f"no '{key}' list", where=where)
    return value


def _file_metadata(aggregate: dict[str, Any], manifest: Any) -> dict[str, Any]:
    data = aggregate.get("data system document") or {}
    device = aggregate.get("device system document") or {}
    meta: dict[str, Any] = {"asm_manifest": manifest}
    pairs = (
        (data, "software name", "software"),
        (data, "software version", "software_version"),
        (data, "file name", "source_file"),
        (device, "model number", "reader_type"),
        (device, "equipment serial number", "reader_serial"),
        (device, "device identifier", "device_identifier"),
    )
    for doc, key, name in pairs:
        if isinstance(doc, dict) and doc.get(key) not in (None, ""):
            meta[name] = doc[key]
    if isinstance(data, dict) and data.get("ASM converter name"):
        converter = str(data["ASM converter name"])
        version = data.get("ASM converter version")
        meta["asm_converter"] = f"{converter} {version}" if version else converter
    return meta


def _plate_metadata(
    meta: dict[str, Any],
    measurement: dict[str, Any],
    agg: dict[str, Any],
    sample: dict[str, Any],
    control: dict[str, Any],
) -> None:
    custom = sample.get("custom information document") or {}
    if isinstance(custom, dict) and custom.get("Plate Number"):
        meta.setdefault("plate_number", custom["Plate Number"])
    for key, name in (
        ("analytical method identifier", "analytical_method"),
        ("experimental data identifier", "experimental_data_identifier"),
    ):
        value = measurement.get(key) or agg.get(key)
        if value:
            meta.setdefault(name, value)
    for doc in (measurement, control, agg):
        temperature = _number(doc.get("compartment temperature"))
        # A compartment temperature of 0 means "not recorded" (allotropy#639).
        if temperature:
            meta.setdefault("temperature", temperature)
