"""Precision across runs: one-way random-effects ANOVA with runs as groups.

The formulas of CLSI EP05-A3 / EP15-A3 (and ICH M10 section 4.2.4/7.x, which
ask for within-run and between-run precision), written for unbalanced data:

- ``grand mean`` = the mean of all N values (not the mean of run means);
- ``SS_within = sum_i sum_j (x_ij - mean_i)^2`` on ``N - k`` degrees of freedom;
- ``SS_between = sum_i n_i (mean_i - grand)^2`` on ``k - 1``;
- ``n0 = (N - sum_i n_i^2 / N) / (k - 1)`` (the effective replicates per run;
  equal to n for balanced data);
- ``var_within = MS_within``; ``var_between = max(0, (MS_between - MS_within) / n0)``
  (a negative estimate is set to zero, as EP05 does);
- ``var_total = var_within + var_between`` (intermediate precision);
- CVs are each SD over the grand mean, in %; bias % is ``(grand - nominal) / nominal``;
  total error % is ``|bias %| + CV_total %`` (M10 section 7.x).

Plain Python (no numpy): cheap to import, and easy to check by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Precision:
    """Variance components of one level's values over runs (see the module docstring)."""

    n_runs: int
    n: int
    mean: float
    sd_within: float | None
    sd_between: float | None
    sd_total: float | None
    cv_within_pct: float | None
    cv_between_pct: float | None
    cv_total_pct: float | None
    nominal: float | None = None
    bias_pct: float | None = None
    total_error_pct: float | None = None
    reason: str = ""

    def summary(self) -> dict:
        """A plain dict (JSON-ready) of every figure."""
        return asdict(self)


def _cv(sd: float | None, mean: float) -> float | None:
    if sd is None or mean == 0 or not math.isfinite(mean):
        return None
    return 100.0 * sd / abs(mean)


def variance_components(
    runs: Mapping[str, Sequence[float]] | Sequence[Sequence[float]],
    nominal: float | None = None,
) -> Precision:
    """One-way random-effects ANOVA of values grouped by run (CLSI EP05-A3).

    ``runs`` maps a run's id to that run's values (or is a list of lists). Runs
    without a value are ignored. With one run, only the within-run figures are
    given; with no run holding two values, only the mean; the reason says so.

    Example::

        >>> p = variance_components([[10.0, 12.0], [11.0, 13.0]], nominal=11.0)
        >>> round(p.mean, 6), round(p.bias_pct, 6)
        (11.5, 4.545455)
    """
    groups = [
        [float(v) for v in values]
        for values in (runs.values() if isinstance(runs, Mapping) else runs)
        if len(values) > 0
    ]
    k = len(groups)
    n_total = sum(len(g) for g in groups)
    if n_total == 0:
        raise ValueError("no values to compute precision from")
    grand = sum(sum(g) for g in groups) / n_total
    bias = None
    if nominal is not None and nominal != 0:
        bias = 100.0 * (grand - nominal) / nominal

    df_within = n_total - k
    reason = ""
    sd_within = sd_between = sd_total = None
    if df_within > 0:
        ss_within = sum(sum((v - sum(g) / len(g)) ** 2 for v in g) for g in groups)
        ms_within = ss_within / df_within
        sd_within = math.sqrt(ms_within)
        if k >= 2:
            ss_between = sum(len(g) * (sum(g) / len(g) - grand) ** 2 for g in groups)
            ms_between = ss_between / (k - 1)
            n0 = (n_total - sum(len(g) ** 2 for g in groups) / n_total) / (k - 1)
            var_between = max(0.0, (ms_between - ms_within) / n0)
            sd_between = math.sqrt(var_between)
            sd_total = math.sqrt(ms_within + var_between)
        else:
            reason = "one run only: no between-run or total precision"
    elif k >= 2:
        # one value per run: the spread of the runs is the total precision,
        # but it cannot be split into within and between.
        var = sum((g[0] - grand) ** 2 for g in groups) / (k - 1)
        sd_total = math.sqrt(var)
        reason = "one value per run: within- and between-run precision cannot be separated"
    else:
        reason = "a single value: no precision"

    cv_total = _cv(sd_total, grand)
    total_error = None
    if bias is not None and cv_total is not None:
        total_error = abs(bias) + cv_total
    return Precision(
        n_runs=k,
        n=n_total,
        mean=grand,
        sd_within=sd_within,
        sd_between=sd_between,
        sd_total=sd_total,
        cv_within_pct=_cv(sd_within, grand),
        cv_between_pct=_cv(sd_between, grand),
        cv_total_pct=cv_total,
        nominal=nominal,
        bias_pct=bias,
        total_error_pct=total_error,
        reason=reason,
    )
