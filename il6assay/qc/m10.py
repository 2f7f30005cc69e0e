"""ICH M10's judgement of a ligand-binding run: standards and QCs on their reportable values.

The ``m10`` rule profile (``Settings.rules``). A level of standards, or a QC,
is judged on its reportable value, the mean of its wells' back-calculated
concentrations, never well by well (ICH M10 (2022) section 4.3.2):

- a standard level passes when that mean is within ±20 % of nominal (±25 % at
  the lowest and highest non-zero levels) and the wells' CV is within 20 %
  (25 %); a failing level is excluded and the curve refitted once without it
  (``il6assay.run``), the levels judged again on the refitted curve;
- QCs (the wells of ``QC_ROLES`` with a nominal concentration) come in at
  least three levels, in a set before and a set after the samples in reading
  order (down each column, columns left to right: the order the layout is
  drawn and an 8-channel pipette fills the plate); one QC is the wells of one
  level on one side of the samples (before, among, after), judged on their
  mean; at least 2/3 of the QCs and half at each level pass;
- the calibrated range must cover the lowest and highest QC level.
"""

from __future__ import annotations

import math
from typing import Any

from il6assay.messages import text
from il6assay.plate.wells import Well
from il6assay.qc import rules
from il6assay.qc.rules import Message, RuleResult, StandardLevel, cv_pct, said, setting_fields
from il6assay.settings import Settings

# The layout roles whose wells are the plate's QCs under the m10 rules: in-matrix QCs,
# and kit controls given with a nominal concentration (every control has one).
QC_ROLES = ("qc", "control")
# Roles that are neither calibration nor QC: the study's specimens, and what method
# validation puts on a plate in their place; the QC sets must bracket them.
NOT_SPECIMEN_ROLES = ("standard", "blank", "empty", *QC_ROLES)
# A plate holding these is a method-validation run (docs/validation.md): no study samples
# for its QCs to bracket.
VALIDATION_ROLES = ("pool", "selectivity", "stability")

PROFILE = "m10"
SOURCE_STANDARDS = text("en", "source.M10_STANDARDS")
SOURCE_QC_DESIGN = text("en", "source.M10_QC_DESIGN")
SOURCE_QC = text("en", "source.M10_QC")
SOURCE_QC_RANGE = text("en", "source.M10_QC_RANGE")


def reading_order(name: str) -> tuple[int, int]:
    """A well's place in reading order: down each column, columns left to right."""
    letters = name.rstrip("0123456789")
    row = 0
    for ch in letters:
        row = row * 26 + (ord(ch.upper()) - 64)
    return int(name[len(letters) :]), row


def qc_wells(wells: list[Well]) -> list[Well]:
    """The plate's QC wells: of a QC role and with a nominal concentration."""
    return [w for w in wells if w.spec.role in QC_ROLES and w.spec.nominal]


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def evaluate_standards(
    standards: list[Well],
    settings: Settings,
    excluded: dict[float, StandardLevel] | None = None,
) -> list[StandardLevel]:
    """Each non-zero level judged on its reportable value (mean) and CV, highest level first.

    ``excluded``: the levels left out of the refit, by nominal, as the first fit
    judged them; they stay failed, with that fit's figures.
    """
    excluded = excluded or {}
    levels = []
    for nominal, wells, end in rules.standard_levels(standards):
        tol = settings.standard_tolerance_extreme_pct if end else settings.standard_tolerance_pct
        cv_tol = settings.cv_limit_lloq_pct if end else settings.cv_limit_pct
        for w in wells:
            w.recovery_pct = (
                100.0 * w.conc_on_plate / nominal if w.conc_on_plate is not None else None
            )
        if nominal in excluded:
            first = excluded[nominal]
            level = StandardLevel(
                level=first.level,
                nominal=nominal,
                tolerance_pct=tol,
                wells=wells,
                passed=False,
                mean_conc_pg_ml=first.mean_conc_pg_ml,
                mean_recovery_pct=first.mean_recovery_pct,
                cv_pct=first.cv_pct,
                cv_limit_pct=cv_tol,
                excluded=True,
                reason=first.reason,
            )
        else:
            level = _judge_level(wells, nominal, tol, cv_tol)
        for w in wells:
            w.passed = level.passed
            if not level.passed:
                w.flag("STANDARD_FAILED")
            if level.excluded:
                w.flag("STANDARD_EXCLUDED")
        levels.append(level)
    return levels


def refit_can_pass(levels: list[StandardLevel], settings: Settings) -> bool:
    """Whether the levels passing on the first fit are enough to accept the plate.

    Only then is the curve refitted without the failing ones: a refit cannot
    bring an excluded level back, so when too few pass the plate is rejected
    on STANDARD_LEVELS and the first fit, through every standard, is what the
    reviewer sees.
    """
    n_pass = sum(lv.passed for lv in levels)
    return (
        n_pass >= settings.min_standard_levels
        and n_pass / len(levels) >= settings.min_standard_level_share - 1e-12
    )


