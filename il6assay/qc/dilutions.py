"""One specimen run at several dilutions on a plate is one result.

A specimen is a study ID and visit (from the sample sheet; without one, a
sample label). Its rows at each dilution stay in ``dilutions.csv``; the
specimen's result in ``results.csv`` comes from the dilution(s) in range:

- one in range: that dilution's result;
- several in range and agreeing (each within ±20 % of their mean): their mean;
- several in range and disagreeing: DILUTION_DISAGREE, and the result of the
  highest in-range dilution (the one least affected by the matrix);
- none in range: the tightest censored bound (">ULOQ x" the highest
  dilution, or "<LLOQ x" the lowest); DILUTION_DISAGREE when one dilution
  says below and another above.

A dilution-corrected result that rises with dilution points to a hook effect
or matrix interference (ICH M10 section 4.2.6): HOOK_SUSPECTED, with DILUTION_DISAGREE.

Under the m10 rules (the default; ``rules="kit"`` keeps the rule above) in-range
dilutions agree when the CV of their dilution-corrected results is at most 20 %
(ICH M10 section 4.2.6); the combined result's ``conc_cv_pct`` is that CV, its
interval the mean of the dilutions' interval bounds (they share one curve, so
their curve errors move together: the mean of the bounds, not a narrower
pooled interval), and a disagreement's CV is in ``advice``. A censored bound
contradicted by another dilution is DILUTION_DISAGREE both ways: "<LLOQ" at a
lower dilution while a higher one reports more, or ">ULOQ" at a lower dilution
while a higher one reports less (">300" neat, 76.8 at 1:10: a mix-up).

``combine`` applies this on one plate; ``combine_rows`` is the rule for one
specimen's rows wherever they come from: the study database uses it on rows
rebuilt from its ``dilution_results`` table (``SampleResult.from_row``) to
combine a specimen's dilutions run on different plates (docs/database.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from il6assay.qc.results import SampleResult, format_sig
from il6assay.qc.rules import cv_pct

AGREEMENT_PCT = 20.0
SOURCE = (
    "ICH M10 (2022) section 4.2.6, dilution linearity and hook effect: in-range dilutions "
    "agree within ±20 %; results rising with dilution point to a hook or matrix effect"
)


@dataclass
class Specimen:
    """One study ID and visit on the plate, with its rows at every dilution."""

    key: tuple[str, str]
    rows: list[SampleResult]
    combined: SampleResult


def specimen_key(s: SampleResult) -> tuple[str, str]:
    """The study ID and visit; a sample label stands for itself when it has no study ID."""
    return (s.study_id, s.visit) if s.study_id else (f"sample:{s.sample}", "")


def combine(samples: list[SampleResult], rules: str = "m10") -> list[Specimen]:
    """Group rows by specimen and give each specimen one result (module docstring)."""
    groups: dict[tuple[str, str], list[SampleResult]] = {}
    for s in samples:
        groups.setdefault(specimen_key(s), []).append(s)
    out = []
    for key, rows in groups.items():
        rows = sorted(rows, key=lambda r: r.dilution)
        out.append(Specimen(key=key, rows=rows, combined=combine_rows(rows, rules)))
    return out


def combine_rows(rows: list[SampleResult], rules: str = "m10") -> SampleResult:
    """One specimen's rows (one per dilution, any plates) as one result; a lone row is itself."""
    if not rows:
        raise ValueError("no rows to combine")
    rows = sorted(rows, key=lambda r: r.dilution)
    return rows[0] if len(rows) == 1 else _combine(rows, rules == "m10")


