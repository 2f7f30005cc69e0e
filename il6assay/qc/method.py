"""A plate held to the adopted method profile (issue 24; docs/validation.md).

Once the study database holds an adopted method profile, ``process`` and
``batch`` put it into ``Settings.method_profile`` (so run.json records it and
``verify`` recomputes under it), and ``process_plate`` calls the three hooks
here:

- ``profile_range``: the plate reports only inside the validated range
  intersected with its own; a plate reaching lower reports ``<LLOQ`` at the
  validated LLOQ (higher: ``>ULOQ`` at the validated ULOQ);
- ``profile_rules``: the rule ``METHOD_QC``: every required QC level (role
  ``qc``) on the plate, and at least 2/3 of the QC wells, and half of each
  level's, within the profile's tolerance of the profile's target (ICH M10
  §4.3.2); a plate missing a required level is rejected;
- ``flag_dilutions``: a sample at a dilution outside the validated range is
  flagged ``DILUTION_NOT_VALIDATED`` and not reportable (no number).

Every function does nothing when the profile is None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from il6assay.messages import text
from il6assay.plate.wells import Well
from il6assay.qc.results import SampleResult
from il6assay.qc.rules import RuleResult, said

RULE_ID = "METHOD_QC"
ABOUT = said("rule.METHOD_QC")
DESCRIPTION = text("en", ABOUT[0])
SOURCE = text("en", "source.METHOD_QC")
FLAG = "DILUTION_NOT_VALIDATED"
MIN_SHARE = 2 / 3
MIN_LEVEL_SHARE = 0.5


def profile_range(
    profile: Mapping[str, Any] | None, lloq: float | None, uloq: float | None
) -> tuple[float | None, float | None]:
    """The plate's range intersected with the validated one (None, None when they miss)."""
    if not profile or lloq is None or uloq is None:
        return lloq, uloq
    low = max(lloq, float(profile["lloq_pg_ml"]))
    high = min(uloq, float(profile["uloq_pg_ml"]))
    return (low, high) if low <= high else (None, None)


def profile_rules(profile: Mapping[str, Any] | None, wells: Sequence[Well]) -> list[RuleResult]:
    """The METHOD_QC rule of the profile (module docstring); [] without a profile."""
    if not profile:
        return []
    targets: Mapping[str, Mapping[str, Any]] = profile.get("qc_levels", {})
    qcs = [w for w in wells if w.spec.role == "qc"]
    present = {w.spec.level for w in qcs}
    missing = [lv for lv, t in targets.items() if t.get("required") and lv not in present]
    tag = profile.get("id", "?")
    if missing:
        parts = [said("detail.profile_missing", levels=", ".join(missing), profile=tag)]
        return [RuleResult.keyed(RULE_ID, ABOUT, SOURCE, False, parts)]
    judged, within, failed_wells = 0, 0, []
    per_level: dict[str, list[bool]] = {}
    for w in qcs:
        target = targets.get(w.spec.level or "")
        if target is None:
            continue
        value = w.conc
        tol = float(target["tolerance_pct"])
        ok = (
            value is not None
            and math.isfinite(value)
            and abs(value / float(target["target_pg_ml"]) - 1) * 100 <= tol
        )
        judged += 1
        within += ok
        per_level.setdefault(w.spec.level or "", []).append(ok)
        if not ok:
            failed_wells.append(w.name)
    if not judged:
        parts = [said("detail.profile_no_qc", profile=tag)]
        return [RuleResult.keyed(RULE_ID, ABOUT, SOURCE, None, parts)]
    bad_levels = [lv for lv, oks in per_level.items() if sum(oks) < MIN_LEVEL_SHARE * len(oks)]
    passed = within >= MIN_SHARE * judged and not bad_levels
    parts = [said("detail.profile_within", within=within, judged=judged, profile=tag)]
    if bad_levels:
        parts.append(said("detail.profile_level_below_half", levels=", ".join(bad_levels)))
    return [RuleResult.keyed(RULE_ID, ABOUT, SOURCE, passed, parts, failed_wells)]


def flag_dilutions(profile: Mapping[str, Any] | None, samples: Sequence[SampleResult]) -> None:
    """Samples at a dilution outside the validated range: flagged, and no reportable number."""
    if not profile or not profile.get("dilution_range"):
        return
    low, high = (float(x) for x in profile["dilution_range"])
    for s in samples:
        if low <= s.dilution <= high:
            continue
        s.flag(FLAG)
        s.conc_on_plate = s.conc_pg_ml = s.ci_low_pg_ml = s.ci_high_pg_ml = None
        s.result = "not reportable"
        s.advice_msg = said("advice.validated_dilution", low=low, high=high)
        s.advice = text("en", s.advice_msg[0], **s.advice_msg[1])