def _judge_level(wells: list[Well], nominal: float, tol: float, cv_tol: float) -> StandardLevel:
    read = [w for w in wells if w.od is not None]
    concs = [w.conc_on_plate for w in read if w.conc_on_plate is not None]
    level = StandardLevel(
        level=wells[0].spec.level or f"{nominal:g}",
        nominal=nominal,
        tolerance_pct=tol,
        wells=wells,
        passed=False,
        cv_limit_pct=cv_tol,
    )
    if not read:
        level.reason = "no well read"
        return level
    if len(concs) < len(read):
        level.reason = "a well cannot be back-calculated (beyond the curve)"
        return level
    level.mean_conc_pg_ml = _mean(concs)
    level.mean_recovery_pct = 100.0 * level.mean_conc_pg_ml / nominal
    level.cv_pct = cv_pct(concs)
    accurate = abs(level.mean_recovery_pct - 100.0) <= tol + 1e-9
    precise = level.cv_pct is None or level.cv_pct <= cv_tol + 1e-9
    level.passed = accurate and precise
    if not level.passed:
        level.reason = ", ".join(
            part
            for part, bad in (
                (f"mean recovery {level.mean_recovery_pct:.1f} % (±{tol:g} %)", not accurate),
                (f"CV {level.cv_pct or 0:.1f} % (≤ {cv_tol:g} %)", not precise),
            )
            if bad
        )
    return level


def calibration_rules(
    levels: list[StandardLevel], fit_ok: bool, fit_message: str, settings: Settings
) -> list[RuleResult]:
    """CURVE_FIT, STANDARD_LEVELS and STANDARD_SHARE counted on the levels' reportable values.

    The counting is the kit rules' (il6assay.qc.rules.calibration_rules) over
    levels judged here; the words, sources and excluded levels are M10's.
    """
    fit, count, share = rules.calibration_rules(levels, fit_ok, fit_message, settings)
    n_pass = sum(lv.passed for lv in levels)
    failed = [lv for lv in levels if not lv.passed]
    excluded = [lv for lv in levels if lv.excluded]
    parts = [said("detail.levels_pass_reportable", n_pass=n_pass, n=len(levels))]
    if failed:
        failing = ", ".join(
            f"{lv.level} ({lv.nominal:g}: {lv.reason or 'failed'})" for lv in failed
        )
        parts.append(said("detail.failing", levels=failing))
    if excluded:
        parts.append(said("detail.excluded", levels=", ".join(lv.level for lv in excluded)))
    count.tell(*parts)
    numbers = setting_fields(settings)
    count.describe(said("rule.m10.STANDARD_LEVELS", **numbers))
    share.describe(said("rule.m10.STANDARD_SHARE", **numbers))
    count.source = share.source = SOURCE_STANDARDS
    count.section = share.section = "4.3.2, 4.2.3"
    for r in (fit, count, share):
        r.profile = PROFILE
    return [fit, count, share]


def _specimen_wells(wells: list[Well]) -> list[Well]:
    return [w for w in wells if w.spec.role not in NOT_SPECIMEN_ROLES]


def qc_side(w: Well, first: tuple[int, int] | None, last: tuple[int, int] | None) -> str:
    """Where a QC well lies against the samples in reading order: before, among or after."""
    if first is None or last is None:
        return "before"
    at = reading_order(w.name)
    return "before" if at < first else ("after" if at > last else "among")


def group_qcs(wells: list[Well]) -> dict[tuple[str, str], list[Well]]:
    """The plate's QCs: (level, side of the samples) -> its wells, in reading order."""
    specimens = sorted(reading_order(w.name) for w in _specimen_wells(wells))
    first, last = (specimens[0], specimens[-1]) if specimens else (None, None)
    groups: dict[tuple[str, str], list[Well]] = {}
    for w in sorted(qc_wells(wells), key=lambda w: reading_order(w.name)):
        groups.setdefault((str(w.spec.level), qc_side(w, first, last)), []).append(w)
    return groups


def qc_design_rule(wells: list[Well], min_levels: int = 3) -> RuleResult:
    """QC_DESIGN: at least three QC levels, a full set before and a full set after the samples."""
    groups = group_qcs(wells)
    levels = sorted({lv for lv, _ in groups})
    has_specimens = bool(_specimen_wells(wells))
    before = {lv for lv, side in groups if side == "before"}
    after = {lv for lv, side in groups if side == "after"}
    problems: list[Message] = []
    if not groups:
        problems.append(said("detail.qc_design_none"))
    elif len(levels) < min_levels:
        problems.append(
            said("detail.qc_design_few", n=len(levels), levels=", ".join(levels),
                 min_levels=min_levels)
        )  # fmt: skip
    validation = any(w.spec.role in VALIDATION_ROLES for w in wells)
    if groups and has_specimens and not validation:
        if set(levels) - before:
            missing = ", ".join(sorted(set(levels) - before))
            problems.append(said("detail.qc_design_no_set_before", levels=missing))
        if set(levels) - after:
            missing = ", ".join(sorted(set(levels) - after))
            problems.append(said("detail.qc_design_no_set_after", levels=missing))
    elif groups:
        single = [lv for lv in levels if sum(len(g) for (x, _), g in groups.items() if x == lv) < 2]
        if single:
            problems.append(said("detail.qc_design_single", levels=", ".join(single)))
    sets = min((sum(x == lv for x, _ in groups) for lv in levels), default=0)
    if validation and not problems:
        parts = [said("detail.qc_design_validation", n=len(levels))]
    else:
        parts = problems or [said("detail.qc_design_ok", n=len(levels), sets=sets)]
    return RuleResult.keyed(
        "QC_DESIGN",
        said("rule.m10.QC_DESIGN", min_levels=min_levels),
        SOURCE_QC_DESIGN,
        not problems,
        parts,
        [w.name for g in groups.values() for w in g] if problems and groups else [],
        profile=PROFILE,
        section="4.3.1",
    )


