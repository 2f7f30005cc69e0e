"""Sample results: back-calculated IL-6 per sample, censored outside the calibrated range.

A sample's concentration is the curve's inverse at the mean OD of its
replicate wells, times its dilution factor. Outside the run's LLOQ..ULOQ the
result is text ("<4.69", ">3000", limits times the dilution), never an
extrapolated number; an OD beyond the curve's asymptotes cannot be inverted
at all and is flagged BELOW_CURVE / ABOVE_CURVE.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from il6assay.curve.fit import CurveFit
from il6assay.messages import catalogue, text
from il6assay.plate.export import MASKED, MISSING, SATURATED
from il6assay.plate.layout import WellSpec
from il6assay.plate.samples import SampleRow
from il6assay.plate.wells import Well
from il6assay.qc.rules import Message, cv_pct, said
from il6assay.settings import Settings

# A sample's advice (the words: [advice] in il6assay/messages/en.toml; results.csv holds this
# English). Why the m10 rules do not report a result: ICH M10 section 4.3.4, reanalysis.
REASSAY_HINT = text("en", "advice.reassay_hint")
REASSAY_HIGH_CV = text("en", "advice.high_cv")
REASSAY_LLOQ_RAISED = text("en", "advice.lloq_raised")

# Flags, in the order they are listed; documented in the README. Their words are the message
# catalogue's ([flag] in il6assay/messages/en.toml; run.json's legend holds this English).
FLAGS = {key.removeprefix("flag."): words for key, words in catalogue("en").items()
         if key.startswith("flag.")}  # fmt: skip


def format_sig(value: float, digits: int = 3) -> str:
    """A number to ``digits`` significant figures, without exponent: 4.6875 -> "4.69"."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    rounded = round(value, decimals)
    if decimals <= 0:
        return str(int(rounded))
    return f"{rounded:.{decimals}f}"


@dataclass
class SampleResult:
    """One sample (label at one dilution) on one plate: its wells, OD, result and flags."""

    sample: str
    dilution: float
    wells: list[Well]
    study_id: str = ""
    visit: str = ""
    note: str = ""
    od_mean: float | None = None
    od_cv_pct: float | None = None
    conc_cv_pct: float | None = None
    conc_on_plate: float | None = None
    conc_pg_ml: float | None = None
    ci_low_pg_ml: float | None = None
    ci_high_pg_ml: float | None = None
    result: str = ""
    advice: str = ""
    flags: list[str] = field(default_factory=list)
    dilution_label: str | None = None  # several dilutions averaged: "1;10"
    combined_from: list[str] = field(default_factory=list)  # "P10@1", "P11@10"
    # The advice's catalogue key and fields, for the report in any language (not stored).
    advice_msg: Message | None = field(default=None, compare=False, repr=False)

    def flag(self, code: str) -> None:
        """Add a flag once."""
        if code not in self.flags:
            self.flags.append(code)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SampleResult:
        """A sample rebuilt from its dilutions.csv row (or a stored copy): one label, one dilution.

        Values may be text, as the CSV has them, or numbers. The wells are
        rebuilt by name only (no reads): enough to count and list them.
        """
        dilution = _number(row.get("dilution"))
        if dilution is None:
            raise ValueError(f"a sample row needs a numeric dilution, not {row.get('dilution')!r}")
        sample = str(row.get("sample") or "")
        wells = [
            Well(
                spec=WellSpec(well=name, role="sample", sample=sample, dilution=dilution),
                raw={},
                status="OK",
                od_corrected=None,
                od=None,
            )
            for name in str(row.get("wells") or "").split()
        ]
        return cls(
            sample=sample,
            dilution=dilution,
            wells=wells,
            study_id=str(row.get("study_id") or ""),
            visit=str(row.get("visit") or ""),
            note=str(row.get("note") or ""),
            od_mean=_number(row.get("od_mean")),
            od_cv_pct=_number(row.get("od_cv_pct")),
            conc_cv_pct=_number(row.get("conc_cv_pct")),
            conc_pg_ml=_number(row.get("conc_pg_ml")),
            ci_low_pg_ml=_number(row.get("ci_low_pg_ml")),
            ci_high_pg_ml=_number(row.get("ci_high_pg_ml")),
            result=str(row.get("result") or ""),
            advice=str(row.get("advice") or ""),
            flags=[f for f in str(row.get("flags") or "").split(";") if f],
        )

    def row(self, run_id: str, lloq: float | None, uloq: float | None) -> dict[str, Any]:
        """The results.csv row."""
        return {
            "study_id": self.study_id,
            "visit": self.visit,
            "sample": self.sample,
            "dilution": self.dilution_label
            or (int(self.dilution) if self.dilution.is_integer() else self.dilution),
            "n_wells": len(self.wells),
            "od_mean": _round(self.od_mean, 6),
            "od_cv_pct": _round(self.od_cv_pct, 3),
            "conc_pg_ml": _round(self.conc_pg_ml, 6),
            "result": self.result,
            "flags": ";".join(self.flags),
            "run_id": run_id,
            "ci_low_pg_ml": _round(self.ci_low_pg_ml, 6),
            "ci_high_pg_ml": _round(self.ci_high_pg_ml, 6),
            "conc_cv_pct": _round(self.conc_cv_pct, 3),
            "lloq_pg_ml": _round(lloq * self.dilution, 6) if lloq is not None else None,
            "uloq_pg_ml": _round(uloq * self.dilution, 6) if uloq is not None else None,
            "advice": self.advice,
            "wells": " ".join(w.name for w in self.wells),
            "note": self.note,
            "dilutions": " ".join(self.combined_from),
        }


