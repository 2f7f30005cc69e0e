"""The curve models: their formulas, inverses, derivatives and the weightings' SD functions.

4PL and 5PL logistics and the log-log line (formulas in il6assay.curve.fit's docstring);
``model_parts`` gives a model's values and Jacobian in the internal parameters
theta = (a, b, ln c, d[, g]) the solvers work in.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

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
WEIGHT_POWER = {"none": 0.0, "1/y": 0.5, "1/y^2": 1.0, NOISE_WEIGHTING: 1.0}
# Fitted ODs below this share of the curve's span are floored when they set
# weights, so that a near-zero (or negative, blank-subtracted) OD does not
# get an unbounded weight.
WEIGHT_FLOOR_SHARE = 0.01
# A model the rest of il6assay may ask for, but the grid search does not apply to.
LINE_MODELS = ("loglog",)


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


def logistic_inverse_each(
    y: np.ndarray | list[float], a: float, b: float, c: float, d: float, g: float = 1.0
) -> np.ndarray:
    """``logistic_inverse`` of each OD of ``y`` as a call with that OD alone gives it, in one call.

    Alone, the last power is numpy's power of a scalar (the C library's pow), which may differ
    in the last digit from numpy's power over an array: here it is taken element by element,
    the rest over the array (elementwise, the same arithmetic as alone).
    """
    y = np.asarray(y, dtype=float).ravel()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inside = (y - a) * (d - y) > 0
        share = np.where(inside, (y - d) / (a - d), np.nan)  # = (1 + u) ** -g
        u = share ** (-1.0 / g) - 1.0
    power = 1.0 / b
    x = [c * _pow(v, power) if v > 0 else math.nan for v in u.tolist()]
    return np.array(x, dtype=float).reshape(y.shape)


def _pow(v: float, power: float) -> float:
    """v ** power for v > 0, as numpy's power of a scalar gives it (inf where it overflows)."""
    try:
        return v**power
    except OverflowError:
        return math.inf


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


def invert_each(model: str, params: dict[str, float], y: np.ndarray | list[float]) -> np.ndarray:
    """``invert`` of each OD of ``y`` as a call with that OD alone gives it (1-D), in one call."""
    if model == "loglog":  # exp and log: each element's figure is the same alone or in an array
        return np.atleast_1d(loglog_inverse(np.asarray(y, dtype=float).ravel(), **params))
    return logistic_inverse_each(y, **params)


class LogX(NamedTuple):
    """A data set's concentrations as every evaluation uses them, computed once (``log_x``)."""

    pos: np.ndarray  # x > 0
    logx: np.ndarray  # ln x, -inf at x = 0
    zeros: np.ndarray  # the indices where x = 0


def log_x(x: np.ndarray) -> LogX:
    """(x > 0, ln x with -inf at x = 0, where x = 0): once per data set, for every evaluation."""
    pos = x > 0
    logx = np.full(x.shape, -np.inf)
    np.log(x, out=logx, where=pos)
    return LogX(pos, logx, np.flatnonzero(~pos))


def _floats(theta: np.ndarray, five: bool) -> tuple[float, float, float, float, float | None]:
    """(a, b, ln c, d, ln g) as Python floats, as float() of each gives (ln g None: a 4PL)."""
    a, b, lnc, d = theta[:4].tolist()
    return a, b, lnc, d, float(theta[4]) if five else None


def _logistic_values(theta: np.ndarray, logx: np.ndarray, five: bool):
    """The 4PL's or 5PL's values at ln x and the figures its derivatives reuse:
    (a, b, d, g, ln(x/c), t = b ln(x/c), ln(1 + u), s = (1 + u)^-g, f)."""
    return _curve_at(*_floats(theta, five), logx)


def _curve_at(a: float, b: float, lnc: float, d: float, lng: float | None, logx: np.ndarray):
    """``_logistic_values`` of the parameters as Python floats (``lng`` None: a 4PL)."""
    # Clamped: a solver's trial step may try absurd asymmetries on the way.
    g = math.exp(min(max(lng, -30.0), 30.0)) if lng is not None else 1.0
    shifted = logx - lnc
    t = b * shifted
    sp = np.logaddexp(0.0, t)  # ln(1 + u), u = (x/c)^b
    s = np.exp(-g * sp)  # (1 + u)^-g
    f = (a - d) * s
    f += d  # d + (a - d) * s
    return a, b, d, g, shifted, t, sp, s, f


def logistic_parts(
    theta: np.ndarray,
    x: np.ndarray,
    five: bool,
    logs: LogX | None = None,
    slope: bool = True,
):
    """f, df/dtheta (n x p) and df/dx at x, for internal theta = (a, b, ln c, d[, ln g]).

    ``logs`` is ``log_x(x)``, passed by callers that evaluate the same x many times;
    ``slope=False`` (a solver's evaluations) leaves df/dx out (None). The solvers call it
    hundreds of times a plate: each figure is computed once, in place where it can be.
    """
    logs = logs if logs is not None else log_x(x)
    return logistic_parts_at(*_floats(theta, five), x, logs, slope)


