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
search (``_Problem.search``): the 4PL is linear in (a, d) for fixed (b, c[,
g]), so a grid over (ln c, b) gives each point its best (a, d) by linear
least squares; from the best grid point, the best one with its midpoint
beyond the top standard, the best below the lowest, drc's self-start, a start
with the upper asymptote far above the top OD and one from the straight line
of log OD on log dose, a bounded Levenberg-Marquardt (``_box_lm``) runs, and
the lowest sum of squares wins. It is polished by MINPACK's lmder
(``scipy.optimize.leastsq``) when it lies inside the box. Every stage has an
evaluation budget, so no fit runs unbounded. When nothing converges the
result has ``success=False`` and the reason, never an exception.

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
Student's t from ``scipy.special`` (importing ``scipy.stats`` costs 0.5 s).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import lmfit

MODELS: dict[str, tuple[str, ...]] = {
    "4pl": ("a", "b", "c", "d"),
    "5pl": ("a", "b", "c", "d", "g"),
    "loglog": ("alpha", "beta"),
}
FORMULAS = {
    "4pl": "y = d + (a - d) / (1 + (x / c) ** b)",
    "5pl": "y = d + (a - d) / (1 + (x / c) ** b) ** g",
    "loglog": "ln y = alpha + beta * ln x",
}
PARAM_NAMES = MODELS["4pl"]
NOISE_WEIGHTING = "1/(k^2+y^2)"
WEIGHTINGS = ("none", "1/y", "1/y^2", NOISE_WEIGHTING)
# SD function of each weighting: sd(y) = sigma * sqrt(y^(2 power) + k^2); k > 0 only for
# NOISE_WEIGHTING, whose k = sd/cv is the OD where additive and proportional noise are equal.
_WEIGHT_POWER = {"none": 0.0, "1/y": 0.5, "1/y^2": 1.0, NOISE_WEIGHTING: 1.0}
_REWEIGHT_MAX = 50
_REWEIGHT_RTOL = 1e-10
# Fitted ODs below this share of the curve's span are floored when they set
# weights, so that a near-zero (or negative, blank-subtracted) OD does not
# get an unbounded weight.
_WEIGHT_FLOOR_SHARE = 0.01
# The box of admissible curves: an inflection at most this many natural-log units
# outside the standards' range, a slope in [_B_MIN, _B_MAX], asymptotes within
# _ASYMPTOTE_SPANS OD spans of the ODs, the 5PL's g within _G_RANGE.
_LNC_MARGIN = 40.0
_B_MIN, _B_MAX = 0.05, 50.0
_ASYMPTOTE_SPANS = 1e5
_G_RANGE = (0.05, 20.0)
# The (ln c, b) grid of the search: ln c in steps of at most _GRID_LNC_STEP near the
# standards, at _GRID_FAR beyond them.
_GRID_LNC_STEP = 0.75
_GRID_FAR = (7.5, 9.5, 12.0, 15.0, 19.0, 24.0, 31.0, 40.0)  # ln c beyond the standards
_GRID_B = (0.25, 0.45, 0.7, 1.0, 1.4, 2.0, 3.0, 5.0, 9.0)
# Effort: model evaluations one fit may spend (search, reweighting, polish).
_BUDGET = {"search": 240, "reweight": 160, "polish": 40}
_SCOUT_EVALUATIONS = 6  # each start's first steps, before the two best are refined
# Curve-shape checks (reported in CurveFit.warnings).
# Incomplete: the top standard reaches less than half the a..d span, i.e. the
# curve's midpoint (the 4PL's EC50) lies beyond the top standard. ELISA kits
# often put the top standard near the EC50, so a stricter share would flag
# ordinary plates.
_INCOMPLETE_SHARE = 0.5
_G_UNDETERMINED = (
    "the 5PL's asymmetry g is not determined by the standards (it ran to its bound): use the 4PL"
)
# A model the rest of il6assay may ask for, but the grid search does not apply to.
LINE_MODELS = ("loglog",)
_HOOK_DROP_SHARE = 0.05  # top level's mean OD falls > 5 % of the span below a lower level's


def logistic(
    x: np.ndarray | float, a: float, b: float, c: float, d: float, g: float = 1.0
) -> np.ndarray:
    """The 4PL (g = 1) or 5PL curve at concentrations ``x`` (x = 0 gives y = a)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        t = b * (np.log(x) - math.log(c))
    return d + (a - d) * np.exp(-g * np.logaddexp(0.0, t))


def logistic_inverse(
    y: np.ndarray | float, a: float, b: float, c: float, d: float, g: float = 1.0
) -> np.ndarray:
    """Concentration giving OD ``y``; NaN unless y lies strictly between a and d."""
    y = np.asarray(y, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inside = (y - a) * (d - y) > 0
        share = np.where(inside, (y - d) / (a - d), np.nan)  # = (1 + u) ** -g
        u = share ** (-1.0 / g) - 1.0
        x = c * u ** (1.0 / b)
    return np.where(inside & (u > 0), x, np.nan)


def four_pl(x: np.ndarray | float, a: float, b: float, c: float, d: float) -> np.ndarray:
    """The 4PL curve at concentrations ``x``."""
    return logistic(x, a, b, c, d)


def four_pl_inverse(y: np.ndarray | float, a: float, b: float, c: float, d: float) -> np.ndarray:
    """The 4PL's concentration for OD ``y`` (NaN outside the asymptotes)."""
    return logistic_inverse(y, a, b, c, d)