def _number(value: Any) -> float | None:
    """A CSV cell or stored value as a float; empty or not a number is None."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _round(v: float | None, sig: int) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return float(f"{v:.{sig}g}")


RESULT_COLUMNS = list(SampleResult("", 1.0, []).row("", None, None))


def group_samples(wells: list[Well], sheet_rows: dict[str, SampleRow]) -> list[SampleResult]:
    """Sample wells grouped by label and dilution (the sheet's dilution overrides the layout's)."""
    groups: dict[tuple[str, float], SampleResult] = {}
    for w in wells:
        if w.spec.role != "sample" or not w.spec.sample:
            continue
        row = sheet_rows.get(w.spec.sample)
        dilution = w.spec.dilution  # the sheet's dilution is applied by apply_sheet_dilutions
        key = (w.spec.sample, dilution)
        if key not in groups:
            groups[key] = SampleResult(sample=w.spec.sample, dilution=dilution, wells=[])
            if row:
                groups[key].study_id, groups[key].visit, groups[key].note = (
                    row.study_id,
                    row.visit,
                    row.note,
                )
            else:
                groups[key].flag("NO_STUDY_ID")
        groups[key].wells.append(w)
    return sorted(groups.values(), key=lambda s: (_natural(s.sample), s.dilution))


def _natural(label: str) -> list[Any]:
    """Sort key that puts P2 before P10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", label)]


def apply_sheet_dilutions(wells: list[Well], sheet_rows: dict[str, SampleRow]) -> None:
    """The sample sheet's dilution overrides the layout's, for the wells as for the sample."""
    for w in wells:
        row = sheet_rows.get(w.spec.sample or "") if w.spec.role == "sample" else None
        if row is not None and row.dilution is not None:
            w.spec = replace(w.spec, dilution=row.dilution)


def back_calculate_wells(wells: list[Well], curve: CurveFit) -> None:
    """Each readable well's concentration on the plate and times its dilution."""
    if not curve.success:
        return
    read = [w for w in wells if w.od is not None]
    for w, x in zip(read, curve.inverse_each([w.od for w in read]).tolist(), strict=True):
        if math.isfinite(x):
            w.conc_on_plate = x
            w.conc = x * (w.spec.dilution if w.spec.role == "sample" else 1.0)
        else:
            side = curve.side(w.od)
            if side:
                w.flag("BELOW_CURVE" if side == "below" else "ABOVE_CURVE")


def cv_limit(conc_on_plate: float | None, levels: list[float], settings: Settings) -> float:
    """The CV limit for a sample: wider (25 %) between the LLOQ and the next standard level."""
    if conc_on_plate is not None and len(levels) >= 2:
        next_level = sorted(levels)[1]  # the passing level just above the LLOQ
        if conc_on_plate < next_level:
            return settings.cv_limit_lloq_pct
    return settings.cv_limit_pct