def evaluate_qcs(wells: list[Well], settings: Settings) -> tuple[RuleResult, list[dict[str, Any]]]:
    """CONTROLS on the QCs' reportable values; and each QC's figures for curve.json."""
    groups = group_qcs(wells)
    about = said("rule.m10.CONTROLS", **setting_fields(settings))
    if not groups:
        parts = [said("detail.no_qcs_see_design")]
        rule = RuleResult.keyed(
            "CONTROLS", about, SOURCE_QC, None, parts, profile=PROFILE, section="4.3.2"
        )
        return rule, []
    figures = []
    for (level, side), members in groups.items():
        spec = members[0].spec
        read = [w for w in members if w.od is not None]
        concs = [w.conc for w in read if w.conc is not None]
        mean = _mean(concs) if read and len(concs) == len(read) else None
        low, high = spec.low, spec.high
        ok = mean is not None and low is not None and high is not None
        ok = ok and low - 1e-9 <= mean <= high + 1e-9  # type: ignore[operator]
        for w in members:
            w.passed = ok
            if w.conc is not None and w.spec.nominal:
                w.recovery_pct = 100.0 * w.conc / w.spec.nominal
            if not ok:
                w.flag("CONTROL_FAILED")
        figures.append(
            {
                "level": level,
                "side": side,
                "nominal_pg_ml": spec.nominal,
                "range_pg_ml": [low, high],
                "wells": [w.name for w in members],
                "mean_conc_pg_ml": mean,
                "recovery_pct": 100.0 * mean / spec.nominal if mean is not None else None,
                "cv_pct": cv_pct(concs) if len(concs) == len(read) else None,
                "passed": ok,
            }
        )
    overall = sum(f["passed"] for f in figures) / len(figures)
    by_level: dict[str, list[bool]] = {}
    for f in figures:
        by_level.setdefault(f["level"], []).append(f["passed"])
    shares = {lv: sum(v) / len(v) for lv, v in by_level.items()}
    passed = overall >= settings.control_min_share - 1e-12 and all(
        s >= settings.control_min_level_share - 1e-12 for s in shares.values()
    )
    per_level = ", ".join(f"{k} {s:.0%}" for k, s in shares.items())
    rule = RuleResult.keyed(
        "CONTROLS",
        about,
        SOURCE_QC,
        passed,
        [said("detail.qcs_pass", share=overall, n=len(figures), by_level=per_level)],
        [w for f in figures if not f["passed"] for w in f["wells"]],
        profile=PROFILE,
        section="4.3.2",
    )
    return rule, figures


def qc_range_rule(wells: list[Well], lloq: float | None, uloq: float | None) -> RuleResult:
    """QC_RANGE: the calibrated range covers the lowest and the highest QC level."""
    qcs = qc_wells(wells)
    nominals = sorted({float(w.spec.nominal) for w in qcs})  # type: ignore[arg-type]
    about = said("rule.m10.QC_RANGE")
    if not nominals:
        return RuleResult.keyed(
            "QC_RANGE", about, SOURCE_QC_RANGE, None, [said("detail.no_qcs")], profile=PROFILE,
            section="4.3.2",
        )  # fmt: skip
    low, high = nominals[0], nominals[-1]
    covered = lloq is not None and uloq is not None and lloq <= low and high <= uloq
    outside = [
        w.name
        for w in qcs
        if lloq is None or uloq is None or not lloq <= float(w.spec.nominal) <= uloq  # type: ignore[arg-type]
    ]
    known = lloq is not None and uloq is not None
    span = said("detail.qc_range", lloq=lloq, uloq=uloq) if known else said("detail.qc_range_none")
    qcs_text = said("detail.qc_range_qcs" if covered else "detail.qc_range_outside", low=low,
                    high=high)  # fmt: skip
    return RuleResult.keyed(
        "QC_RANGE",
        about,
        SOURCE_QC_RANGE,
        covered,
        [span, qcs_text],
        outside,
        profile=PROFILE,
        section="4.3.2",
    )


def raised_lloq(levels: list[StandardLevel], lloq: float | None) -> bool:
    """True when a standard level below the run's LLOQ was excluded from the curve."""
    return lloq is not None and any(lv.excluded and lv.nominal < lloq for lv in levels)
