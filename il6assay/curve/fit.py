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

Fitting is least squares on all replicate wells (never their means), by
MINPACK's Levenberg-Marquardt (``scipy.optimize.least_squares(method="lm")``,
the Gauss-Newton family R's ``nls`` belongs to) with an analytic Jacobian, in
the parametrisation (a, b, ln c, d[, ln g]) so that c and g stay positive.
Start values come from drc's self-starter. When that start fails or lands on
an implausible curve, a grid of other starts is tried, then a bounded
trust-region fit, then a robust (soft-L1) loss; the lowest sum of squares
wins, and the result says which strategy found it. When all fail the result
has ``success=False`` and the reason, never an exception.

Weighting (``weighting=``) multiplies each squared residual by 1/w**2 where w
is an SD-like weight computed from the *fitted* curve, as Prism does: one
unweighted pass, then refits with w = f(x) ("1/y^2") or w = sqrt(f(x))
("1/y"), until the weighted sum of squares stops changing.

Uncertainty (``inverse_ci``): the delta method on log concentration,
Var(x) = (dx/dy)^2 s^2(y)/m + grad_theta(x)' Cov(theta) grad_theta(x), with
s^2(y) the residual variance at that OD (times the weighting's variance
function), and the interval log x ± t(df, 0.975) SE(x)/x transformed back.
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

MODELS: dict[str, tuple[str, ...]] = {"4pl": ("a", "b", "c", "d"), "5pl": ("a", "b", "c", "d", "g")}
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
# A fitted inflection this many natural-log units outside the standards'
# range is not a curve the standards support: try other strategies.
_LNC_MARGIN = 7.0
_B_MAX = 50.0
# Curve-shape checks (reported in CurveFit.warnings).
# Incomplete: the top standard reaches less than half the a..d span, i.e. the
# curve's midpoint (the 4PL's EC50) lies beyond the top standard. ELISA kits
# often put the top standard near the EC50, so a stricter share would flag
# ordinary plates.
_INCOMPLETE_SHARE = 0.5
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