def evaluate_sample(
    s: SampleResult,
    curve: CurveFit,
    lloq: float | None,
    uloq: float | None,
    passing_levels: list[float],
    settings: Settings,
    lloq_raised: bool = False,
) -> None:
    """Mean OD, CVs, concentration or censored text, and flags for one sample.

    Under the m10 rules a censored result carries no CV, and a result with
    HIGH_CV, or below an LLOQ raised by an excluded standard (``lloq_raised``),
    is not reportable: no number, no censored text, the flag and re-assay advice.
    """
    evaluate_samples([s], curve, lloq, uloq, passing_levels, settings, lloq_raised=lloq_raised)


def evaluate_samples(
    samples: list[SampleResult],
    curve: CurveFit,
    lloq: float | None,
    uloq: float | None,
    passing_levels: list[float],
    settings: Settings,
    lloq_raised: bool = False,
) -> None:
    """:func:`evaluate_sample` of every sample, the confidence intervals of all of them
    computed in one call of the curve (each figure, and each flag in its place, the same)."""
    pending: list[tuple[SampleResult, int, float]] = []  # in range: (sample, replicates, conc)
    means = []  # each sample's mean OD, as _evaluate sets it
    for s in samples:
        ods = [w.od for w in s.wells if w.od is not None]
        mean = math.fsum(ods) / len(ods) if ods else s.od_mean
        means.append(math.nan if mean is None else mean)
    concs = curve.inverse_each(means).tolist() if curve.success else [math.nan] * len(samples)
    for s, conc in zip(samples, concs, strict=True):
        _evaluate(s, curve, lloq, uloq, passing_levels, settings, pending, conc)
    if pending:
        _intervals(pending, curve, lloq, uloq)  # type: ignore[arg-type]
    if settings.rules != "m10":
        return
    for s in samples:
        if s.result.startswith(("<", ">")):
            s.conc_cv_pct = None  # the replicates' concentrations were extrapolations
        if "BELOW_LLOQ" in s.flags and lloq_raised:
            s.flag("LLOQ_RAISED")
            _not_reportable(s, "advice.lloq_raised")
        if "HIGH_CV" in s.flags:
            _not_reportable(s, "advice.high_cv")


def _intervals(
    pending: list[tuple[SampleResult, int, float]], curve: CurveFit, lloq: float, uloq: float
) -> None:
    """The 95 % CI of each in-range sample's result, and the flag of an interval that crosses
    a limit: noise alone can carry a truth from beyond the range to the result (docs/curve.md,
    "Accuracy on realistic plates")."""
    ods = [s.od_mean for s, _, _ in pending]
    low, high = curve.inverse_ci(ods, [n for _, n, _ in pending], conc=[x for _, _, x in pending])
    for (s, _, _), ci_low, ci_high in zip(pending, low.tolist(), high.tolist(), strict=True):
        s.ci_low_pg_ml, s.ci_high_pg_ml = ci_low * s.dilution, ci_high * s.dilution
        if not s.ci_low_pg_ml >= lloq * s.dilution:
            s.flag("NEAR_LLOQ")
        if not s.ci_high_pg_ml <= uloq * s.dilution:
            s.flag("NEAR_ULOQ")


def _not_reportable(s: SampleResult, advice: str) -> None:
    s.conc_on_plate = s.conc_pg_ml = s.ci_low_pg_ml = s.ci_high_pg_ml = None
    s.result, s.advice, s.advice_msg = "", text("en", advice), said(advice)


