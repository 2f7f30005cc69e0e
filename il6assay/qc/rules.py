"""Acceptance rules: standards, calibration range, controls, replicate precision.

Defaults are ICH M10's for ligand-binding assays (ICH M10, 2022, section 4:
4.2.3 calibration curve and range, 4.2.4 accuracy and precision, 4.3.2 the
acceptance criteria of an analytical run); each rule carries its source so
that every verdict in curve.json and the report can be traced to the rule
and the wells that made it. Failed standards are flagged,
never dropped: excluding a point is a reviewer's recorded action.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from il6assay.messages import text
from il6assay.plate.wells import Well
from il6assay.settings import Settings

if TYPE_CHECKING:
    from il6assay.curve.fit import CurveFit

# Each rule's source cites the guidance itself: section numbers of ICH M10 (2022),
# "Bioanalytical method validation and study sample analysis", section 4 (ligand-binding
# assays), and CLSI EP17-A2 (2012), "Evaluation of detection capability". The words are
# the message catalogue's ([source] in il6assay/messages/en.toml), as every rule's are.
ICH_M10_CAL = text("en", "source.ICH_M10_CAL")
ICH_M10_QC = text("en", "source.ICH_M10_QC")
ICH_M10_PRECISION = text("en", "source.ICH_M10_PRECISION")
ICH_M10_FIT = text("en", "source.ICH_M10_FIT")
LOQ_SOURCE = text("en", "source.LOQ")

# A catalogue key and its fields: the words of a rule's description or of a part of its
# detail, in any language (il6assay.messages); the English is what curve.json stores.
Message = tuple[str, dict[str, Any]]


def said(key: str, **fields: Any) -> Message:
    """A message: the catalogue key (``"detail.failing"``) and the fields its words take."""
    return key, fields


def in_words(lang: str, *parts: Message) -> str:
    """The parts' words in ``lang``, joined by the language's separator ("; ", "；")."""
    return text(lang, "detail.separator").join(text(lang, key, **f) for key, f in parts)


def setting_fields(settings: Settings) -> dict[str, Any]:
    """The settings' numbers a rule's description names (its catalogue fields)."""
    names = ("standard_tolerance_pct", "standard_tolerance_extreme_pct", "min_standard_levels",
             "min_standard_level_share", "min_replicate_share", "control_min_share",
             "control_min_level_share", "cv_limit_pct", "cv_limit_lloq_pct")  # fmt: skip
    return {name: getattr(settings, name) for name in names}


@dataclass
class RuleResult:
    """One rule's verdict, with the numbers and wells behind it."""

    id: str
    description: str
    source: str
    passed: bool | None  # None: not applicable (e.g. no controls in the layout)
    detail: str
    wells: list[str] = field(default_factory=list)
    profile: str = ""  # the rule profile that applied it: "m10" or "kit" (Settings.rules)
    section: str = ""  # the ICH M10 section(s) it applies
    # The description's and the detail's messages, for the report in any language; not in
    # curve.json, which keeps the English words above (a rule read back from it has none).
    description_msg: Message | None = field(default=None, compare=False, repr=False)
    detail_msgs: tuple[Message, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def keyed(
        cls, rule_id: str, about: Message, source: str, passed: bool | None,
        parts: list[Message], wells: list[str] | None = None, **where: str,
    ) -> RuleResult:  # fmt: skip
        """A rule whose description and detail are the English of these messages."""
        return cls(rule_id, text("en", about[0], **about[1]), source, passed,
                   in_words("en", *parts), wells or [], description_msg=about,
                   detail_msgs=tuple(parts), **where)  # fmt: skip

    def describe(self, about: Message) -> None:
        """Give the rule another description (the m10 profile's words for a kit count)."""
        self.description, self.description_msg = text("en", about[0], **about[1]), about

    def tell(self, *parts: Message) -> None:
        """Give the rule another detail, made of ``parts``."""
        self.detail, self.detail_msgs = in_words("en", *parts), parts

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for curve.json."""
        return {
            "id": self.id,
            "description": self.description,
            "source": self.source,
            "passed": self.passed,
            "detail": self.detail,
            "wells": self.wells,
            # The kit rules' entries keep il6assay 0.2's shape, so that runs processed before
            # rule profiles verify by recomputation (record/verify.py compares curve.json).
            **({"profile": self.profile, "section": self.section} if self.profile == "m10" else {}),
        }


@dataclass
class StandardLevel:
    """One non-zero standard level: its wells, their recoveries and the verdict."""

    level: str
    nominal: float
    tolerance_pct: float
    wells: list[Well]
    passed: bool
    # CV of a result at this level measured in as many replicates (delta method), and
    # whether it meets the precision limit of the range's ends (quantification_range).
    predicted_cv_pct: float | None = None
    precise: bool | None = None
    # The m10 rules' reportable value: the wells' mean back-calculated concentration, its
    # recovery and CV, the CV limit; excluded: left out of the refitted curve (il6assay.qc.m10).
    mean_conc_pg_ml: float | None = None
    mean_recovery_pct: float | None = None
    cv_pct: float | None = None
    cv_limit_pct: float | None = None
    excluded: bool = False
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for curve.json."""
        return {
            "level": self.level,
            "nominal_pg_ml": self.nominal,
            "tolerance_pct": self.tolerance_pct,
            "passed": self.passed,
            "predicted_cv_pct": self.predicted_cv_pct,
            "precise": self.precise,
            **(
                {
                    "mean_conc_pg_ml": self.mean_conc_pg_ml,
                    "mean_recovery_pct": self.mean_recovery_pct,
                    "cv_pct": self.cv_pct,
                    "cv_limit_pct": self.cv_limit_pct,
                    "excluded": self.excluded,
                    "reason": self.reason,
                }
                if self.cv_limit_pct is not None  # judged by the m10 rules (0.2's shape else)
                else {}
            ),
            "wells": [
                {
                    "well": w.name,
                    "od": w.od,
                    "conc_pg_ml": w.conc_on_plate,
                    "recovery_pct": w.recovery_pct,
                    "passed": bool(w.passed),
                    "flags": w.flags,
                }
                for w in self.wells
            ],
        }


def standard_levels(standards: list[Well]) -> list[tuple[float, list[Well], bool]]:
    """The non-zero levels, highest first: (nominal, wells, whether it is an end of the series).

    Zero and missing nominals are anchors (fitted, never judged); the lowest
    and highest non-zero levels are the ends that get the LLOQ/ULOQ limits.
    """
    by_level: dict[float, list[Well]] = {}
    for w in standards:
        if w.spec.nominal:
            by_level.setdefault(float(w.spec.nominal), []).append(w)
    ends = {min(by_level), max(by_level)} if by_level else set()
    return [(x, by_level[x], x in ends) for x in sorted(by_level, reverse=True)]


def evaluate_standards(standards: list[Well], settings: Settings) -> list[StandardLevel]:
    """Recovery of each standard well against nominal; a level passes when enough replicates do.

    The zero standard is an anchor point: fitted, never judged. The lowest and
    highest non-zero levels get the wider LLOQ/ULOQ tolerance.
    """
    levels = []
    for nominal, wells, end in standard_levels(standards):
        tol = settings.standard_tolerance_extreme_pct if end else settings.standard_tolerance_pct
        for w in wells:
            if w.conc_on_plate is not None:
                w.recovery_pct = 100.0 * w.conc_on_plate / nominal
                w.passed = abs(w.recovery_pct - 100.0) <= tol + 1e-9
            else:
                w.passed = False
            if not w.passed:
                w.flag("STANDARD_FAILED")
        share = sum(bool(w.passed) for w in wells) / len(wells)
        levels.append(
            StandardLevel(
                level=wells[0].spec.level or f"{nominal:g}",
                nominal=nominal,
                tolerance_pct=tol,
                wells=wells,
                passed=share >= settings.min_replicate_share - 1e-12,
            )
        )
    return levels


def calibration_range(levels: list[StandardLevel]) -> tuple[float | None, float | None]:
    """The run's LLOQ and ULOQ: the lowest and highest passing standard levels (pg/mL).

    A level judged imprecise (``precise`` False, see ``quantification_range``)
    cannot be an end of the range.
    """
    passing = [lv.nominal for lv in levels if lv.passed and lv.precise is not False]
    return (min(passing), max(passing)) if passing else (None, None)


def quantification_range(
    levels: list[StandardLevel], curve: CurveFit, settings: Settings
) -> tuple[float | None, float | None, RuleResult]:
    """LLOQ and ULOQ from the levels that pass on recovery and on predicted precision.

    Recovery alone lets a level at the reader's noise floor pass by chance
    (its duplicates land near the curve that they themselves pulled): the
    curve then "quantifies" ODs that noise alone produces. So each passing
    level also gets the CV that a result measured there would carry, from the
    delta method (the fit's residual variance at that OD and the parameters'
    covariance, with the level's number of replicates), and the range's ends
    are the lowest and highest levels within ``cv_limit_lloq_pct``.
    """
    limit = settings.cv_limit_lloq_pct
    for lv in levels:
        lv.predicted_cv_pct, lv.precise = None, None
    judged = [lv for lv in levels if curve.success and lv.passed]
    if judged:  # every level in one call of the curve, each figure the one it gives alone
        ods = np.atleast_1d(curve.predict(np.array([lv.nominal for lv in judged], dtype=float)))
        replicates = [sum(w.od is not None for w in lv.wells) or 1 for lv in judged]
        errors = curve.inverse_se(ods, replicates, conc=curve.inverse_each(ods))
        for lv, se in zip(judged, errors.tolist(), strict=True):
            if math.isfinite(se):
                lv.predicted_cv_pct = 100.0 * se / lv.nominal
                lv.precise = lv.predicted_cv_pct <= limit + 1e-9
    lloq, uloq = calibration_range(levels) if curve.success else (None, None)
    dropped = [lv for lv in levels if lv.passed and lv.precise is False]
    parts = [
        said("detail.range", lloq=lloq, uloq=uloq)
        if lloq is not None and uloq is not None
        else said("detail.range_none")
    ]
    if dropped:
        levels_text = ", ".join(
            f"{lv.level} ({lv.nominal:g}: {lv.predicted_cv_pct:.0f} %)" for lv in dropped
        )
        parts.append(said("detail.imprecise", levels=levels_text))
    rule = RuleResult.keyed(
        "QUANTIFICATION_RANGE",
        said("rule.QUANTIFICATION_RANGE", **setting_fields(settings)),
        LOQ_SOURCE,
        (lloq is not None) if curve.success else None,
        parts if curve.success else [said("detail.no_curve")],
        [w.name for lv in dropped for w in lv.wells],
        profile=settings.rules,
        section="4.2.4",
    )
    return lloq, uloq, rule


def calibration_rules(
    levels: list[StandardLevel], fit_ok: bool, fit_message: str, settings: Settings
) -> list[RuleResult]:
    """Plate-level calibration verdicts: the fit, the number and share of passing levels."""
    n_pass = sum(lv.passed for lv in levels)
    failed_wells = [w.name for lv in levels for w in lv.wells if not w.passed]
    failed_levels = [f"{lv.level} ({lv.nominal:g})" for lv in levels if not lv.passed]
    share = n_pass / len(levels) if levels else 0.0
    numbers = setting_fields(settings)
    count = [said("detail.levels_pass", n_pass=n_pass, n=len(levels))]
    if failed_levels:
        count.append(said("detail.failing", levels=", ".join(failed_levels)))
    about_fit = said("rule.CURVE_FIT")
    return [
        RuleResult(
            id="CURVE_FIT",
            description=text("en", about_fit[0]),
            source=ICH_M10_FIT,
            passed=fit_ok,
            detail=fit_message,  # the curve's own message (il6assay.curve): no key of ours
            profile="kit",
            section="4.2.3",
            description_msg=about_fit,
        ),
        RuleResult.keyed(
            "STANDARD_LEVELS",
            said("rule.STANDARD_LEVELS", **numbers),
            ICH_M10_CAL,
            fit_ok and n_pass >= settings.min_standard_levels,
            count,
            failed_wells,
            profile="kit",
            section="4.2.3, 4.3.2",
        ),
        RuleResult.keyed(
            "STANDARD_SHARE",
            said("rule.STANDARD_SHARE", **numbers),
            ICH_M10_CAL,
            fit_ok and share >= settings.min_standard_level_share - 1e-12,
            [said("detail.share_pass", share=share)],
            failed_wells,
            profile="kit",
            section="4.2.3, 4.3.2",
        ),
    ]


def evaluate_controls(controls: list[Well], settings: Settings) -> RuleResult:
    """Each control well within its acceptance range; ≥ 2/3 overall and ≥ 50 % per level."""
    if not controls:
        return RuleResult.keyed(
            "CONTROLS",
            said("rule.unevaluated.CONTROLS", **setting_fields(settings)),
            ICH_M10_QC,
            None,
            [said("detail.no_controls")],
            profile="kit",
            section="4.3.2",
        )
    by_level: dict[str, list[Well]] = {}
    for w in controls:
        low, high = w.spec.low, w.spec.high
        ok = w.conc is not None and low is not None and high is not None and low <= w.conc <= high
        w.passed = ok
        if w.conc is not None and w.spec.nominal:
            w.recovery_pct = 100.0 * w.conc / w.spec.nominal
        if not ok:
            w.flag("CONTROL_FAILED")
        by_level.setdefault(w.spec.level or "control", []).append(w)
    overall = sum(bool(w.passed) for w in controls) / len(controls)
    level_shares = {k: sum(bool(w.passed) for w in v) / len(v) for k, v in by_level.items()}
    passed = overall >= settings.control_min_share - 1e-12 and all(
        s >= settings.control_min_level_share - 1e-12 for s in level_shares.values()
    )
    per_level = ", ".join(f"{k} {s:.0%}" for k, s in level_shares.items())
    return RuleResult.keyed(
        "CONTROLS",
        said("rule.CONTROLS", **setting_fields(settings)),
        ICH_M10_QC,
        passed,
        [said("detail.controls_pass", share=overall, by_level=per_level)],
        [w.name for w in controls if not w.passed],
        profile="kit",
        section="4.3.2",
    )


def cv_pct(values: list[float]) -> float | None:
    """Replicate CV % (sample SD / mean); None for fewer than two values or a zero mean."""
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    if mean == 0:
        return None
    var = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return 100.0 * math.sqrt(var) / abs(mean)


def verdict_text(rules: list[RuleResult]) -> str:
    """One line: accepted, or rejected with each failed rule named."""
    failed = [r for r in rules if r.passed is False]
    if not failed:
        return "accepted by the acceptance rules"
    return "rejected: " + "; ".join(f"{r.id} ({r.detail})" for r in failed)


# Rules judged against the study's history (the study database), not against the export:
# processing the run's inputs again cannot recompute them, so a reprocessing (a mask, a
# verification) carries them over from the run as recorded. Their warnings start so.
STUDY_RULES = ("WESTGARD", "LOT_BRIDGE")  # LOT_BRIDGE: il6assay.study.lots
STUDY_REJECT = "WESTGARD_REJECT"  # how a study rule's rejecting detail begins
STUDY_WARNING_PREFIXES = ("Westgard check ", "WESTGARD_", "LOT_BRIDGE")


def study_judgement(
    rules: list[dict[str, Any]], warnings: list[str]
) -> tuple[list[RuleResult], list[str]]:
    """The study-history rules and warnings among a recorded run's (curve.json, run.json)."""
    kept = [
        RuleResult(
            r["id"],
            r["description"],
            r["source"],
            r["passed"],
            r["detail"],
            list(r["wells"]),
            r.get("profile", ""),
            r.get("section", ""),
        )
        for r in rules
        if r.get("id") in STUDY_RULES
    ]
    return kept, [w for w in warnings if w.startswith(STUDY_WARNING_PREFIXES)]