def loglog(x: np.ndarray | float, alpha: float, beta: float) -> np.ndarray:
    """The log-log line at concentrations ``x``: y = exp(alpha) * x ** beta."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return np.exp(alpha + beta * np.log(x))


def loglog_inverse(y: np.ndarray | float, alpha: float, beta: float) -> np.ndarray:
    """The log-log line's concentration for OD ``y``; NaN unless y > 0."""
    y = np.asarray(y, dtype=float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return np.exp((np.log(np.where(y > 0, y, np.nan)) - alpha) / beta)


def evaluate(model: str, params: dict[str, float], x: np.ndarray | float) -> np.ndarray:
    """OD of ``model`` with ``params`` at concentrations ``x``."""
    return loglog(x, **params) if model == "loglog" else logistic(x, **params)


def invert(model: str, params: dict[str, float], y: np.ndarray | float) -> np.ndarray:
    """Concentration of ``model`` with ``params`` for ODs ``y`` (NaN where not invertible)."""
    return loglog_inverse(y, **params) if model == "loglog" else logistic_inverse(y, **params)


def _log_x(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x > 0, ln x with -inf at x = 0): computed once per data set, used by every evaluation."""
    pos = x > 0
    logx = np.full(x.shape, -np.inf)
    np.log(x, out=logx, where=pos)
    return pos, logx


def _parts(
    theta: np.ndarray,
    x: np.ndarray,
    five: bool,
    logs: tuple[np.ndarray, np.ndarray] | None = None,
):
    """f, df/dtheta (n x p) and df/dx at x, for internal theta = (a, b, ln c, d[, ln g]).

    ``logs`` is ``_log_x(x)``, passed by callers that evaluate the same x many times.
    """
    pos, logx = logs if logs is not None else _log_x(x)
    a, b, lnc, d = (float(v) for v in theta[:4])
    # Clamped: a solver's trial step may try absurd asymmetries on the way.
    g = math.exp(min(max(float(theta[4]), -30.0), 30.0)) if five else 1.0
    t = b * (logx - lnc)
    sp = np.logaddexp(0.0, t)  # ln(1 + u), u = (x/c)^b
    s = np.exp(-g * sp)  # (1 + u)^-g
    e = 0.5 * (1.0 + np.tanh(0.5 * t))  # u / (1 + u), exact at t = ±inf
    f = d + (a - d) * s
    ds = (a - d) * -g * s * e  # (a - d) * ds/dt
    jac = np.empty((x.size, 5 if five else 4))
    jac[:, 0] = s
    jac[:, 1] = ds * np.where(pos, logx - lnc, 0.0)
    jac[:, 2] = ds * -b
    jac[:, 3] = 1.0 - s
    if five:
        jac[:, 4] = (a - d) * -g * np.where(s > 0, s * sp, 0.0)
    f_x = np.full(x.shape, np.nan)
    np.divide(ds * b, x, out=f_x, where=pos)
    return f, jac, f_x


def _loglog_parts(
    theta: np.ndarray, x: np.ndarray, logs: tuple[np.ndarray, np.ndarray] | None = None
):
    """f, df/dtheta and df/dx of the log-log line at x, for theta = (alpha, beta)."""
    pos, logx = logs if logs is not None else _log_x(x)
    alpha, beta = float(theta[0]), float(theta[1])
    lx = np.where(pos, logx, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.where(pos, np.exp(np.minimum(alpha + beta * lx, 700.0)), 0.0 if beta > 0 else np.inf)
    jac = np.empty((x.size, 2))
    jac[:, 0] = f
    jac[:, 1] = f * lx
    f_x = np.full(x.shape, np.nan)
    np.divide(beta * f, x, out=f_x, where=pos)
    return f, jac, f_x


def _model_parts(model: str, theta: np.ndarray, x: np.ndarray, logs=None):
    """f, df/dtheta, df/dx of ``model`` (internal parameters) at x."""
    if model == "loglog":
        return _loglog_parts(theta, x, logs)
    return _parts(theta, x, model == "5pl", logs)


def _to_params(theta: np.ndarray, five: bool, model: str | None = None) -> dict[str, float]:
    if model == "loglog":
        return {"alpha": float(theta[0]), "beta": float(theta[1])}
    a, b, lnc, d = (float(v) for v in theta[:4])
    params = {"a": a, "b": b, "c": float(np.exp(lnc)), "d": d}
    if five:
        params["g"] = float(np.exp(theta[4]))
    return params


# ---------------------------------------------------------------- the engine


@dataclass
class Solution:
    """One least-squares solution: internal parameters, half the SS, how it was found."""

    theta: np.ndarray
    cost: float
    method: str
    converged: bool = True


def _dense_lm(
    fun_jac: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    theta0: np.ndarray,
    max_iter: int = 300,
    rtol: float = 1e-15,
) -> Solution | None:
    """Levenberg-Marquardt (Marquardt's diagonal scaling) for a handful of parameters.

    A curve has 4 or 5 parameters and a plate 16-24 standard wells: solving
    the small normal equations in numpy avoids scipy's per-call overhead,
    which dominates here. Converges to the same optimum as MINPACK (the DNase
    and NIST tests hold it to that); returns None when it cannot, and the
    caller falls back to MINPACK.
    """
    theta = np.array(theta0, dtype=float)
    with np.errstate(all="ignore"):
        r, jac = fun_jac(theta)
        cost = float(r @ r)
        if not (np.isfinite(cost) and np.all(np.isfinite(jac))):
            return None
        # Near an optimum (a warm start) Gauss-Newton steps converge at once;
        # the damping grows only when a step fails.
        lam = 1e-3 if rtol <= 1e-12 else 1e-7
        for _ in range(max_iter):
            jtj = jac.T @ jac
            grad = jac.T @ r
            scale = np.maximum(np.diag(jtj), 1e-300)
            if np.max(np.abs(grad) / np.sqrt(scale)) <= 1e-14 * max(math.sqrt(cost), 1e-300):
                return Solution(theta=theta, cost=0.5 * cost, method="Levenberg-Marquardt")
            while True:
                try:
                    step = np.linalg.solve(jtj + lam * np.diag(scale), -grad)
                except np.linalg.LinAlgError:
                    return None
                trial = theta + step
                r_new, jac_new = fun_jac(trial)
                cost_new = float(r_new @ r_new)
                if np.isfinite(cost_new) and cost_new <= cost and np.all(np.isfinite(jac_new)):
                    break
                lam *= 10.0
                if lam > 1e16:
                    return None
            done = cost - cost_new <= rtol * cost and (
                rtol > 1e-12 or np.all(np.abs(step) <= 1e-12 * (np.abs(theta) + 1e-12))
            )
            theta, r, jac, cost = trial, r_new, jac_new, cost_new
            lam = max(lam / 10.0, 1e-12)
            if done:
                return Solution(theta=theta, cost=0.5 * cost, method="Levenberg-Marquardt")
    return None


def solve(
    fun_jac: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    theta0: np.ndarray,
    *,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
    loss: str = "linear",
    f_scale: float = 1.0,
    rtol: float = 1e-15,
    max_nfev: int | None = None,
) -> Solution | None:
    """Minimise ||r(theta)||^2 from ``theta0``; None when the solver fails.

    Unbounded: MINPACK Levenberg-Marquardt. Bounded or robust: trust-region
    reflective. The one engine every curve (and the NIST problems) goes through.
    """
    # The dense LM pays off for the loose, warm-started reweighting passes;
    # MINPACK is as fast from a cold start and is the reference for tight ones.
    if bounds is None and loss == "linear" and len(theta0) <= 8 and rtol > 1e-12:
        fast = _dense_lm(fun_jac, theta0, rtol=rtol)
        if fast is not None:
            return fast
    from scipy.optimize import least_squares, leastsq

    cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def parts(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = theta.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = fun_jac(theta)
        return cache[key]

    method = "lm" if bounds is None and loss == "linear" else "trf"
    kwargs: dict[str, Any] = {
        "method": method,
        "max_nfev": max_nfev or (2000 if method == "lm" else 500),
    }
    if method == "lm":
        kwargs.update(xtol=1e-15, ftol=1e-15, gtol=1e-15)
    else:
        kwargs.update(xtol=1e-12, ftol=1e-12, gtol=1e-12, loss=loss, f_scale=f_scale)
        if bounds is not None:
            kwargs["bounds"] = bounds
            theta0 = np.clip(theta0, bounds[0] + 1e-9, bounds[1] - 1e-9)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # leastsq's "maxfev reached": ier 5
            if method == "lm":
                # MINPACK's lmder, as least_squares(method="lm") calls it (same tolerances,
                # scaling from the Jacobian, factor 100), without its per-call set-up.
                x, ier = leastsq(
                    lambda th: parts(th)[0],
                    theta0,
                    Dfun=lambda th: parts(th)[1],
                    ftol=1e-15,
                    xtol=1e-15,
                    gtol=1e-15,
                    maxfev=kwargs["max_nfev"],
                    factor=100.0,
                )
                ok = ier in (1, 2, 3, 4)
            else:
                res = least_squares(
                    lambda th: parts(th)[0], theta0, jac=lambda th: parts(th)[1], **kwargs
                )
                x, ok = res.x, res.status > 0
    except (ValueError, FloatingPointError, OverflowError, np.linalg.LinAlgError, TypeError):
        return None
    if not ok or not np.all(np.isfinite(x)):
        return None
    r = parts(x)[0]
    cost = 0.5 * float(r @ r)
    if not math.isfinite(cost):
        return None
    label = "Levenberg-Marquardt" if method == "lm" else "bounded trust-region"
    if loss != "linear":
        label += f", robust {loss} loss"
    return Solution(theta=np.asarray(x, dtype=float), cost=cost, method=label)


def _box_lm(
    fun_jac: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    theta0: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    *,
    rtol: float = 1e-10,
    max_evaluations: int = 200,
) -> Solution | None:
    """Levenberg-Marquardt inside the box [low, high] (projected steps), for a few parameters.

    A parameter at a bound whose gradient points out of the box is held there
    (the step is solved over the others); every trial point is clipped into
    the box. Stops when a step lowers the sum of squares by less than ``rtol``
    of it, when no step lowers it, or after ``max_evaluations`` evaluations
    (``converged=False``). None only when the start cannot be evaluated.
    """
    method = "bounded Levenberg-Marquardt"
    theta = np.clip(np.array(theta0, dtype=float), low, high)
    evaluations = 1
    with np.errstate(all="ignore"):
        r, jac = fun_jac(theta)
        cost = float(r @ r)
        if not (math.isfinite(cost) and math.isfinite(float(jac.sum()))):
            return None
        lam = 1e-3
        while evaluations < max_evaluations:
            grad = jac.T @ r
            jtj = jac.T @ jac
            held = ((theta <= low) & (grad > 0)) | ((theta >= high) & (grad < 0))
            if held.any():
                free = ~held
                sub, g_free = jtj[np.ix_(free, free)], grad[free]
            else:
                free, sub, g_free = None, jtj, grad
            scale = np.maximum(sub.diagonal(), 1e-300)
            if cost == 0.0 or float(np.max(np.abs(g_free) / np.sqrt(scale), initial=0.0)) <= (
                1e-13 * math.sqrt(cost)
            ):
                return Solution(theta, 0.5 * cost, method)
            while True:
                try:
                    move = np.linalg.solve(sub + np.diag(lam * scale), -g_free)
                except np.linalg.LinAlgError:
                    return Solution(theta, 0.5 * cost, method)
                if free is None:
                    trial = theta + move
                else:
                    trial = theta.copy()
                    trial[free] += move
                np.clip(trial, low, high, out=trial)
                r_new, jac_new = fun_jac(trial)
                evaluations += 1
                cost_new = float(r_new @ r_new)
                if cost_new <= cost and math.isfinite(float(jac_new.sum())):
                    break
                lam *= 10.0
                if lam > 1e12 or evaluations >= max_evaluations:
                    # No step lowers the sum of squares: as far as it goes.
                    return Solution(theta, 0.5 * cost, method, lam > 1e12)
            moved = np.abs(trial - theta) <= 1e-10 * (np.abs(theta) + 1e-10)
            done = cost - cost_new <= rtol * cost or bool(moved.all())
            theta, r, jac, cost = trial, r_new, jac_new, cost_new
            lam = max(lam / 10.0, 1e-12)
            if done:
                return Solution(theta, 0.5 * cost, method)
    return Solution(theta, 0.5 * cost, method, converged=False)


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
        power = _WEIGHT_POWER[self.weighting]
        return self.sigma * np.sqrt(np.maximum(od, self._weight_floor) ** (2 * power) + self.k**2)

    def inverse_se(self, od: np.ndarray | float, replicates: int = 1) -> np.ndarray:
        """Standard error of the back-calculated concentration (delta method; NaN outside)."""
        x = np.atleast_1d(self.inverse(od)).astype(float)
        y = np.broadcast_to(np.asarray(od, dtype=float), x.shape)
        out = np.full(x.shape, np.nan)
        ok = np.isfinite(x) & (x > 0)
        if not ok.any() or self._theta is None or self._cov_theta is None:
            return out
        _, f_theta, f_x = _model_parts(self.model, self._theta, x[ok])
        grad = -f_theta / f_x[:, None]  # dx/dtheta by the implicit function theorem
        var_curve = np.einsum("ij,jk,ik->i", grad, self._cov_theta, grad)
        var_od = self.residual_sd(y[ok]) ** 2 / max(replicates, 1)
        out[ok] = np.sqrt(var_od / f_x**2 + var_curve)
        return out

    def inverse_ci(
        self, od: np.ndarray | float, replicates: int = 1, level: float = 0.95
    ) -> tuple[np.ndarray, np.ndarray]:
        """``level`` confidence interval (low, high) of the concentration for mean OD ``od``.

        Built on log concentration, so it is asymmetric and never negative.
        """
        x = np.atleast_1d(self.inverse(od)).astype(float)
        se = self.inverse_se(od, replicates)
        q = student_t_quantile(0.5 + level / 2, self.df)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            half = q * se / x
            return x * np.exp(-half), x * np.exp(half)

    def predict_band(
        self, conc: np.ndarray | float, level: float = 0.95
    ) -> tuple[np.ndarray, np.ndarray]:
        """Confidence band (low, high) of the fitted curve at ``conc`` (delta method)."""
        x = np.atleast_1d(np.asarray(conc, dtype=float))
        f, f_theta, _ = _model_parts(self.model, self._theta, x)
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


def student_t_quantile(p: float, df: int) -> float:
    """Student's t quantile (scipy.special.stdtrit: no scipy.stats import, 0.5 s of a run)."""
    from scipy.special import stdtrit

    return float(stdtrit(max(df, 1), p))


def student_t_sf(t: np.ndarray, df: int) -> np.ndarray:
    """Student's t upper tail P(T > t) (scipy.special.stdtr)."""
    from scipy.special import stdtr

    return stdtr(max(df, 1), -np.asarray(t, dtype=float))


def _num(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def self_start(conc: np.ndarray, od: np.ndarray) -> np.ndarray:
    """drc's self-starter: asymptotes from the OD range, b and c from a logit line.

    Returns theta = (a, b, ln c, d) with a at the zero-dose end.
    """
    span = float(od.max() - od.min())
    pos = conc > 0
    rising = _rising(conc, od)
    lo, hi = od.min() - 0.001 * span, od.max() + 0.001 * span
    a, d = (lo, hi) if rising else (hi, lo)
    z = np.log((od[pos] - a) / (d - od[pos]))
    lx = np.log(conc[pos])
    if np.ptp(lx) == 0:
        return np.array([a, 1.0, float(lx[0]), d])
    slope, intercept = np.polyfit(lx, z, 1)
    if not np.isfinite(slope) or slope <= 0:
        return np.array([a, 1.0, float(np.median(lx)), d])
    return np.array([a, slope, -intercept / slope, d])


def _rising(conc: np.ndarray, od: np.ndarray) -> bool:
    order = np.argsort(conc, kind="stable")
    n = max(1, len(order) // 3)
    return float(od[order[-n:]].mean()) >= float(od[order[:n]].mean())


class _Problem:
    """One curve-fitting problem: data, model, weights, the box of admissible curves, effort."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        five: bool,
        quick: bool = False,
        *,
        model: str | None = None,
    ) -> None:
        self.model = model or ("5pl" if five else "4pl")
        self.five = self.model == "5pl"
        self.line = self.model in LINE_MODELS
        self.x, self.y = x, y
        # A comparison fit: fewer starts and reweighting passes.
        self.quick = quick
        self.trf_nfev = 100 if quick else None
        pos = x[x > 0]
        self.lnx_lo, self.lnx_hi = float(np.log(pos.min())), float(np.log(pos.max()))
        self.span = float(np.ptp(y))
        self.w = np.ones_like(x)
        self.logs = _log_x(x)
        self.k = 0.0  # NOISE_WEIGHTING's SD floor (fit_curve's k)
        self.evaluations = 0

    def parts(self, theta: np.ndarray):
        """f, df/dtheta and df/dx at the standards."""
        return _model_parts(self.model, theta, self.x, self.logs)

    def fun_jac(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.evaluations += 1
        f, jac, _ = self.parts(theta)
        jac *= -1.0 / self.w[:, None]
        return (self.y - f) / self.w, jac

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The box of admissible curves (internal parameters)."""
        if self.line:
            return np.array([-np.inf, -_B_MAX]), np.array([np.inf, _B_MAX])
        lo_y, hi_y = float(self.y.min()), float(self.y.max())
        pad = _ASYMPTOTE_SPANS * max(self.span, 1e-12)
        low = [lo_y - pad, _B_MIN, self.lnx_lo - _LNC_MARGIN, lo_y - pad]
        high = [hi_y + pad, _B_MAX, self.lnx_hi + _LNC_MARGIN, hi_y + pad]
        if self.five:
            low.append(math.log(_G_RANGE[0]))
            high.append(math.log(_G_RANGE[1]))
        return np.array(low), np.array(high)

    def at_bounds(self, theta: np.ndarray) -> list[int]:
        """Indices of the parameters on the box; the span |d - a| at its limit counts for the
        asymptote on the side of the standards the inflection lies."""
        if self.line:
            return []
        low, high = self.bounds()
        tol = 1e-9 * (1.0 + np.abs(theta))
        gap = np.minimum(theta - low, high - theta)
        at = [i for i in (1, 2, 4) if i < theta.size and gap[i] <= tol[i]]
        if abs(theta[3] - theta[0]) >= _ASYMPTOTE_SPANS * max(self.span, 1e-12) * (1 - 1e-9):
            at.append(0 if theta[2] < 0.5 * (self.lnx_lo + self.lnx_hi) else 3)
        return sorted(at)

    # The search runs in q, theta with one asymptote replaced by ln|d - a| (the sign
    # of d - a fixed): a curve without a plateau at one end then runs along a straight
    # valley (ln|d - a| grows as b |ln c|), which Levenberg-Marquardt follows in a few
    # steps, instead of that asymptote growing as c^b. The free end is the one on the
    # side of the standards the inflection lies (slot 3 for d, slot 0 for a).
    def _free_slot(self, theta: np.ndarray) -> int:
        return 0 if theta[2] < 0.5 * (self.lnx_lo + self.lnx_hi) else 3

    @staticmethod
    def _to_q(theta: np.ndarray, sign: float, slot: int) -> np.ndarray:
        q = np.array(theta, dtype=float)
        q[slot] = math.log(max(sign * (theta[3] - theta[0]), 1e-300))
        return q

    @staticmethod
    def _from_q(q: np.ndarray, sign: float, slot: int) -> np.ndarray:
        theta = np.array(q, dtype=float)
        spread = sign * math.exp(min(q[slot], 700.0))
        if slot == 3:
            theta[3] = q[0] + spread
        else:
            theta[0] = q[3] - spread
        return theta

    def q_bounds(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.bounds()
        span = max(self.span, 1e-12)
        low[slot], high[slot] = math.log(1e-9 * span), math.log(_ASYMPTOTE_SPANS * span)
        return low, high

    def plausible(self, sol: Solution | None) -> bool:
        if sol is None or not np.all(np.isfinite(sol.theta)) or not math.isfinite(sol.cost):
            return False
        if self.line:
            return bool(sol.theta[1] != 0)
        low, high = self.bounds()
        inside = np.all(sol.theta >= low - 1e-9 * np.abs(low)) and np.all(
            sol.theta <= high + 1e-9 * np.abs(high)
        )
        a, d = sol.theta[0], sol.theta[3]
        spans = abs(d - a) / max(self.span, 1e-12)
        return bool(inside and 1e-9 < spans <= _ASYMPTOTE_SPANS * (1 + 1e-9))

    def lm(self, theta: np.ndarray, budget: int, rtol: float = 1e-10) -> Solution | None:
        """Bounded Levenberg-Marquardt from ``theta`` within ``budget`` evaluations."""
        budget = max(budget, 2)
        if self.line:
            low, high = self.bounds()
            sol = _box_lm(self.fun_jac, theta, low, high, rtol=rtol, max_evaluations=budget)
            return sol if self.plausible(sol) else None
        theta = np.array(theta, dtype=float)
        sign = 1.0 if theta[3] >= theta[0] else -1.0
        slot = self._free_slot(theta)
        five, x, logs, y, w = self.five, self.x, self.logs, self.y, self.w

        def fun_jac_q(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            self.evaluations += 1
            spread = sign * math.exp(min(q[slot], 700.0))
            theta = q.copy()
            if slot == 3:  # d = a + spread
                theta[3] = q[0] + spread
                f, jac, _ = _parts(theta, x, five, logs)
                jac[:, 0] += jac[:, 3]
                jac[:, 3] *= spread
            else:  # a = d - spread
                theta[0] = q[3] - spread
                f, jac, _ = _parts(theta, x, five, logs)
                jac[:, 3] += jac[:, 0]
                jac[:, 0] *= -spread
            jac /= -w[:, None]
            return (y - f) / w, jac

        low, high = self.q_bounds(slot)
        q0 = self._to_q(theta, sign, slot)
        sol = _box_lm(fun_jac_q, q0, low, high, rtol=rtol, max_evaluations=budget)
        if sol is None:
            return None
        sol.theta = self._from_q(sol.theta, sign, slot)
        return sol if self.plausible(sol) else None

    # ------------------------------------------------------------ starts

    def line_start(self) -> np.ndarray:
        """The log-log line by weighted least squares on ln OD (ODs above zero)."""
        keep = (self.x > 0) & (self.y > 0)
        if np.count_nonzero(keep) < 2 or np.ptp(self.logs[1][keep]) == 0:
            return np.array([math.log(max(float(np.mean(np.abs(self.y))), 1e-9)), 1.0])
        lx, ly = self.logs[1][keep], np.log(self.y[keep])
        weight = (self.y[keep] / self.w[keep]) ** 2  # SD(ln y) = SD(y) / y
        beta, alpha = np.polyfit(lx, ly, 1, w=np.sqrt(weight))
        return np.array([alpha, beta])

    def grid(self, g_values: tuple[float, ...] = (1.0,)) -> tuple[np.ndarray, np.ndarray]:
        """(ln c, b[, g]) grid, each point with its best (a, d): (costs, thetas), best first.

        For fixed b, c and g the curve is linear in a and d, y = a s + d (1 - s)
        with s = (1 + (x/c)^b)^-g, so each grid point's asymptotes are a weighted
        linear least-squares solution (2 x 2 normal equations, all points at once).
        """
        _, logx = self.logs
        # Fine steps over the standards' range and 6 beyond it, then coarser out to the box.
        near = 6.0
        width = self.lnx_hi - self.lnx_lo + 2 * near
        inner = np.linspace(
            self.lnx_lo - near, self.lnx_hi + near, math.ceil(width / _GRID_LNC_STEP) + 1
        )
        outer = np.array([o for o in _GRID_FAR if near < o <= _LNC_MARGIN])
        lnc = np.concatenate([self.lnx_lo - outer[::-1], inner, self.lnx_hi + outer])
        mesh = np.meshgrid(lnc, np.array(_GRID_B), np.array(g_values), indexing="ij")
        lc, b, g = (v.ravel() for v in mesh)
        with np.errstate(all="ignore"):
            t = b[:, None] * (logx[None, :] - lc[:, None])
            s = np.exp(-g[:, None] * np.logaddexp(0.0, t))
            wt = 1.0 / self.w**2
            u = 1.0 - s
            s11, s12, s22 = (wt * s * s).sum(1), (wt * s * u).sum(1), (wt * u * u).sum(1)
            r1, r2 = (wt * s * self.y).sum(1), (wt * u * self.y).sum(1)
            det = s11 * s22 - s12**2
            a = (s22 * r1 - s12 * r2) / det
            d = (s11 * r2 - s12 * r1) / det
            cost = float(wt @ self.y**2) - (a * r1 + d * r2)
        low, high = self.bounds()
        thetas = np.column_stack([a, b, lc, d, *([np.log(g)] if self.five else [])])
        ok = np.isfinite(cost) & np.all(np.isfinite(thetas), axis=1) & (np.abs(d - a) > 0)
        ok &= (a >= low[0]) & (a <= high[0]) & (d >= low[3]) & (d <= high[3])
        order = np.argsort(np.where(ok, cost, np.inf))
        order = order[ok[order]]
        return cost[order], thetas[order]

    def shape_starts(self) -> list[np.ndarray]:
        """drc's self-start, a far upper asymptote, and the log-log line made a 4PL."""
        first = self_start(self.x, self.y)
        sign = 1.0 if _rising(self.x, self.y) else -1.0
        z = sign * self.y
        pos = self.x > 0
        a0 = float(z.min()) - 0.001 * self.span
        lx = self.logs[1][pos]
        keep = z[pos] - a0 > 0
        beta = 1.0
        if np.count_nonzero(keep) >= 2 and np.ptp(lx[keep]) > 0:
            beta, alpha = np.polyfit(lx[keep], np.log(z[pos][keep] - a0), 1)
        beta = float(np.clip(beta if math.isfinite(beta) else 1.0, 0.3, 10.0))
        starts = [first]
        # The upper asymptote far (10 spans) above the top OD: c where the top standard
        # reaches the share of the span it shows.
        d_far = float(z.max()) + 10.0 * self.span
        top = float(np.mean(z[self.x == self.x.max()]))
        share = min(max((top - a0) / (d_far - a0), 1e-6), 0.999)
        lnc = self.lnx_hi - math.log(share / (1 - share)) / beta
        starts.append(np.array([sign * a0, beta, lnc, sign * d_far]))
        # The straight line of log OD on log dose: z = a0 + K x^beta is the 4PL's limit
        # for c far above the top standard; put c e^3 above it.
        if np.count_nonzero(keep) >= 2 and np.ptp(lx[keep]) > 0 and math.isfinite(alpha):
            lnc = self.lnx_hi + 3.0
            d_line = a0 + math.exp(min(alpha + beta * lnc, 700.0))
            starts.append(np.array([sign * a0, beta, lnc, sign * d_line]))
        if self.five:
            starts = [np.append(s, 0.0) for s in starts]
        return starts

    def search(self, extra: list[np.ndarray] | None = None) -> Solution | None:
        """The best least-squares curve over every start, each refined by bounded LM."""
        budget = _BUDGET["search"] // (3 if self.quick else 1)
        if self.line:
            return self.lm(self.line_start(), budget)
        starts = list(extra or [])
        _, thetas = self.grid((0.4, 2.5) if self.five else (1.0,))
        if self.five and starts:
            # The 4PL's search has covered every shape: its solution, with g = 1 and
            # moved to each side, and the best asymmetric grid point.
            base = starts[0]
            starts += [np.append(base[:4], math.log(g)) for g in (0.5, 2.0)]
            thetas = thetas[:1]
        if thetas.shape[0]:
            lnc = thetas[:, 2]
            picks = [0]
            for mask in (lnc > self.lnx_hi, lnc < self.lnx_lo):  # midpoint beyond each end
                hits = np.flatnonzero(mask)
                if hits.size:
                    picks.append(int(hits[0]))
            starts += [thetas[i] for i in dict.fromkeys(picks)]
        if not (self.five and extra):
            starts += self.shape_starts()
        if self.quick:
            starts = starts[:3]
        # A few steps from every start, then the two best run to convergence.
        budget += self.evaluations
        scouts: list[Solution] = []
        for theta0 in starts:
            if self.evaluations >= budget:
                break
            sol = self.lm(theta0, min(_SCOUT_EVALUATIONS, budget - self.evaluations), rtol=1e-6)
            if sol is not None:
                scouts.append(sol)
        scouts.sort(key=lambda sol: sol.cost)
        best: Solution | None = None
        kept: list[float] = []
        for sol in scouts:
            if len(kept) == 2 or self.evaluations >= budget:
                break
            if any(abs(sol.cost - c) <= 1e-6 * max(c, 1e-300) for c in kept):
                continue  # the same basin as one already refined
            kept.append(sol.cost)
            done = self.lm(sol.theta, (budget - self.evaluations) // (3 - len(kept)))
            done = done if done is not None and done.cost <= sol.cost else sol
            if best is None or done.cost < best.cost:
                best = done
        return best

    # ------------------------------------------------------------ weights

    def weights_from(self, theta: np.ndarray, power: float) -> np.ndarray:
        if power == 0:
            return np.ones_like(self.x)
        return self.sd_of(self.parts(theta)[0], theta, power)

    def sd_of(self, f: np.ndarray, theta: np.ndarray, power: float) -> np.ndarray:
        """The weighting's SD function at fitted ODs ``f`` (at the standards): the weights."""
        floor = _WEIGHT_FLOOR_SHARE * float(np.max(np.abs(f)))
        base = np.maximum(np.abs(f), floor) ** power
        return np.sqrt(base**2 + self.k**2) if self.k else base

    def weight_floor(self, theta: np.ndarray) -> float:
        """The smallest OD a weight is computed from: a share of the curve's highest OD over
        the standards (not of its asymptotes: on a curve without a plateau d is far away)."""
        return _WEIGHT_FLOOR_SHARE * float(np.max(np.abs(self.parts(theta)[0])))

    def reweight(self, sol: Solution, power: float) -> tuple[Solution, int, bool]:
        """Iterative reweighting to its fixed point (Prism's), bounded LM warm starts.

        Returns the solution, the number of passes, and whether the weighted
        sum of squares settled within the passes and the budget.
        """
        budget = self.evaluations + _BUDGET["reweight"] // (3 if self.quick else 1)
        previous = math.inf
        passes = 0
        for passes in range(1, _REWEIGHT_MAX + 1):
            self.w = self.weights_from(sol.theta, power)
            if self.evaluations >= budget:
                return sol, passes, False
            nxt = self.lm(sol.theta, min(40, budget - self.evaluations + 2), rtol=1e-12)
            if nxt is None:
                return sol, passes, False
            sol = nxt
            wss = 2 * sol.cost
            if abs(previous - wss) <= _REWEIGHT_RTOL * max(wss, 1e-300):
                self.w = self.weights_from(sol.theta, power)
                return sol, passes, True
            previous = wss
        self.w = self.weights_from(sol.theta, power)
        return sol, passes, False

    def polish(self, sol: Solution) -> Solution:
        """A tight solve with the final weights: MINPACK inside the box, bounded LM on it."""
        if not self.at_bounds(sol.theta):
            tight = solve(self.fun_jac, sol.theta, rtol=1e-15, max_nfev=_BUDGET["polish"])
            if self.plausible(tight) and tight.cost <= sol.cost * (1 + 1e-12):
                return tight
        tight = self.lm(sol.theta, _BUDGET["polish"], rtol=1e-15)
        return tight if tight is not None and tight.cost <= sol.cost else sol


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
        start=_to_params(start, model == "5pl", model) if start is not None else {},
    )


def fit_curve(
    conc: np.ndarray | list[float],
    response: np.ndarray | list[float],
    model: str = "4pl",
    weighting: str = "none",
    *,
    k: float | None = None,
    quick: bool = False,
) -> CurveFit:
    """Fit a 4PL, 5PL or log-log line to standard concentrations and ODs (all replicates).

    ``weighting="1/(k^2+y^2)"`` needs ``k``: the OD at which the reader's
    additive and proportional noise are equal (sd / cv of a noise model
    Var = sd^2 + (cv y)^2, e.g. ``il6assay.curve.noise.noise_from_duplicates``).

    ``quick`` bounds the effort further (fewer starts and passes), for fits made
    for comparison rather than for results. ``model="loglog"`` fits the standards
    above zero only (the line has no zero-dose OD).

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
    levels = np.unique(x[x > 0])
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

    problem = _Problem(x, y, model == "5pl", quick=quick, model=model)
    problem.k = float(k or 0.0)
    power = _WEIGHT_POWER[weighting]
    extra: list[np.ndarray] = []
    if model == "5pl":
        # The 4PL is the 5PL with g = 1: its fit (same weighting) is the natural first start.
        four = fit_curve(x, y, "4pl", weighting, k=k, quick=True)
        if four.success and four._theta is not None:
            extra.append(np.append(four._theta, 0.0))
    if power:
        # The search weighs the standards by the weighting's SD at their own ODs; the
        # reweighting then takes the weights from the fitted curve.
        floor = _WEIGHT_FLOOR_SHARE * max(float(np.max(np.abs(y))), problem.span)
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
    problem: _Problem, sol: Solution, model: str, weighting: str, start: np.ndarray, iterations: int
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
    params = _to_params(theta, five, model)
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
        start=_to_params(start, five, model),
        reweight_iterations=iterations,
        method=sol.method,
        aic=_aic(r, problem.w, p),
        _theta=theta,
        _cov_theta=cov_theta,
        _weight_floor=problem.weight_floor(theta),
        k=problem.k,
    )
    fit.warnings = curve_warnings(fit, x, y, at_bounds=at)
    fit.open_ends = open_ends(fit, x, at)[0]
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
    levels = np.unique(conc[conc > 0])
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
    fit: CurveFit, conc: np.ndarray, od: np.ndarray, *, at_bounds: list[str] | tuple[str, ...] = ()
) -> dict[str, str]:
    """Shape findings a reviewer must see: flat, hook-shaped or incomplete standard curves."""
    found: dict[str, str] = {}
    # Flat: the fitted rise across the standards' range is not distinguishable from
    # zero. (Not a..d: on an incomplete curve d is extrapolated and its SE large while
    # the rise the standards span is well determined.)
    rise, rise_se = math.inf, math.nan
    if fit._theta is not None and fit._cov_theta is not None:
        ends = np.array([float(np.min(conc)), float(np.max(conc))])
        f_end, jac_end, _ = _model_parts(fit.model, fit._theta, ends)
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
    ends, top, bottom = open_ends(fit, conc, at_bounds)
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
