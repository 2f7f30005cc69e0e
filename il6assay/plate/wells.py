"""The well table: each well's role from the layout beside its raw reads and OD.

The corrected OD is the measurement read minus the reference read when the
export has one (A450 - A570, say); both raw reads stay in the table. With the
"subtract" zero-standard setting, the mean corrected OD of the zero standard
is then subtracted from every well (never clipped at zero). Raw reads are
never altered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from il6assay.errors import InputError
from il6assay.plate.export import MASKED, MISSING, Plate, Reading, Token
from il6assay.plate.layout import Layout, WellSpec
from il6assay.settings import Settings

MEASUREMENT_PREFERENCE = ("450",)
REFERENCE_CANDIDATES = ("570", "540", "620", "630", "650", "690")


@dataclass
class Well:
    """One well: layout role, raw reads by label, the OD used, and what was made of it."""

    spec: WellSpec
    raw: dict[str, Reading]
    status: str  # OK, SATURATED, MISSING or MASKED
    od_corrected: float | None  # measurement - reference
    od: float | None  # the OD the curve sees (after zero-standard subtraction if chosen)
    conc_on_plate: float | None = None  # back-calculated, before dilution
    conc: float | None = None  # x dilution
    recovery_pct: float | None = None  # standards and controls
    passed: bool | None = None  # standards and controls: within tolerance
    flags: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Well name, "A1"."""
        return self.spec.well

    def flag(self, code: str) -> None:
        """Add a flag once, keeping the order flags were raised in."""
        if code not in self.flags:
            self.flags.append(code)


def choose_reads(plate: Plate, settings: Settings) -> tuple[str, str | None]:
    """The measurement and reference read labels to use, by setting or by convention."""
    labels = list(plate.reads)
    if settings.read is not None:
        if settings.read not in plate.reads:
            raise InputError(
                f"no read '{settings.read}' in the export (reads: {', '.join(labels)})"
            )
        read = settings.read
    elif any(p in plate.reads for p in MEASUREMENT_PREFERENCE):
        read = next(p for p in MEASUREMENT_PREFERENCE if p in plate.reads)
    elif len(labels) == 1:
        read = labels[0]
    else:
        raise InputError(
            f"several reads ({', '.join(labels)}) and none at 450 nm: choose one with --read"
        )
    if settings.reference == "none":
        return read, None
    if settings.reference is not None:
        if settings.reference not in plate.reads:
            raise InputError(
                f"no reference read '{settings.reference}' in the export "
                f"(reads: {', '.join(labels)})"
            )
        return read, settings.reference
    refs = [r for r in REFERENCE_CANDIDATES if r in plate.reads and r != read]
    return read, (refs[0] if refs else None)


def _status(value: Reading) -> str:
    if isinstance(value, Token):
        return value.status
    if value is None:
        return MISSING
    return "OK"


def build_wells(
    plate: Plate, layout: Layout, settings: Settings
) -> tuple[list[Well], str, str | None]:
    """Join layout and reads by well name into the well table; returns (wells, read, reference)."""
    read, reference = choose_reads(plate, settings)
    wells: list[Well] = []
    unknown = [name for name in settings.masked if name not in plate.reads[read]]
    if unknown:
        raise InputError(f"cannot mask well {unknown[0]}: not on the plate")
    missing = [name for name in layout.wells if name not in plate.reads[read]]
    if missing:
        raise InputError(
            f"layout well {missing[0]} is not on the plate ({plate.rows}x{plate.cols})"
        )
    for name in plate.reads[read]:
        # Every well of the plate is in the table; wells the layout leaves out are empty.
        spec = layout.wells.get(name) or WellSpec(well=name, role="empty")
        raw = {label: grid.get(name) for label, grid in plate.reads.items()}
        value = raw[read]
        ref_value = raw[reference] if reference else 0.0
        status = _status(value)
        if status == "OK" and reference:
            ref_status = _status(ref_value)
            # A reference read that is not a number leaves no corrected OD. It says
            # nothing about IL-6 (a saturated 570 is dirt or a bubble, not analyte),
            # so the well is MISSING, never SATURATED; the raw token stays.
            status = MISSING if ref_status != "OK" else "OK"
        od = float(value) - float(ref_value) if status == "OK" else None  # type: ignore[arg-type]
        corrected = od
        if name in settings.masked:
            # A reviewer's exclusion: the read stays in the table, the curve never sees it.
            status, od = MASKED, None
        well = Well(spec=spec, raw=raw, status=status, od_corrected=corrected, od=od)
        if status != "OK" and spec.role != "empty":
            well.flag(status)
        wells.append(well)
    if settings.zero_standard == "subtract":
        zeros = [
            w.od
            for w in wells
            if w.spec.role == "standard" and w.spec.nominal == 0 and w.od is not None
        ]
        if not zeros:
            raise InputError(
                "zero_standard 'subtract' needs a readable zero standard (0 pg/mL) in the layout"
            )
        zero_mean = math.fsum(zeros) / len(zeros)
        for w in wells:
            if w.od is not None:
                w.od = w.od - zero_mean
    return wells, read, reference
