"""The standard curve: a four-parameter logistic (4PL) fitted to every standard well.

Model (DOMAIN.md)::

    y = d + (a - d) / (1 + (x / c) ** b)

- ``a``: OD at zero concentration (the zero-dose asymptote),
- ``d``: OD at infinite concentration,
- ``c``: inflection point (EC50), in the standards' unit (pg/mL),
- ``b``: slope, kept positive: the curve rises with concentration when
  ``d > a`` (sandwich ELISA) and falls when ``d < a``.

R's ``SSfpl(log(x), A, B, xmid, scal)`` is the same curve with A = a, B = d,
xmid = ln c, scal = 1/b (drc's LL.4 uses -b).

Fitting is least squares on all replicate wells (never their means), by
MINPACK's Levenberg-Marquardt (``scipy.optimize.least_squares(method="lm")``,
the Gauss-Newton family R's ``nls`` belongs to) with an analytic Jacobian, in
the parametrisation (a, b, ln c, d) so that c stays positive. Start values
come from drc's self-starter; when that start fails, a small grid of other
starts is tried and the lowest residual sum of squares kept.

Weighting (``weighting=``) multiplies each squared residual by 1/w**2 where w
is an SD-like weight computed from the *fitted* curve, as Prism does: one
unweighted pass, then refits with w = f(x) ("1/y^2") or w = sqrt(f(x))
("1/y"), until the weighted sum of squares stops changing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PARAM_NAMES = ("a", "b", "c", "d")
WEIGHTINGS = ("none", "1/y", "1/y^2")
_WEIGHT_POWER = {"none": 0.0, "1/y": 0.5, "1/y^2": 1.0}
_REWEIGHT_MAX = 50
_REWEIGHT_RTOL = 1e-10
# Fitted ODs below this share of the curve's span are floored when they set
# weights, so that a near-zero (or negative, blank-subtracted) OD does not
# get an unbounded weight.
_WEIGHT_FLOOR_SHARE = 0.01


def four_pl(x: np.ndarray | float, a: float, b: float, c: float, d: float) -> np.ndarray:
    """The 4PL curve at concentrations ``x`` (x = 0 gives y = a)."""
    x = np.asarray(x, dtype=float)
    return d + (a - d) * _zero_share(x, b, c)


def _zero_share(x: np.ndarray, b: float, c: float) -> np.ndarray:
    """1 / (1 + (x/c)**b), computed stably (expit of -b ln(x/c)); 1 at x = 0."""
    from scipy.special import expit

    with np.errstate(divide="ignore"):
        t = b * (np.log(x) - math.log(c))
    return expit(-t)


def four_pl_inverse(y: np.ndarray | float, a: float, b: float, c: float, d: float) -> np.ndarray:
    """Concentration giving OD ``y``; NaN unless y lies strictly between a and d."""
    y = np.asarray(y, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = (y - a) * (d - y) > 0
        ratio = np.where(inside, (a - d) / np.where(inside, y - d, 1.0) - 1.0, np.nan)
        x = c * ratio ** (1.0 / b)
    return np.where(inside, x, np.nan)


def _residuals_and_jacobian(theta: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray):
    a, b, logc, d = theta
    with np.errstate(divide="ignore"):
        logx = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)
    from scipy.special import expit

    t = b * (logx - logc)
    s = expit(-t)  # 1/(1+u)
    f = d + (a - d) * s
    ds = s * (1.0 - s)  # u/(1+u)^2
    dlog = np.where(x > 0, logx - logc, 0.0)
    jac = np.empty((x.size, 4))
    jac[:, 0] = s
    jac[:, 1] = -(a - d) * ds * dlog
    jac[:, 2] = (a - d) * ds * b
    jac[:, 3] = 1.0 - s
    return (y - f) / w, -jac / w[:, None]


@dataclass
class CurveFit:
    """A fitted standard curve: parameters, their uncertainty and how they were found.

    ``params`` maps a, b, c, d (DOMAIN.md names) to floats; ``stderr`` their
    standard errors; ``cov`` the 4x4 covariance in that order. ``rss`` is
    the unweighted residual sum of squares, ``weighted_rss`` the minimised
    one; ``sigma`` the residual standard error on ``df`` degrees of freedom.
    ``success`` is False with a ``message`` saying why when no curve could
    be fitted; then ``params`` are NaN.
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

    def predict(self, conc: np.ndarray | float) -> np.ndarray:
        """OD the curve gives at concentration(s) ``conc``."""
        return four_pl(conc, *(self.params[k] for k in PARAM_NAMES))

    def inverse(self, od: np.ndarray | float) -> np.ndarray:
        """Concentration(s) for OD(s) ``od``; NaN where the OD is outside the asymptotes."""
        return four_pl_inverse(od, *(self.params[k] for k in PARAM_NAMES))

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

    def to_lmfit(self):
        """The parameters as ``lmfit.Parameters`` (values and standard errors), for lmfit users."""
        import lmfit

        params = lmfit.Parameters()
        for name in PARAM_NAMES:
            params.add(name, value=self.params[name])
            params[name].stderr = self.stderr[name]
        return params

    def summary(self) -> dict[str, Any]:
        """Plain, JSON-serialisable description of the fit (for curve.json and databases)."""
        return {
            "model": self.model,
            "formula": "y = d + (a - d) / (1 + (x / c) ** b)",
            "weighting": self.weighting,
            "success": self.success,
            "message": self.message,
            "params": {k: _num(v) for k, v in self.params.items()},
            "stderr": {k: _num(v) for k, v in self.stderr.items()},
            "covariance": [[_num(v) for v in row] for row in np.asarray(self.cov).tolist()],
            "rss": _num(self.rss),
            "weighted_rss": _num(self.weighted_rss),
            "sigma": _num(self.sigma),
            "df": self.df,
            "n_points": self.n,
            "start": {k: _num(v) for k, v in self.start.items()},
            "reweight_iterations": self.reweight_iterations,
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


def _starts(conc: np.ndarray, od: np.ndarray) -> list[np.ndarray]:
    first = self_start(conc, od)
    pos = conc[conc > 0]
    lo, hi = np.log(pos.min()), np.log(pos.max())
    others = [
        np.array([first[0], b, lc, first[3]])
        for lc in np.linspace(lo, hi + 1.0, 5)
        for b in (0.7, 1.0, 1.5)
    ]
    return [first, *others]


def _failed(weighting: str, n: int, message: str, start: np.ndarray | None) -> CurveFit:
    nan4 = {k: math.nan for k in PARAM_NAMES}
    return CurveFit(
        model="4pl",
        weighting=weighting,
        params=dict(nan4),
        stderr=dict(nan4),
        cov=np.full((4, 4), np.nan),
        rss=math.nan,
        weighted_rss=math.nan,
        sigma=math.nan,
        df=max(n - 4, 0),
        n=n,
        success=False,
        message=message,
        start=_theta_to_params(start) if start is not None else {},
    )


def _theta_to_params(theta: np.ndarray) -> dict[str, float]:
    a, b, logc, d = (float(v) for v in theta)
    return {"a": a, "b": b, "c": math.exp(logc), "d": d}


def _solve(theta0: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray):
    from scipy.optimize import least_squares

    def fun(theta):
        return _residuals_and_jacobian(theta, x, y, w)[0]

    def jac(theta):
        return _residuals_and_jacobian(theta, x, y, w)[1]

    try:
        res = least_squares(
            fun, theta0, jac=jac, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=2000
        )
    except (ValueError, FloatingPointError):
        return None
    if not (res.success and np.all(np.isfinite(res.x)) and np.isfinite(res.cost)):
        return None
    return res


def _best_fit(starts: list[np.ndarray], x: np.ndarray, y: np.ndarray, w: np.ndarray):
    best = None
    for theta0 in starts:
        res = _solve(theta0, x, y, w)
        if res is not None and (best is None or res.cost < best.cost * (1 - 1e-12)):
            best = res
        # The self-start converging is the common case; more starts only when it did not.
        if best is not None and theta0 is starts[0]:
            break
    return best


def _weights(theta: np.ndarray, x: np.ndarray, power: float) -> np.ndarray:
    if power == 0:
        return np.ones_like(x)
    a, b, logc, d = theta
    fitted = np.abs(d + (a - d) * _zero_share(x, b, math.exp(logc)))
    floor = _WEIGHT_FLOOR_SHARE * max(abs(a), abs(d), abs(d - a))
    return np.maximum(fitted, floor) ** power


def fit_curve(
    conc: np.ndarray | list[float],
    response: np.ndarray | list[float],
    model: str = "4pl",
    weighting: str = "none",
) -> CurveFit:
    """Fit a 4PL to standard concentrations and ODs (all replicates, not means).

    Non-finite pairs are refused (pass only numeric reads). Never raises for a
    curve that cannot be fitted: the result has ``success=False`` and says why.
    """
    if model != "4pl":
        raise ValueError(f"unknown model '{model}' (this version fits '4pl')")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting '{weighting}', expected one of {WEIGHTINGS}")
    x = np.asarray(conc, dtype=float)
    y = np.asarray(response, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("conc and response must be 1-D arrays of the same length")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("conc and response must be finite numbers")
    n = x.size
    if np.any(x < 0):
        return _failed(weighting, n, "negative standard concentration", None)
    levels = np.unique(x[x > 0])
    if n < 5 or levels.size < 3:
        return _failed(weighting, n, f"too few standards to fit a 4PL ({levels.size} levels)", None)
    if np.ptp(y) == 0:
        return _failed(weighting, n, "all standard ODs are equal: no curve to fit", None)

    starts = _starts(x, y)
    power = _WEIGHT_POWER[weighting]
    res = _best_fit(starts, x, y, np.ones_like(x))
    if res is None:
        return _failed(weighting, n, "the fit did not converge from any start", starts[0])
    iterations = 0
    if power:
        previous = math.inf
        for iterations in range(1, _REWEIGHT_MAX + 1):  # noqa: B007
            w = _weights(res.x, x, power)
            nxt = _best_fit([res.x, *starts], x, y, w)
            if nxt is None:
                return _failed(weighting, n, "the weighted refit did not converge", starts[0])
            res = nxt
            wss = 2 * res.cost
            if abs(previous - wss) <= _REWEIGHT_RTOL * max(wss, 1e-300):
                break
            previous = wss
        w = _weights(res.x, x, power)
    else:
        w = np.ones_like(x)
    return _finish(res.x, x, y, w, weighting, starts[0], iterations)


def _finish(theta, x, y, w, weighting, start, iterations) -> CurveFit:
    n = x.size
    if theta[1] < 0:
        # Same curve with the asymptotes named the other way round: keep b > 0
        # so that a is always the zero-dose OD.
        theta = np.array([theta[3], -theta[1], theta[2], theta[0]])
    r, jac = _residuals_and_jacobian(theta, x, y, w)
    wrss = float(r @ r)
    df = n - 4
    sigma2 = wrss / df if df > 0 else math.nan
    a, b, logc, d = (float(v) for v in theta)
    c = math.exp(logc)
    params = {"a": a, "b": b, "c": c, "d": d}
    if abs(d - a) < 1e-12 * max(abs(a), abs(d), 1e-12):
        return _failed(weighting, n, "the fitted curve is flat (a = d): no slope", start)
    try:
        cov_theta = np.linalg.inv(jac.T @ jac) * sigma2
    except np.linalg.LinAlgError:
        cov_theta = np.full((4, 4), np.nan)
    grad = np.diag([1.0, 1.0, c, 1.0])  # d(a,b,c,d)/d(a,b,ln c,d)
    cov = grad @ cov_theta @ grad.T
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(cov))
    unweighted = y - four_pl(x, a, b, c, d)
    message = "converged"
    if not np.all(np.isfinite(se)):
        message = "converged, but the parameters' covariance is singular"
    return CurveFit(
        model="4pl",
        weighting=weighting,
        params=params,
        stderr=dict(zip(PARAM_NAMES, (float(v) for v in se), strict=True)),
        cov=cov,
        rss=float(unweighted @ unweighted),
        weighted_rss=wrss,
        sigma=math.sqrt(sigma2) if math.isfinite(sigma2) else math.nan,
        df=df,
        n=n,
        success=True,
        message=message,
        start=_theta_to_params(start),
        reweight_iterations=iterations,
    )
