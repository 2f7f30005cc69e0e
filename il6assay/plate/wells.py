"""The well table: each well's role from the layout beside its raw reads and OD.

The measurement read is the absorbance at 450 nm by default, else the only
read that can be a signal (not a reference or pathlength wavelength), else
the one ``--read`` names; with ``--ratio A/B`` the signal is the per-well
ratio A/B x 10^4 (HTRF's 665/620 convention) and both raw reads stay. The
corrected OD is the measurement read minus the reference read when the read
is absorbance and the export has one (A450 - A570, say); both raw reads stay
in the table: other signals (fluorescence, luminescence, Alpha, TR-FRET) have
no reference wavelength to subtract. With the
"subtract" zero-standard setting, the mean corrected OD of the zero standard
is then subtracted from every well (never clipped at zero). Raw reads are
never altered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from il6assay.errors import InputError
from il6assay.plate.export import (
    ABSORBANCE,
    MASKED,
    MISSING,
    SATURATED,
    Plate,
    Reading,
    Token,
    read_info,
    read_mode,
)
from il6assay.plate.layout import Layout, WellSpec
from il6assay.settings import Settings

MEASUREMENT_PREFERENCE = ("450",)
REFERENCE_CANDIDATES = ("570", "540", "620", "630", "650", "690")
# Gen5's pathlength-correction reads (water peak and its reference): never the signal.
PATHLENGTH_READS = ("977", "900")
RATIO_SCALE = 1e4  # HTRF/TR-FRET: ratio = (A / B) x 10^4


def ratio_reads(plate: Plate, ratio: str) -> tuple[str, str]:
    """The two reads ``--ratio A/B`` names: labels ("trf 665/trf 620"), or emissions ("665/620")."""
    labels = list(plate.reads)
    for i, char in enumerate(ratio):
        if (
            char == "/"
            and ratio[:i].strip() in plate.reads
            and ratio[i + 1 :].strip() in plate.reads
        ):
            return ratio[:i].strip(), ratio[i + 1 :].strip()
    parts = ratio.split("/")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        found = []
        for nm in (int(p) for p in parts):
            by_emission = [
                lb
                for lb in labels
                if read_info(lb).get("emission_nm") == nm
                or read_info(lb).get("wavelength_nm") == nm
            ]
            if len(by_emission) != 1:
                break
            found.append(by_emission[0])
        if len(found) == 2:
            return found[0], found[1]
    raise InputError(
        f"--ratio '{ratio}' does not name two reads of the plate as A/B "
        f"(reads: {', '.join(labels)}; e.g. --ratio '{labels[0]}/{labels[-1]}')"
    )


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
    if settings.ratio is not None:
        if settings.read is not None:
            raise InputError("give --read or --ratio, not both")
        a, b = ratio_reads(plate, settings.ratio)
        if settings.reference not in (None, "none"):
            raise InputError("--reference corrects absorbance reads only, not a --ratio signal")
        return f"{a}/{b}", None
    if settings.read is not None:
        if settings.read not in plate.reads:
            raise InputError(
                f"no read '{settings.read}' in the export (reads: {', '.join(labels)})"
            )
        read = settings.read
    elif any(p in plate.reads for p in MEASUREMENT_PREFERENCE):
        read = next(p for p in MEASUREMENT_PREFERENCE if p in plate.reads)
    else:
        signals = [lb for lb in labels if not _never_signal(lb)]
        if len(signals) == 1:
            read = signals[0]
        elif not signals:
            what = "read is" if len(labels) == 1 else "reads are"
            raise InputError(
                f"the export's only {what} {', '.join(labels)} nm, a reference or pathlength "
                f"wavelength, not a signal: give --read {labels[0]} if it really is the "
                "measurement"
            )
        else:
            raise InputError(
                f"several reads ({', '.join(signals)}) and none at 450 nm: choose one with "
                "--read LABEL (or --ratio A/B)"
            )
    if read_mode(read) not in (ABSORBANCE, None):
        # The dual-wavelength correction is an absorbance habit; other signals have none.
        if settings.reference not in (None, "none"):
            raise InputError(
                f"--reference corrects absorbance reads only; read '{read}' is {read_mode(read)}"
            )
        return read, None
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


def _never_signal(label: str) -> bool:
    """An absorbance read at a reference or pathlength wavelength: never the default signal."""
    return read_mode(label) == ABSORBANCE and (
        label in REFERENCE_CANDIDATES or label in PATHLENGTH_READS
    )


def _ratio_value(a: Reading, b: Reading) -> Reading:
    """A / B x 10^4 for one well; a token when either read is not a usable number."""
    if isinstance(a, Token) and a.status == SATURATED:
        return a  # the acceptor channel saturated: the ratio is high, not absent
    if not isinstance(a, float) or not isinstance(b, float) or b <= 0:
        token = b if isinstance(b, Token) else a if isinstance(a, Token) else None
        return Token(MISSING, token.token if token else "no ratio")
    return a / b * RATIO_SCALE


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
    pair = ratio_reads(plate, settings.ratio) if settings.ratio is not None else None
    grid = plate.reads[pair[0] if pair else read]
    wells: list[Well] = []
    unknown = [name for name in settings.masked if name not in grid]
    if unknown:
        raise InputError(f"cannot mask well {unknown[0]}: not on the plate")
    missing = [name for name in layout.wells if name not in grid]
    if missing:
        raise InputError(
            f"layout well {missing[0]} is not on the plate ({plate.rows}x{plate.cols})"
        )
    for name in grid:
        # Every well of the plate is in the table; wells the layout leaves out are empty.
        spec = layout.wells.get(name) or WellSpec(well=name, role="empty")
        raw = {label: g.get(name) for label, g in plate.reads.items()}
        value = _ratio_value(raw[pair[0]], raw[pair[1]]) if pair else raw[read]
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