def logistic_parts_at(
    a: float,
    b: float,
    lnc: float,
    d: float,
    lng: float | None,
    x: np.ndarray,
    logs: LogX,
    slope: bool = True,
    free: tuple[int, float] | None = None,
):
    """``logistic_parts`` of the parameters as Python floats (``lng`` None: a 4PL).

    ``free = (slot, spread)``: the Jacobian in the search's parameters, where the asymptote
    in ``slot`` is the other one plus or minus ``spread`` = ±e^q (d = a + spread for slot 3,
    a = d - spread for slot 0): column ``slot`` is df/dq, the other asymptote's column moves
    both. The same figures as df/dtheta's columns combined after (s + (1 - s), (1 - s) spread
    for slot 3; (1 - s) + s, s (-spread) for slot 0), written once.
    """
    pos, logx, zeros = logs
    a, b, d, g, shifted, t, sp, s, f = _curve_at(a, b, lnc, d, lng, logx)
    e = np.tanh(0.5 * t)  # then u / (1 + u) = 0.5 * (1 + tanh(t / 2)), exact at t = ±inf
    e += 1.0
    e *= 0.5
    ds = (a - d) * -g * s
    ds *= e  # (a - d) * ds/dt
    jac = np.empty((x.size, 4 if lng is None else 5))
    if zeros.size:
        shifted = shifted.copy()
        shifted[zeros] = 0.0  # ln(x/c) taken as 0 at x = 0, where ds is 0
    np.multiply(ds, shifted, out=jac[:, 1])
    np.multiply(ds, -b, out=jac[:, 2])
    low, high = jac[:, 0], jac[:, 3]  # df/da = s, df/dd = 1 - s
    np.subtract(1.0, s, out=high)
    if free is None:
        low[...] = s
    elif free[0] == 3:  # d = a + spread: a moves d too
        np.add(s, high, out=low)
        high *= free[1]
    else:  # a = d - spread: d moves a too
        high += s
        np.multiply(s, -free[1], out=low)
    if lng is not None:
        s_sp = s * sp
        if not np.minimum.reduce(s, initial=np.inf) > 0:  # s underflowed to 0 somewhere (or is NaN)
            s_sp = np.where(s > 0, s_sp, 0.0)
        np.multiply((a - d) * -g, s_sp, out=jac[:, 4])
    if not slope:
        return f, jac, None
    f_x = np.full(x.shape, np.nan)
    np.divide(ds * b, x, out=f_x, where=pos)
    return f, jac, f_x


def _loglog_values(theta: np.ndarray, logs: LogX) -> tuple[np.ndarray, np.ndarray]:
    """(f, ln x with 0 at x = 0) of the log-log line, for theta = (alpha, beta)."""
    pos, logx, zeros = logs
    alpha, beta = float(theta[0]), float(theta[1])
    lx = np.where(pos, logx, 0.0) if zeros.size else logx  # a line's fit has no x = 0
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.exp(np.minimum(alpha + beta * lx, 700.0))
        if zeros.size:
            f = np.where(pos, f, 0.0 if beta > 0 else np.inf)
    return f, lx


def _loglog_parts(theta: np.ndarray, x: np.ndarray, logs: LogX | None = None, slope: bool = True):
    """f, df/dtheta and df/dx of the log-log line at x, for theta = (alpha, beta)."""
    logs = logs if logs is not None else log_x(x)
    f, lx = _loglog_values(theta, logs)
    jac = np.empty((x.size, 2))
    jac[:, 0] = f
    jac[:, 1] = f * lx
    if not slope:
        return f, jac, None
    f_x = np.full(x.shape, np.nan)
    np.divide(float(theta[1]) * f, x, out=f_x, where=logs[0])
    return f, jac, f_x


def model_parts(model: str, theta: np.ndarray, x: np.ndarray, logs=None, slope: bool = True):
    """f, df/dtheta, df/dx of ``model`` (internal parameters) at x (df/dx None unless ``slope``)."""
    if model == "loglog":
        return _loglog_parts(theta, x, logs, slope)
    return logistic_parts(theta, x, model == "5pl", logs, slope)


def model_values(model: str, theta: np.ndarray, logs: LogX) -> np.ndarray:
    """f of ``model_parts`` at the x of ``logs`` (``log_x(x)``), the same bits, alone."""
    if model == "loglog":
        return _loglog_values(theta, logs)[0]
    return _logistic_values(theta, logs[1], model == "5pl")[-1]


def to_params(theta: np.ndarray, five: bool, model: str | None = None) -> dict[str, float]:
    """The named parameters (a, b, c, d[, g] or alpha, beta) of internal parameters theta."""
    if model == "loglog":
        return {"alpha": float(theta[0]), "beta": float(theta[1])}
    a, b, lnc, d = (float(v) for v in theta[:4])
    params = {"a": a, "b": b, "c": float(np.exp(lnc)), "d": d}
    if five:
        params["g"] = float(np.exp(theta[4]))
    return params
