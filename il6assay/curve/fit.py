"""The standard curve: a 4PL or 5PL logistic fitted to every standard well.

Models (DOMAIN.md)::

    4PL: y = d + (a - d) / (1 + (x / c) ** b)
    5PL: y = d + (a - d) / (1 + (x / c) ** b) ** g

- ``a``: OD at zero concentration (the zero-dose asymptote),
- ``d``: OD at infinite concentration,
- ``c``: inflection point of the 4PL (EC50), in the standards' unit (pg/mL),
- ``b``: slope, kept positive: the curve rises with concentration when
  ``d > a`` (sandwich ELISA) and falls when ``d < a``,
- ``g``: the 5PL's asymmetry (g = 1 is the 4PL).

R's ``SSfpl(log(x), A, B, xmid, scal)`` is the 4PL with A = a, B = d,
xmid = ln c, scal = 1/b (drc's LL.4 uses -b).

A third model, chosen only explicitly (``model="loglog"``, as some kit inserts
prescribe for near-linear curves), is the straight line of log OD on log dose,
ln y = alpha + beta ln x, fitted to the standards above zero.

Fitting is least squares on all replicate wells (never their means) inside a
box of admissible curves: b in [0.05, 50], the inflection c within e^40 of the
standards' range, the asymptotes within 10^5 OD spans of the ODs, g in
[0.05, 20]. The box keeps an asymptote the standards cannot fix finite (a
curve without an upper plateau runs c and d to infinity otherwise). The
search (``FitProblem.search``): the 4PL is linear in (a, d) for fixed (b, c[,
g]), so a grid over (ln c, b) gives each point its best (a, d) by linear
least squares; from the best grid point, the best one with its midpoint
beyond the top standard, the best below the lowest, drc's self-start, a start
with the upper asymptote far above the top OD and one from the straight line
of log OD on log dose, a bounded Levenberg-Marquardt (``box_lm``) runs, and
the lowest sum of squares wins. It is polished by MINPACK's lmder (scipy's
compiled extension, called as ``scipy.optimize.leastsq`` calls it) when it lies
inside the box. Every stage has an evaluation budget, so no fit runs unbounded.
When nothing converges the result has ``success=False`` and the reason, never an
exception.

Weighting (``weighting=``) multiplies each squared residual by 1/w**2 where w
is an SD-like weight computed from the *fitted* curve, as Prism does: the
search weighs each well by the weighting's SD at its own OD, then refits with
w from the fitted curve (w = f(x) for "1/y^2", sqrt(f(x)) for "1/y",
sqrt(k^2 + f(x)^2) for "1/(k^2+y^2)") until the weighted sum of squares
stops changing.

Uncertainty (``inverse_ci``): the delta method on log concentration,
Var(x) = (dx/dy)^2 s^2(y)/m + grad_theta(x)' Cov(theta) grad_theta(x), with
s^2(y) the residual variance at that OD (times the weighting's variance
function), and the interval log x ± t(df, 0.975) SE(x)/x transformed back;
Student's t from ``il6assay.curve.student_t`` (importing scipy.special costs a plate
more CPU than its fitting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import lmfit

# The formulas and weightings (models), the solvers and the search over starts live in
# their own modules; their public names are importable from here as before.
from il6assay.curve.models import (
    FORMULAS,
    LINE_MODELS,
    MODELS,
    NOISE_WEIGHTING,
    PARAM_NAMES,
    WEIGHT_FLOOR_SHARE,
    WEIGHT_POWER,
    WEIGHTINGS,
    evaluate,
    four_pl,
    four_pl_inverse,
    invert,
    invert_each,
    logistic,
    logistic_inverse,
    loglog,
    loglog_inverse,
    model_parts,
    to_params,
)
from il6assay.curve.solvers import Solution, solve
from il6assay.curve.starts import FitProblem, self_start
from il6assay.curve.student_t import student_t_quantile, student_t_sf

__all__ = [
    "FORMULAS",
    "MODELS",
    "NOISE_WEIGHTING",
    "PARAM_NAMES",
    "WEIGHTINGS",
    "CurveFit",
    "Solution",
    "curve_warnings",
    "evaluate",
    "fit_curve",
    "four_pl",
    "four_pl_inverse",
    "invert",
    "logistic",
    "logistic_inverse",
    "loglog",
    "loglog_inverse",
    "open_ends",
    "self_start",
    "solve",
    "student_t_quantile",
    "student_t_sf",
]

# np.einsum's compiled kernel, which np.einsum calls when not asked to optimise: one call a
# well, without the Python wrapper's checks.
try:
    from numpy._core.multiarray import c_einsum as _EINSUM
except ImportError:  # pragma: no cover - another numpy keeps it elsewhere
    _EINSUM = np.einsum

# Curve-shape checks (reported in CurveFit.warnings).
# Incomplete: the top standard reaches less than half the a..d span, i.e. the
# curve's midpoint (the 4PL's EC50) lies beyond the top standard. ELISA kits
# often put the top standard near the EC50, so a stricter share would flag
# ordinary plates.
_INCOMPLETE_SHARE = 0.5
_G_UNDETERMINED = (
    "the 5PL's asymmetry g is not determined by the standards (it ran to its bound): use the 4PL"
)
_HOOK_DROP_SHARE = 0.05  # top level's mean OD falls > 5 % of the span below a lower level's


# ---------------------------------------------------------------- curves


@dataclass
class CurveFit:
    """A fitted standard curve: parameters, their uncertainty and how they were found.

    ``params`` maps a, b, c, d (and g for the 5PL) to floats; ``stderr``
    their standard errors; ``cov`` the covariance in that order. ``rss`` is
    the unweighted residual sum of squares, ``weighted_rss`` the minimised
    one; ``sigma`` the residual standard error on ``df`` degrees of freedom.
    ``warnings`` lists curve-shape findings (FLAT_CURVE, HOOK_SUSPECTED,
    INCOMPLETE_CURVE) with their reasons. ``success`` is False with a
    ``message`` saying why when no curve could be fitted; then ``params``
    are NaN.
    """

    model: str
    weighting: str
    params: dict[str, float]
    stderr: dict[str, float]
    cov: np.ndarray
    rss: float
    weighted_rss: float
    sigma: float
    df: int
    n: int
    success: bool
    message: str
    start: dict[str, float] = field(default_factory=dict)
    reweight_iterations: int = 0
    method: str = ""
    warnings: dict[str, str] = field(default_factory=dict)
    aic: float = math.nan
    _theta: np.ndarray | None = field(default=None, repr=False)
    _cov_theta: np.ndarray | None = field(default=None, repr=False)
    _weight_floor: float = field(default=0.0, repr=False)
    k: float = 0.0  # NOISE_WEIGHTING's additive SD floor, in OD units relative to sigma
    # The ends of the curve the standards show no plateau at ("upper", "lower"): there
    # the asymptote is extrapolated (INCOMPLETE_CURVE).
    open_ends: tuple[str, ...] = ()

    @property
    def _five(self) -> bool:
        return self.model == "5pl"

    @property
    def rising(self) -> bool:
        """True when the OD rises with concentration (sandwich ELISA)."""
        if self.model == "loglog":
            return self.params["beta"] > 0
        return self.params["d"] > self.params["a"]

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names of the model, in order."""
        return MODELS[self.model]

    def predict(self, conc: np.ndarray | float) -> np.ndarray:
        """OD the curve gives at concentration(s) ``conc``."""
        return evaluate(self.model, self.params, conc)

    def inverse(self, od: np.ndarray | float) -> np.ndarray:
        """Concentration(s) for OD(s) ``od``; NaN where the OD is outside the asymptotes."""
        return invert(self.model, self.params, od)

    def inverse_each(self, ods: np.ndarray | list[float]) -> np.ndarray:
        """``float(inverse(od))`` of each OD, to the bit, in one call (a 1-D array)."""
        return invert_each(self.model, self.params, ods)

    def side(self, od: float) -> str | None:
        """Where a non-invertible OD lies: "below" (at or past a), "above" (past d), else None."""
        if not (math.isfinite(od) and self.success):
            return None
        if self.model == "loglog":
            # The line reaches every OD above zero; zero dose and infinite dose give 0.
            return None if od > 0 else ("below" if self.rising else "above")
        a, d = self.params["a"], self.params["d"]
        rising = d > a
        if (od <= a) if rising else (od >= a):
            return "below"
        if (od >= d) if rising else (od <= d):
            return "above"
        return None

    def residual_sd(self, od: np.ndarray | float) -> np.ndarray:
        """The fit's residual SD at OD ``od`` (sigma times the weighting's SD function)."""
        od = np.abs(np.asarray(od, dtype=float))
        power = WEIGHT_POWER[self.weighting]
        return self.sigma * np.sqrt(np.maximum(od, self._weight_floor) ** (2 * power) + self.k**2)

    def inverse_se(
        self,
        od: np.ndarray | float,
        replicates: int | list[int] = 1,
        conc: np.ndarray | list[float] | None = None,
    ) -> np.ndarray:
        """Standard error of the back-calculated concentration (delta method; NaN outside).

        ``conc``: the concentrations of ``od`` when already back-calculated (not again);
        ``replicates``: one number for every OD, or each OD's own.
        """
        x = np.atleast_1d(self.inverse(od) if conc is None else conc).astype(float)
        y = np.asarray(od, dtype=float)
        if y.shape != x.shape:
            y = np.broadcast_to(y, x.shape)
        out = np.full(x.shape, np.nan)
        ok = np.isfinite(x) & (x > 0)
        if not ok.any() or self._theta is None or self._cov_theta is None:
            return out
        _, f_theta, f_x = model_parts(self.model, self._theta, x[ok])
        grad = -f_theta / f_x[:, None]  # dx/dtheta by the implicit function theorem
        # Row by row: einsum's sums over several rows may differ in the last digit from one
        # row's, and every figure must be the one a well's own CI gives.
        cov = self._cov_theta
        var_curve = np.array([_EINSUM("ij,jk,ik->i", g, cov, g)[0] for g in grad[:, None, :]])
        if np.ndim(replicates) == 0:
            var_od = self.residual_sd(y[ok]) ** 2 / max(replicates, 1)
        else:  # each OD's own number of replicates
            var_od = self.residual_sd(y[ok]) ** 2 / np.maximum(np.asarray(replicates)[ok], 1)
        out[ok] = np.sqrt(var_od / f_x**2 + var_curve)
        return out

    def inverse_ci(
        self,
        od: np.ndarray | float,
        replicates: int | list[int] = 1,
        level: float = 0.95,
        conc: np.ndarray | list[float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``level`` confidence interval (low, high) of the concentration for mean OD ``od``.

        Built on log concentration, so it is asymmetric and never negative. ``conc``: the
        concentrations of ``od`` when already back-calculated (not again).
        """
        x = np.atleast_1d(self.inverse(od) if conc is None else conc).astype(float)
        se = self.inverse_se(od, replicates, x)
        q = student_t_quantile(0.5 + level / 2, self.df)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            half = q * se / x
            return x * np.exp(-half), x * np.exp(half)

    def predict_band(
        self, conc: np.ndarray | float, level: float = 0.95
    ) -> tuple[np.ndarray, np.ndarray]:
        """Confidence band (low, high) of the fitted curve at ``conc`` (delta method)."""
        x = np.atleast_1d(np.asarray(conc, dtype=float))
        f, f_theta, _ = model_parts(self.model, self._theta, x)
        var = np.einsum("ij,jk,ik->i", f_theta, self._cov_theta, f_theta)
        q = student_t_quantile(0.5 + level / 2, self.df)
        return f - q * np.sqrt(var), f + q * np.sqrt(var)

    def to_lmfit(self) -> lmfit.Parameters:
        """The parameters as ``lmfit.Parameters`` (values and standard errors), for lmfit users."""
        import lmfit

        params = lmfit.Parameters()
        for name in self.names:
            params.add(name, value=self.params[name])
            params[name].stderr = self.stderr[name]
        return params

    def summary(self) -> dict[str, Any]:
        """Plain, JSON-serialisable description of the fit (for curve.json and databases)."""
        return {
            "model": self.model,
            "formula": FORMULAS[self.model],
            "weighting": self.weighting,
            "weighting_k_od": _num(self.k) if self.weighting == NOISE_WEIGHTING else None,
            "success": self.success,
            "message": self.message,
            "method": self.method,
            "params": {k: _num(v) for k, v in self.params.items()},
            "stderr": {k: _num(v) for k, v in self.stderr.items()},
            "covariance": [[_num(v) for v in row] for row in np.asarray(self.cov).tolist()],
            "rss": _num(self.rss),
            "weighted_rss": _num(self.weighted_rss),
            "sigma": _num(self.sigma),
            "df": self.df,
            "n_points": self.n,
            "aic": _num(self.aic),
            "start": {k: _num(v) for k, v in self.start.items()},
            "reweight_iterations": self.reweight_iterations,
            "warnings": dict(self.warnings),
            "open_ends": list(self.open_ends),
        }


def _levels(conc: np.ndarray) -> np.ndarray:
    """The distinct concentrations, ascending: np.unique's answer for finite numbers, without
    the numpy.ma import plain np.unique makes (8 ms of a fresh process's CPU)."""
    ordered = np.sort(conc)
    if ordered.size == 0:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _num(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _failed(model: str, weighting: str, n: int, message: str, start: np.ndarray | None) -> CurveFit:
    names = MODELS[model]
    nan = {k: math.nan for k in names}
    return CurveFit(
        model=model,
        weighting=weighting,
        params=dict(nan),
        stderr=dict(nan),
        cov=np.full((len(names), len(names)), np.nan),
        rss=math.nan,
        weighted_rss=math.nan,
        sigma=math.nan,
        df=max(n - len(names), 0),
        n=n,
        success=False,
        message=message,
        start=to_params(start, model == "5pl", model) if start is not None else {},
    )


def fit_curve(
    conc: np.ndarray | list[float],
    response: np.ndarray | list[float],
    model: str = "4pl",
    weighting: str = "none",
    *,
    k: float | None = None,
    quick: bool = False,
    four: CurveFit | None = None,
) -> CurveFit:
    """Fit a 4PL, 5PL or log-log line to standard concentrations and ODs (all replicates).

    ``weighting="1/(k^2+y^2)"`` needs ``k``: the OD at which the reader's
    additive and proportional noise are equal (sd / cv of a noise model
    Var = sd^2 + (cv y)^2, e.g. ``il6assay.curve.noise.noise_from_duplicates``).

    ``quick`` bounds the effort further (fewer starts and passes), for fits made
    for comparison rather than for results. ``model="loglog"`` fits the standards
    above zero only (the line has no zero-dose OD).

    ``four`` (5PL only): a 4PL already fitted to these same standards with the same
    weighting and k. The 4PL is the 5PL with g = 1, so a 5PL's first start is a 4PL's
    fit; given, that fit is the start, instead of a quick 4PL fitted here first (the model
    comparison passes the plate's chosen 4PL). A failed ``four`` gives no start, as a
    failed quick 4PL does.

    Never raises for a curve that cannot be fitted: the result has
    ``success=False`` and says why. Example::

        >>> fit = fit_curve([0, 0, 5, 5, 20, 20, 80, 80, 300, 300],
        ...                 [0.05, 0.06, 0.12, 0.13, 0.38, 0.36, 1.2, 1.25, 2.6, 2.5])
        >>> fit.success, round(float(fit.inverse(1.0)), 1)
        (True, 61.7)
    """
    if model not in MODELS:
        raise ValueError(f"unknown model '{model}', expected one of {tuple(MODELS)}")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting '{weighting}', expected one of {WEIGHTINGS}")
    if (weighting == NOISE_WEIGHTING) != (k is not None):
        raise ValueError(f"k is given with, and only with, weighting '{NOISE_WEIGHTING}'")
    if k is not None and not (math.isfinite(k) and k > 0):
        raise ValueError(f"k must be a positive OD, not {k!r}")
    if four is not None and (
        model != "5pl"
        or four.model != "4pl"
        or four.weighting != weighting
        or (four.success and four.k != float(k or 0.0))  # a failed fit keeps no k
    ):
        raise ValueError("four is a 4PL of the same weighting and k, given to a 5PL fit only")
    x = np.asarray(conc, dtype=float)
    y = np.asarray(response, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("conc and response must be 1-D arrays of the same length")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("conc and response must be finite numbers")
    n, p = x.size, len(MODELS[model])
    if np.any(x < 0):
        return _failed(model, weighting, n, "negative standard concentration", None)
    if model in LINE_MODELS:
        x, y = x[x > 0], y[x > 0]  # the zero standard has no place on a log-log line
        n = x.size
    levels = _levels(x[x > 0])
    if n <= p or levels.size < 3:
        return _failed(
            model,
            weighting,
            n,
            f"too few standards to fit a {model.upper()} ({levels.size} levels)",
            None,
        )
    if np.ptp(y) == 0:
        return _failed(model, weighting, n, "all standard ODs are equal: no curve to fit", None)

    problem = FitProblem(x, y, model == "5pl", quick=quick, model=model)
    problem.k = float(k or 0.0)
    power = WEIGHT_POWER[weighting]
    extra: list[np.ndarray] = []
    if model == "5pl":
        # The 4PL is the 5PL with g = 1: its fit (same weighting) is the natural first start.
        if four is None:
            four = fit_curve(x, y, "4pl", weighting, k=k, quick=True)
        if four.success and four._theta is not None:
            extra.append(np.append(four._theta, 0.0))
    if power:
        # The search weighs the standards by the weighting's SD at their own ODs; the
        # reweighting then takes the weights from the fitted curve.
        floor = WEIGHT_FLOOR_SHARE * max(float(np.max(np.abs(y))), problem.span)
        base = np.maximum(np.abs(y), floor) ** power
        problem.w = np.sqrt(base**2 + problem.k**2) if problem.k else base
    sol = problem.search(extra)
    if sol is None:
        start = extra[0] if extra else None
        return _failed(model, weighting, n, "no strategy converged to a plausible curve", start)
    start = sol.theta.copy()
    if model == "5pl" and problem.at_bounds(sol.theta).count(4):
        # The asymmetry ran to its bound in the search: refused at once, no reweighting.
        return _failed(model, weighting, n, _G_UNDETERMINED, start)
    iterations, settled = 0, True
    if power:
        sol, iterations, settled = problem.reweight(sol, power)
    sol = problem.polish(sol)
    fit = _finish(problem, sol, model, weighting, start, iterations)
    if not settled and fit.success:
        fit.message += f"; the weights did not settle within the effort bound ({iterations} passes)"
    return fit


def _finish(
    problem: FitProblem,
    sol: Solution,
    model: str,
    weighting: str,
    start: np.ndarray,
    iterations: int,
) -> CurveFit:
    x, y, five = problem.x, problem.y, problem.five
    theta = np.array(sol.theta, dtype=float)
    if model == "4pl" and theta[1] < 0:
        # Same 4PL with the asymptotes named the other way round: keep b > 0
        # so that a is always the zero-dose OD.
        theta = np.array([theta[3], -theta[1], theta[2], theta[0]])
    n, p = x.size, theta.size
    r, jac = problem.fun_jac(theta)
    wrss = float(r @ r)
    df = n - p
    sigma2 = wrss / df if df > 0 else math.nan
    params = to_params(theta, five, model)
    try:
        cov_theta = np.linalg.inv(jac.T @ jac) * sigma2
    except np.linalg.LinAlgError:
        cov_theta = np.full((p, p), np.nan)
    if model in LINE_MODELS:
        grad = np.eye(p)
    else:
        # d(a, b, c, d[, g]) / d(a, b, ln c, d[, ln g])
        grad = np.diag([1.0, 1.0, params["c"], 1.0, *([params["g"]] if five else [])])
    cov = grad @ cov_theta @ grad.T
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(cov))
    unweighted = y - evaluate(model, params, x)
    rss = float(unweighted @ unweighted)
    message = "converged"
    if not np.all(np.isfinite(se)):
        message = "converged, but the parameters' covariance is singular"
    at = [MODELS[model][i] for i in problem.at_bounds(theta)] if model not in LINE_MODELS else []
    if at:
        message += (
            f"; at the bound of admissible curves: {', '.join(at)} (the standards do not "
            "determine it: held finite)"
        )
    if "g" in at:
        # A 5PL whose asymmetry sits at its bound is not a 5PL the standards support.
        return _failed(
            model,
            weighting,
            n,
            _G_UNDETERMINED,
            start,
        )
    fit = CurveFit(
        model=model,
        weighting=weighting,
        params=params,
        stderr=dict(zip(MODELS[model], (float(v) for v in se), strict=True)),
        cov=cov,
        rss=rss,
        weighted_rss=wrss,
        sigma=math.sqrt(sigma2) if math.isfinite(sigma2) else math.nan,
        df=df,
        n=n,
        success=True,
        message=message,
        start=to_params(start, five, model),
        reweight_iterations=iterations,
        method=sol.method,
        aic=_aic(r, problem.w, p),
        _theta=theta,
        _cov_theta=cov_theta,
        _weight_floor=problem.weight_floor(theta),
        k=problem.k,
    )
    ends = open_ends(fit, x, at)
    fit.warnings = curve_warnings(fit, x, y, at_bounds=at, open_ended=ends)
    fit.open_ends = ends[0]
    if "FLAT_CURVE" in fit.warnings:
        fit.success = False
        fit.message = fit.warnings["FLAT_CURVE"]
    return fit


def _aic(r: np.ndarray, w: np.ndarray, p: int) -> float:
    """Gaussian AIC with the error variance estimated (p + 1 parameters), weights included."""
    n = r.size
    wrss = float(r @ r)
    if n == 0 or wrss <= 0:
        return math.nan
    loglik = -0.5 * n * (math.log(2 * math.pi * wrss / n) + 1) - float(np.sum(np.log(w)))
    return 2 * (p + 1) - 2 * loglik


def open_ends(fit: CurveFit, conc: np.ndarray, at_bounds: list[str] | tuple[str, ...] = ()):
    """The ends of a fitted 4PL/5PL where the standards show no plateau: "lower", "upper".

    Upper: the top standard reaches less than ``_INCOMPLETE_SHARE`` of the
    fitted a..d span, or d sits on the box of admissible curves. Lower: with
    no zero standard, the lowest standard is already past the midpoint, or a
    sits on the box. Returns (ends, share reached at the top, share at the bottom).
    """
    if fit.model in LINE_MODELS or not fit.success:
        return (), math.nan, math.nan
    a, d = fit.params["a"], fit.params["d"]
    levels = _levels(conc[conc > 0])
    if levels.size < 1 or d == a:
        return (), math.nan, math.nan
    top = (float(fit.predict(levels[-1])) - a) / (d - a)
    bottom = (float(fit.predict(levels[0])) - a) / (d - a)
    ends = []
    if (not np.any(conc == 0) and bottom > 1 - _INCOMPLETE_SHARE) or "a" in at_bounds:
        ends.append("lower")
    if top < _INCOMPLETE_SHARE or "d" in at_bounds:
        ends.append("upper")
    return tuple(ends), top, bottom


def _share(value: float) -> str:
    """A share as a percentage to 2 significant figures (0.012 % is not "0 %")."""
    return f"{100 * value:.2g} %"


def curve_warnings(
    fit: CurveFit,
    conc: np.ndarray,
    od: np.ndarray,
    *,
    at_bounds: list[str] | tuple[str, ...] = (),
    open_ended: tuple[tuple[str, ...], float, float] | None = None,
) -> dict[str, str]:
    """Shape findings a reviewer must see: flat, hook-shaped or incomplete standard curves.

    ``open_ended``: ``open_ends(fit, conc, at_bounds)`` when the caller has it already.
    """
    found: dict[str, str] = {}
    # Flat: the fitted rise across the standards' range is not distinguishable from
    # zero. (Not a..d: on an incomplete curve d is extrapolated and its SE large while
    # the rise the standards span is well determined.)
    rise, rise_se = math.inf, math.nan
    if fit._theta is not None and fit._cov_theta is not None:
        ends = np.array([float(np.min(conc)), float(np.max(conc))])
        f_end, jac_end, _ = model_parts(fit.model, fit._theta, ends, slope=False)
        g = jac_end[1] - jac_end[0]
        rise = abs(float(f_end[1] - f_end[0]))
        var = float(g @ fit._cov_theta @ g)
        rise_se = math.sqrt(var) if math.isfinite(var) and var >= 0 else math.nan
    observed = float(np.ptp(od))
    # Residual SD in OD units: a weighted fit's sigma is in weighted (relative) units.
    noise = math.sqrt(fit.rss / fit.df) if fit.df > 0 and math.isfinite(fit.rss) else 0.0
    if observed <= 4 * noise or (
        math.isfinite(rise_se) and rise < 2 * rise_se and observed < 10 * noise
    ):
        found["FLAT_CURVE"] = (
            f"no significant slope: the standards' ODs span {observed:.4g}, residual SD {noise:.4g}"
        )
    # Hook: the standards are not monotone. An interior level's mean OD stands
    # out beyond both end levels (rise then fall: the high-dose hook of a
    # sandwich ELISA). Direction-free, so it holds whatever curve was fitted.
    positive = conc > 0
    levels, index = np.unique(conc[positive], return_inverse=True)
    means = np.bincount(index, weights=od[positive]) / np.bincount(index)
    if levels.size >= 3:
        margin = _HOOK_DROP_SHARE * max(observed, 1e-12)
        inner = means[1:-1]
        peak, trough = int(np.argmax(inner)) + 1, int(np.argmin(inner)) + 1
        ends = (means[0], means[-1])
        if means[peak] - max(ends) > margin or min(ends) - means[trough] > margin:
            at = peak if means[peak] - max(ends) > margin else trough
            found["HOOK_SUSPECTED"] = (
                f"the standards are not monotone: the mean OD at {levels[at]:g} "
                f"({means[at]:.4g}) lies beyond both the lowest ({means[0]:.4g}) and the "
                f"highest level's ({means[-1]:.4g})"
            )
    # Incomplete: an end of the curve without a plateau in the standards.
    if open_ended is None:
        open_ended = open_ends(fit, conc, at_bounds)
    ends, top, bottom = open_ended
    held = " (the standards cannot fix it: held finite at the bound of admissible curves)"
    said = []
    if "upper" in ends:
        said.append(
            f"no upper plateau: the top standard reaches {_share(top)} of the fitted a..d span, "
            f"the top asymptote d = {fit.params['d']:.4g} is extrapolated"
            + (held if "d" in at_bounds or "c" in at_bounds else "")
        )
    if "lower" in ends:
        said.append(
            f"no lower plateau: the lowest standard is at {_share(bottom)} of the fitted a..d span "
            f"and there is no zero standard, the zero-dose asymptote a = {fit.params['a']:.4g} "
            "is extrapolated" + (held if "a" in at_bounds else "")
        )
    if said:
        found["INCOMPLETE_CURVE"] = (
            "; ".join(said) + ": results only inside the standards' range, with wider CIs"
        )
    return found