def _evaluate(
    s: SampleResult,
    curve: CurveFit,
    lloq: float | None,
    uloq: float | None,
    passing_levels: list[float],
    settings: Settings,
    pending: list[tuple[SampleResult, int, float]],
    x: float,  # the concentration of the mean OD (as float(curve.inverse(s.od_mean)) gives it)
) -> None:
    ods = [w.od for w in s.wells if w.od is not None]
    if any(w.status == SATURATED for w in s.wells):
        s.flag("SATURATED")
    if any(w.status in (MISSING, MASKED) for w in s.wells):
        s.flag("MISSING_REPLICATE")
    if ods:
        s.od_mean = math.fsum(ods) / len(ods)
        s.od_cv_pct = cv_pct(ods)
    if not curve.success:
        s.flag("FIT_FAILED")
        return
    if lloq is None or uloq is None:
        s.flag("NO_CALIBRATED_RANGE")
        return
    low_text, high_text = (
        "<" + format_sig(lloq * s.dilution),
        ">" + format_sig(uloq * s.dilution),
    )
    if "SATURATED" in s.flags:
        # A saturated replicate is beyond the reader's range: above any standard.
        s.flag("ABOVE_ULOQ")
        s.result, s.advice, s.advice_msg = high_text, REASSAY_HINT, said("advice.reassay_hint")
        return
    if s.od_mean is None:
        return
    side = None if math.isfinite(x) else curve.side(s.od_mean)
    in_range = math.isfinite(x) and lloq <= x <= uloq
    concs = [w.conc_on_plate for w in s.wells if w.conc_on_plate is not None]
    if len(concs) == len(ods):
        s.conc_cv_pct = cv_pct(concs)
    # Precision is judged on concentrations where they are reported; outside the
    # range the replicate concentrations are extrapolations, so the OD CV is used.
    cv = s.conc_cv_pct if in_range and s.conc_cv_pct is not None else s.od_cv_pct
    where = x if math.isfinite(x) else (0.0 if side == "below" else math.inf)
    if cv is not None and cv > cv_limit(where, passing_levels, settings):
        s.flag("HIGH_CV")
    if side == "below" or (math.isfinite(x) and x < lloq):
        if side:
            s.flag("BELOW_CURVE")
        s.flag("BELOW_LLOQ")
        s.result = low_text
    elif side == "above" or x > uloq:
        if side:
            s.flag("ABOVE_CURVE")
        s.flag("ABOVE_ULOQ")
        s.result, s.advice, s.advice_msg = high_text, REASSAY_HINT, said("advice.reassay_hint")
    else:
        s.conc_on_plate = x
        s.conc_pg_ml = x * s.dilution
        s.result = format_sig(s.conc_pg_ml)
        pending.append((s, len(ods), x))  # its interval and NEAR_ flags: _intervals


def _ci(
    curve: CurveFit, od: float, replicates: int, dilution: float, conc: float | None = None
) -> tuple[float, float]:
    low, high = curve.inverse_ci(od, replicates, conc=None if conc is None else [conc])
    return float(low[0]) * dilution, float(high[0]) * dilution


def censor_wells(wells: list[Well], lloq: float | None, uloq: float | None) -> None:
    """Sample wells outside the calibrated range lose their number and get the flag.

    Standards and controls keep their back-calculated values: recoveries are
    the acceptance rules' data.
    """
    for w in wells:
        if w.spec.role != "sample" or w.conc_on_plate is None:
            continue
        if lloq is None or uloq is None:
            w.conc_on_plate = w.conc = None
        elif w.conc_on_plate < lloq:
            w.flag("BELOW_LLOQ")
            w.conc_on_plate = w.conc = None
        elif w.conc_on_plate > uloq:
            w.flag("ABOVE_ULOQ")
            w.conc_on_plate = w.conc = None


def well_ci(w: Well, curve: CurveFit) -> tuple[float | None, float | None]:
    """95 % CI of a well's own concentration (one read), times its dilution; None when censored."""
    if w.conc is None or w.od is None or not curve.success:
        return None, None
    dilution = w.spec.dilution if w.spec.role == "sample" else 1.0
    return _ci(curve, w.od, 1, dilution)


def well_cis(wells: list[Well], curve: CurveFit) -> list[tuple[float | None, float | None]]:
    """:func:`well_ci` of every well, the curve evaluated once over all their ODs (same figures)."""

    out: list[tuple[float | None, float | None]] = [(None, None)] * len(wells)
    if not curve.success:
        return out
    at = [i for i, w in enumerate(wells) if w.conc is not None and w.od is not None]
    if not at:
        return out
    ods = [float(wells[i].od) for i in at]  # type: ignore[arg-type]
    # Each concentration as back-calculated alone, as well_ci does (CurveFit.inverse_each).
    conc = curve.inverse_each(ods)
    low, high = curve.inverse_ci(ods, 1, conc=conc)
    for j, i in enumerate(at):
        w = wells[i]
        dilution = w.spec.dilution if w.spec.role == "sample" else 1.0
        out[i] = (float(low[j]) * dilution, float(high[j]) * dilution)
    return out
