"""Outlier hints for standard wells, after the ROUT idea (Motulsky & Brown 2006).

A robust refit of the curve (Cauchy loss, from the least-squares curve), a
robust residual scale (the 68.27th percentile of the absolute residuals,
scaled by n / (n - p)), and a false-discovery test on the residuals
(Benjamini-Hochberg at Q = 1 %, Prism's default). Wells found are marked
SUSPECT_OUTLIER for the reviewer to decide: never removed automatically.
Sample replicates (duplicates) cannot be judged this way: a pair has no
majority.
"""

from __future__ import annotations

import math

import numpy as np

from il6assay.curve.fit import CurveFit, student_t_sf
from il6assay.curve.models import WEIGHT_POWER
from il6assay.curve.solvers import solve
from il6assay.curve.starts import FitProblem

Q = 0.01
SOURCE = "ROUT (Motulsky & Brown 2006): robust fit, then FDR (Q = 1 %) on residuals"


def percentile(values: np.ndarray, q: float) -> float:
    """np.percentile(values, q) of finite numbers, linear method, to the bit (numpy's virtual
    index and two-sided interpolation), without the numpy.ma import np.percentile makes."""
    ordered = np.sort(np.asarray(values, dtype=float).ravel())
    n = ordered.size
    if n == 0 or math.isnan(ordered[-1]):
        return math.nan
    virtual = (n - 1) * (q / 100)
    below = min(max(math.floor(virtual), 0), n - 1)
    low, high = ordered[below], ordered[min(below + 1, n - 1)]
    gamma = virtual - below
    step = high - low
    return float(high - step * (1 - gamma) if gamma >= 0.5 else low + step * gamma)


def suspect_outliers(conc: list[float], od: list[float], curve: CurveFit) -> list[int]:
    """Indices of the standard points the robust fit marks as likely outliers."""
    if not curve.success or curve._theta is None:
        return []
    x, y = np.asarray(conc, float), np.asarray(od, float)
    n, p = x.size, curve._theta.size
    if n - p < 3:
        return []
    if curve.model == "loglog":
        keep = x > 0  # the line is fitted to the standards above zero only
        if not keep.all():
            return [int(i) for i in np.flatnonzero(keep)[suspect_outliers(x[keep], y[keep], curve)]]
    problem = FitProblem(x, y, curve.model == "5pl", model=curve.model)
    problem.k = curve.k
    problem.w = problem.weights_from(curve._theta, WEIGHT_POWER[curve.weighting])
    # The robust loss needs the residuals' scale: take it from the least-squares
    # residuals, one pass (iterating lets the scale shrink and the fit overfit).
    residuals = problem.fun_jac(curve._theta)[0]
    scale = percentile(np.abs(residuals), 68.27) * n / (n - p)
    if not np.isfinite(scale) or scale <= 0:
        return []
    robust = solve(
        problem.fun_jac, curve._theta, bounds=problem.bounds(), loss="cauchy", f_scale=scale
    )
    theta = robust.theta if robust is not None else curve._theta
    residuals = problem.fun_jac(theta)[0]
    scale = percentile(np.abs(residuals), 68.27) * n / (n - p)
    if not np.isfinite(scale) or scale <= 0:
        return []
    t = np.abs(residuals) / scale
    pvalues = 2 * student_t_sf(t, n - p)
    order = np.argsort(pvalues)
    # Benjamini-Hochberg: the largest k with p_(k) <= Q k / n; all below it are discoveries.
    passed = pvalues[order] <= Q * np.arange(1, n + 1) / n
    if not passed.any():
        return []
    k = int(np.nonzero(passed)[0].max()) + 1
    return sorted(int(i) for i in order[:k])