def _combine(rows: list[SampleResult], m10: bool) -> SampleResult:
    first = rows[0]
    in_range = [r for r in rows if r.conc_pg_ml is not None]
    flags: list[str] = []
    disagree = hook = False
    spread: float | None = None
    if len(in_range) >= 2:
        values = [r.conc_pg_ml for r in in_range]
        mean = math.fsum(values) / len(values)  # type: ignore[arg-type]
        if m10:
            spread = cv_pct(values)  # type: ignore[arg-type]
            disagree = spread is not None and spread > AGREEMENT_PCT + 1e-9
        else:
            disagree = any(abs(v / mean - 1) * 100 > AGREEMENT_PCT for v in values)  # type: ignore[operator]
        hook = disagree and values[-1] > values[0]  # type: ignore[operator]
    # A lower dilution censored below, while a higher one reports more than that bound.
    for low in rows:
        for high in rows:
            if (
                high.dilution > low.dilution
                and "BELOW_LLOQ" in low.flags
                and high.conc_pg_ml is not None
                and low.result.startswith("<")
                and high.conc_pg_ml > float(low.result[1:]) * (1 + AGREEMENT_PCT / 100)
            ):
                disagree = hook = True
            if (
                m10
                and high.dilution > low.dilution
                and "ABOVE_ULOQ" in low.flags
                and high.conc_pg_ml is not None
                and low.result.startswith(">")
                and high.conc_pg_ml < float(low.result[1:]) / (1 + AGREEMENT_PCT / 100)
            ):
                disagree = True
    combined = SampleResult(
        sample="+".join(r.sample for r in rows),
        dilution=first.dilution,
        wells=[w for r in rows for w in r.wells],
        study_id=first.study_id,
        visit=first.visit,
        note="; ".join(r.note for r in rows if r.note),
    )
    if in_range:
        used = [in_range[-1]] if disagree else in_range
        if len(used) == 1:
            _copy_result(used[0], combined)
        else:
            combined.conc_pg_ml = math.fsum(r.conc_pg_ml for r in used) / len(used)  # type: ignore[misc]
            combined.result = format_sig(combined.conc_pg_ml)
            combined.dilution_label = ";".join(f"{r.dilution:g}" for r in used)
            if m10:
                combined.conc_cv_pct = spread
                lows = [r.ci_low_pg_ml for r in used]
                highs = [r.ci_high_pg_ml for r in used]
                if all(v is not None for v in lows + highs):
                    combined.ci_low_pg_ml = math.fsum(lows) / len(used)  # type: ignore[arg-type]
                    combined.ci_high_pg_ml = math.fsum(highs) / len(used)  # type: ignore[arg-type]
    else:
        above = [r for r in rows if r.result.startswith(">")]
        below = [r for r in rows if r.result.startswith("<")]
        disagree = disagree or bool(above and below)
        chosen = above[-1] if above else (below[0] if below else rows[-1])
        _copy_result(chosen, combined)
        used = [chosen]
    for r in used:
        flags += r.flags
    for code in (["DILUTION_DISAGREE"] if disagree else []) + (["HOOK_SUSPECTED"] if hook else []):
        flags.append(code)
    if m10 and disagree and spread is not None:
        combined.advice = "; ".join(
            x for x in (combined.advice, f"dilutions disagree: CV {spread:.1f} % (≤ 20 %)") if x
        )
    for r in rows:  # plate-level flags hold for the combination too
        flags += [f for f in r.flags if f in ("PLATE_REJECTED", "FIT_FAILED")]
    for code in flags:
        combined.flag(code)
    combined.combined_from = [f"{r.sample}@{r.dilution:g}" for r in rows]
    return combined


def _copy_result(src: SampleResult, dst: SampleResult) -> None:
    dst.dilution = src.dilution
    dst.od_mean, dst.od_cv_pct, dst.conc_cv_pct = src.od_mean, src.od_cv_pct, src.conc_cv_pct
    dst.conc_on_plate, dst.conc_pg_ml, dst.result = src.conc_on_plate, src.conc_pg_ml, src.result
    dst.ci_low_pg_ml, dst.ci_high_pg_ml, dst.advice = (
        src.ci_low_pg_ml,
        src.ci_high_pg_ml,
        src.advice,
    )