def _to_params(theta: np.ndarray, five: bool) -> dict[str, float]:
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

    @property
    def _five(self) -> bool:
        return self.model == "5pl"

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names of the model, in order."""
        return MODELS[self.model]

    def predict(self, conc: np.ndarray | float) -> np.ndarray:
        """OD the curve gives at concentration(s) ``conc``."""
        return logistic(conc, **self.params)

    def inverse(self, od: np.ndarray | float) -> np.ndarray:
        """Concentration(s) for OD(s) ``od``; NaN where the OD is outside the asymptotes."""
        return logistic_inverse(od, **self.params)

    def side(self, od: float) -> str | None:
        """Where a non-invertible OD lies: "below" (at or past a), "above" (past d), else None."""
        a, d = self.params["a"], self.params["d"]
        if not (math.isfinite(od) and self.success):
            return None
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
        _, f_theta, f_x = _parts(self._theta, x[ok], self._five)
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
        from scipy.stats import t as student_t

        x = np.atleast_1d(self.inverse(od)).astype(float)
        se = self.inverse_se(od, replicates)
        q = student_t.ppf(0.5 + level / 2, max(self.df, 1))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            half = q * se / x
            return x * np.exp(-half), x * np.exp(half)

    def predict_band(
        self, conc: np.ndarray | float, level: float = 0.95
    ) -> tuple[np.ndarray, np.ndarray]:
        """Confidence band (low, high) of the fitted curve at ``conc`` (delta method)."""
        from scipy.stats import t as student_t

        x = np.atleast_1d(np.asarray(conc, dtype=float))
        f, f_theta, _ = _parts(self._theta, x, self._five)
        var = np.einsum("ij,jk,ik->i", f_theta, self._cov_theta, f_theta)
        q = student_t.ppf(0.5 + level / 2, max(self.df, 1))
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
        formula = "y = d + (a - d) / (1 + (x / c) ** b)"
        return {
            "model": self.model,
            "formula": formula + (" ** g" if self._five else ""),
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
        }


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
    """One curve-fitting problem: data, model, weights, and what counts as plausible."""

    def __init__(self, x: np.ndarray, y: np.ndarray, five: bool, quick: bool = False) -> None:
        self.x, self.y, self.five = x, y, five
        # A comparison fit: bounded trust-region capped, no robust stage.
        self.quick = quick
        self.trf_nfev = 100 if quick else None
        pos = x[x > 0]
        self.lnx_lo, self.lnx_hi = float(np.log(pos.min())), float(np.log(pos.max()))
        self.span = float(np.ptp(y))
        self.w = np.ones_like(x)
        self.logs = _log_x(x)
        self.k = 0.0  # NOISE_WEIGHTING's SD floor (fit_curve's k)

    def fun_jac(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, jac, _ = _parts(theta, self.x, self.five, self.logs)
        jac *= -1.0 / self.w[:, None]
        return (self.y - f) / self.w, jac

    def starts(self, first: np.ndarray | None = None) -> list[np.ndarray]:
        first = self_start(self.x, self.y) if first is None else first
        grid = [
            np.array([first[0], b, lc, first[3]])
            for lc in np.linspace(self.lnx_lo, self.lnx_hi + 1.0, 5)
            for b in (0.7, 1.0, 1.5)
        ]
        starts = [first, *grid]
        if self.five:
            starts = [np.append(s, 0.0) for s in starts]
        return starts

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo_y, hi_y = float(self.y.min()), float(self.y.max())
        pad = 2.0 * self.span
        low = [lo_y - pad, 0.05, self.lnx_lo - _LNC_MARGIN, lo_y - pad]
        high = [hi_y + pad, _B_MAX, self.lnx_hi + _LNC_MARGIN, hi_y + pad]
        if self.five:
            low.append(math.log(0.05))
            high.append(math.log(20.0))
        return np.array(low), np.array(high)

    def plausible(self, sol: Solution) -> bool:
        a, b, lnc, d = sol.theta[:4]
        if self.five and b <= 0:
            return False  # a 5PL with b < 0 has no equivalent with a at zero dose
        lnc_ok = self.lnx_lo - _LNC_MARGIN <= lnc <= self.lnx_hi + _LNC_MARGIN
        return bool(lnc_ok and abs(b) <= _B_MAX and abs(d - a) > 1e-9 * max(self.span, 1e-12))

    def near(self, theta: np.ndarray, rtol: float = 1e-15, bounded: bool = True) -> Solution | None:
        """Refine from ``theta``: Levenberg-Marquardt, else bounded trust-region."""
        for bounds in (None, self.bounds()) if bounded else (None,):
            sol = solve(self.fun_jac, theta, bounds=bounds, rtol=rtol, max_nfev=self.trf_nfev)
            if sol is not None and self.plausible(sol):
                return sol
        return None

    def best(self, starts: list[np.ndarray]) -> Solution | None:
        """The strategies in turn, stopping at the first that gives a plausible curve."""
        found: list[Solution] = []
        for i, theta0 in enumerate(starts):
            sol = solve(self.fun_jac, theta0)
            if sol is not None and self.plausible(sol):
                found.append(sol)
            if found and i == 0:
                return found[0]  # the self-start worked: the common case
        if not found:
            bounds = self.bounds()
            for theta0 in starts:
                sol = solve(self.fun_jac, theta0, bounds=bounds, max_nfev=self.trf_nfev)
                if sol is not None and self.plausible(sol):
                    found.append(sol)
        if not found and not self.quick:
            for theta0 in starts[:3]:
                sol = solve(self.fun_jac, theta0, bounds=self.bounds(), loss="soft_l1")
                if sol is not None and self.plausible(sol):
                    sol.cost = 0.5 * float(np.sum(self.fun_jac(sol.theta)[0] ** 2))
                    found.append(sol)
        return min(found, key=lambda s: s.cost) if found else None

    def weights_from(self, theta: np.ndarray, power: float) -> np.ndarray:
        if power == 0:
            return np.ones_like(self.x)
        return self.sd_of(_parts(theta, self.x, self.five, self.logs)[0], theta, power)

    def sd_of(self, f: np.ndarray, theta: np.ndarray, power: float) -> np.ndarray:
        """The weighting's SD function at fitted ODs ``f``: the weights of the residuals."""
        base = np.maximum(np.abs(f), self.weight_floor(theta)) ** power
        return np.sqrt(base**2 + self.k**2) if self.k else base

    def weight_floor(self, theta: np.ndarray) -> float:
        a, d = float(theta[0]), float(theta[3])
        return _WEIGHT_FLOOR_SHARE * max(abs(a), abs(d), abs(d - a))

    def reweighted(self, theta: np.ndarray, power: float) -> tuple[Solution, int] | None:
        """The fixed point of iterative reweighting, one damped Gauss-Newton step per pass.

        Each pass takes the weights and the Jacobian from one evaluation of the
        curve, so reaching the point where the weights no longer move the fit
        costs a few evaluations instead of a solve per pass. Returns the
        solution and the number of passes, or None (the caller then reweights
        with full solves).
        """
        theta = np.array(theta, dtype=float)
        previous, lam = math.inf, 1e-7
        with np.errstate(all="ignore"):
            f, jac, _ = _parts(theta, self.x, self.five, self.logs)
            for passes in range(1, _REWEIGHT_MAX + 1):
                w = self.sd_of(f, theta, power)
                r = (self.y - f) / w
                jw = jac * (-1.0 / w)[:, None]
                wss = float(r @ r)
                if not (math.isfinite(wss) and np.all(np.isfinite(jw))):
                    return None
                if abs(previous - wss) <= _REWEIGHT_RTOL * max(wss, 1e-300):
                    self.w = w
                    sol = Solution(theta=theta, cost=0.5 * wss, method="Levenberg-Marquardt")
                    return (sol, passes) if self.plausible(sol) else None
                previous = wss
                jtj, grad = jw.T @ jw, jw.T @ r
                diagonal = np.diag_indices_from(jtj)
                scale = np.maximum(jtj[diagonal], 1e-300)
                while True:
                    damped = jtj.copy()
                    damped[diagonal] += lam * scale
                    try:
                        step = np.linalg.solve(damped, -grad)
                    except np.linalg.LinAlgError:
                        return None
                    trial = theta + step
                    f_new, jac_new, _ = _parts(trial, self.x, self.five, self.logs)
                    r_new = (self.y - f_new) / w
                    if float(r_new @ r_new) <= wss:
                        break
                    lam *= 10.0
                    if lam > 1e16:
                        return None
                # The trial's curve gives the next pass its weights and Jacobian.
                theta, f, jac, lam = trial, f_new, jac_new, max(lam / 10.0, 1e-12)
        return None


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
        start=_to_params(start, model == "5pl") if start is not None else {},
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
    """Fit a 4PL or 5PL to standard concentrations and ODs (all replicates, not means).

    ``weighting="1/(k^2+y^2)"`` needs ``k``: the OD at which the reader's
    additive and proportional noise are equal (sd / cv of a noise model
    Var = sd^2 + (cv y)^2, e.g. ``il6assay.curve.noise.noise_from_duplicates``).

    ``quick`` bounds the effort (the first three starts only), for fits made
    for comparison rather than for results.

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

    problem = _Problem(x, y, model == "5pl", quick=quick)
    problem.k = float(k or 0.0)
    power = _WEIGHT_POWER[weighting]
    first = self_start(x, y)
    # A weighted 4PL goes straight from the self-start to the reweighting fixed point;
    # only when that fails is the unweighted curve found first, by every strategy.
    fast = problem.reweighted(first, power) if power and model == "4pl" else None
    starts = [first] if fast is not None else problem.starts(first)
    if model == "5pl":
        # The 4PL is the 5PL with g = 1: its fit is the natural first start.
        four = fit_curve(x, y, "4pl")
        if four.success and four._theta is not None:
            starts.insert(0, np.append(four._theta, 0.0))
    if quick:
        starts = starts[:3]
    sol = fast[0] if fast is not None else problem.best(starts)
    if sol is None:
        return _failed(model, weighting, n, "no strategy converged to a plausible curve", starts[0])
    iterations = 0
    settled = True
    if power and fast is None:
        fast = problem.reweighted(sol.theta, power)
    if fast is not None:
        sol, iterations = fast
    elif power:
        previous = math.inf
        for iterations in range(1, _REWEIGHT_MAX + 1):  # noqa: B007
            problem.w = problem.weights_from(sol.theta, power)
            # Weights move the optimum a little: refine from the last solution,
            # and only search all starts again when that fails.
            # On failure, the full strategy chain from this solution, not from every
            # start again (that made some 5PL fits take seconds).
            nxt = problem.near(sol.theta, rtol=1e-9, bounded=not quick)
            if nxt is None and quick:
                settled = False  # a comparison fit: keep the last pass, say so
                break
            nxt = nxt or problem.best([sol.theta])
            if nxt is None:
                return _failed(
                    model, weighting, n, "the weighted refit did not converge", starts[0]
                )
            sol = nxt
            wss = 2 * sol.cost
            if abs(previous - wss) <= _REWEIGHT_RTOL * max(wss, 1e-300):
                break
            previous = wss
        else:
            settled = False
        problem.w = problem.weights_from(sol.theta, power)
    if power:
        # The passes above only set weights: one tight solve with the final ones.
        sol = problem.near(sol.theta) or sol
    fit = _finish(problem, sol, model, weighting, starts[0], iterations)
    if not settled and fit.success:
        fit.message += f"; the weights did not settle in {_REWEIGHT_MAX} passes"
    return fit


def _finish(
    problem: _Problem, sol: Solution, model: str, weighting: str, start: np.ndarray, iterations: int
) -> CurveFit:
    x, y, five = problem.x, problem.y, problem.five
    theta = np.array(sol.theta, dtype=float)
    if not five and theta[1] < 0:
        # Same 4PL with the asymptotes named the other way round: keep b > 0
        # so that a is always the zero-dose OD.
        theta = np.array([theta[3], -theta[1], theta[2], theta[0]])
    n, p = x.size, theta.size
    r, jac = problem.fun_jac(theta)
    wrss = float(r @ r)
    df = n - p
    sigma2 = wrss / df if df > 0 else math.nan
    params = _to_params(theta, five)
    try:
        cov_theta = np.linalg.inv(jac.T @ jac) * sigma2
    except np.linalg.LinAlgError:
        cov_theta = np.full((p, p), np.nan)
    # d(a, b, c, d[, g]) / d(a, b, ln c, d[, ln g])
    grad = np.diag([1.0, 1.0, params["c"], 1.0, *([params["g"]] if five else [])])
    cov = grad @ cov_theta @ grad.T
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(cov))
    unweighted = y - logistic(x, **params)
    rss = float(unweighted @ unweighted)
    message = "converged"
    if not np.all(np.isfinite(se)):
        message = "converged, but the parameters' covariance is singular"
    if "bounded" in sol.method:
        low, high = problem.bounds()
        names = ("a", "b", "c", "d", "g")
        at = [
            names[i]
            for i in range(p)
            if min(abs(theta[i] - low[i]), abs(theta[i] - high[i])) < 1e-6
        ]
        if at:
            message += f"; at a bound: {', '.join(at)} (the standards do not determine it)"
        if "g" in at:
            # A 5PL whose asymmetry sits at its bound is not a 5PL the standards support.
            return _failed(
                model,
                weighting,
                n,
                "the 5PL's asymmetry g is not determined by the standards (it ran to its "
                "bound): use the 4PL",
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
        start=_to_params(start, five),
        reweight_iterations=iterations,
        method=sol.method,
        aic=_aic(r, problem.w, p),
        _theta=theta,
        _cov_theta=cov_theta,
        _weight_floor=problem.weight_floor(theta),
        k=problem.k,
    )
    fit.warnings = curve_warnings(fit, x, y)
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


def curve_warnings(fit: CurveFit, conc: np.ndarray, od: np.ndarray) -> dict[str, str]:
    """Shape findings a reviewer must see: flat, hook-shaped or incomplete standard curves."""
    found: dict[str, str] = {}
    a, d = fit.params["a"], fit.params["d"]
    span = abs(d - a)
    # Flat: the fitted rise across the standards' range is not distinguishable from
    # zero. (Not a..d: on an incomplete curve d is extrapolated and its SE large while
    # the rise the standards span is well determined.)
    rise, rise_se = abs(span), math.nan
    if fit._theta is not None and fit._cov_theta is not None:
        ends = np.array([float(np.min(conc)), float(np.max(conc))])
        f_end, jac_end, _ = _parts(fit._theta, ends, fit._five)
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
        # Incomplete: the top standard is far from the upper plateau.
        reached = (float(fit.predict(levels[-1])) - a) / (d - a) if span else math.nan
        if math.isfinite(reached) and reached < _INCOMPLETE_SHARE:
            found["INCOMPLETE_CURVE"] = (
                f"the top standard reaches {reached:.0%} of the fitted a..d span: "
                "no upper plateau, the top asymptote is extrapolated (wider CIs)"
            )
    return found
