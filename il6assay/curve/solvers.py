"""The least-squares solvers: a dense and a box-bounded Levenberg-Marquardt, and MINPACK's.

Each returns a ``Solution`` (internal parameters, half the sum of squares, how it
was found); none raises when it does not converge.

MINPACK's lmder is scipy's compiled ``_minpack`` extension, loaded by its file
(``minpack_lmder``): importing it as ``scipy.optimize._minpack`` would run
``scipy/optimize/__init__.py``, which imports all of scipy.optimize (0.3-0.4 s
of CPU, more than a plate's fitting). The extension needs nothing of scipy but
numpy, and is called exactly as ``scipy.optimize.leastsq`` calls it, so the
numbers are MINPACK's, bit for bit. The bounded robust fit runs on a port of
scipy's trust-region reflective solver (``il6assay.curve.trust_region``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from il6assay.curve.trust_region import least_squares_box


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
    reflective (scipy's ``trf`` for bounds, ported: a robust loss without bounds
    runs it with infinite ones, where scipy would take its unbounded variant).
    The one engine every curve (and the NIST problems) goes through.
    """
    # The dense LM pays off for the loose, warm-started reweighting passes;
    # MINPACK is as fast from a cold start and is the reference for tight ones.
    if bounds is None and loss == "linear" and len(theta0) <= 8 and rtol > 1e-12:
        fast = _dense_lm(fun_jac, theta0, rtol=rtol)
        if fast is not None:
            return fast
    cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def parts(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = theta.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = fun_jac(theta)
        return cache[key]

    method = "lm" if bounds is None and loss == "linear" else "trf"
    kwargs: dict[str, Any] = {"max_nfev": max_nfev or (2000 if method == "lm" else 500)}
    theta0 = np.asarray(theta0, dtype=float)
    if method != "lm" and bounds is not None:
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
                    lambda th: parts(th)[1],
                    tol=1e-15,
                    maxfev=kwargs["max_nfev"],
                    factor=100.0,
                )
                ok = ier in (1, 2, 3, 4)
            else:
                low, high = bounds if bounds is not None else (-np.inf, np.inf)
                res = least_squares_box(
                    fun_jac,
                    theta0,
                    np.broadcast_to(low, theta0.shape),
                    np.broadcast_to(high, theta0.shape),
                    loss=loss,
                    f_scale=f_scale,
                    ftol=1e-12,
                    xtol=1e-12,
                    gtol=1e-12,
                    max_nfev=kwargs["max_nfev"],
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


def _gesv() -> Callable[..., np.ndarray] | None:
    """numpy's compiled solver of one linear system (LAPACK's gesv), the one np.linalg.solve
    calls, or None where this numpy has it elsewhere."""
    try:
        from numpy.linalg import _umath_linalg
    except ImportError:  # pragma: no cover - numpy moved it
        return None
    return getattr(_umath_linalg, "solve1", None)


_GESV = _gesv()


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.linalg.solve(a, b) for a square float matrix and a vector, to the bit.

    A box_lm step solves a 4 x 4 or 5 x 5 system hundreds of times a plate: the compiled
    solver is called directly (np.linalg.solve's checks and conversions cost 5 times the
    solve). A system it cannot solve fills the answer with NaN: that one is solved again by
    np.linalg.solve, which raises LinAlgError for it as before (or returns its NaN). Called
    under ``np.errstate(all="ignore")``, as box_lm runs (else that NaN would also warn).
    """
    if _GESV is not None:
        move = _GESV(a, b)  # float64 operands: its "dd->d" loop
        if not math.isnan(float(move @ move)):
            return move
    return np.linalg.solve(a, b)


def box_lm(
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
    # The few parameters' tests in Python floats (the same comparisons and arithmetic as
    # numpy's on them, without a numpy call per test on a 4-element array).
    lows, highs = (np.asarray(v, dtype=float) for v in (low, high))
    if lows.shape != theta.shape or highs.shape != theta.shape:
        lows, highs = np.broadcast_to(lows, theta.shape), np.broadcast_to(highs, theta.shape)
    lows, highs = lows.tolist(), highs.tolist()
    with np.errstate(all="ignore"):
        r, jac = fun_jac(theta)
        cost = float(r @ r)
        if not (math.isfinite(cost) and math.isfinite(float(jac.sum()))):
            return None
        lam = 1e-3
        dampings: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # by size: a matrix, its diagonal
        while evaluations < max_evaluations:
            grad = jac.T @ r
            jtj = jac.T @ jac
            grads = grad.tolist()
            held = [
                (t <= lo and g > 0) or (t >= hi and g < 0)
                for t, g, lo, hi in zip(theta.tolist(), grads, lows, highs, strict=True)
            ]
            if any(held):
                free = np.array([not h for h in held])
                sub, g_free = jtj[np.ix_(free, free)], grad[free]
                grads = g_free.tolist()
            else:
                free, sub, g_free = None, jtj, grad
            scale = np.maximum(sub.diagonal(), 1e-300)
            limit = 1e-13 * math.sqrt(cost)
            # |g| / sqrt(scale) <= limit for every parameter (sqrt correctly rounded in both)
            if cost == 0.0 or all(
                abs(g) / math.sqrt(s) <= limit for g, s in zip(grads, scale.tolist(), strict=True)
            ):
                return Solution(theta, 0.5 * cost, method)
            size = scale.size
            if size not in dampings:
                matrix = np.zeros((size, size))
                dampings[size] = matrix, matrix.reshape(-1)[:: size + 1]
            damping, diagonal = dampings[size]
            while True:
                # np.diag(lam * scale), built as np.diag does: its diagonal written, zeros else
                np.multiply(lam, scale, out=diagonal)
                try:
                    move = _solve(sub + damping, -g_free)
                except np.linalg.LinAlgError:
                    return Solution(theta, 0.5 * cost, method)
                if free is None:
                    trial = theta + move
                else:
                    trial = theta.copy()
                    trial[free] += move
                np.minimum(np.maximum(trial, low, out=trial), high, out=trial)  # np.clip's
                r_new, jac_new = fun_jac(trial)
                evaluations += 1
                cost_new = float(r_new @ r_new)
                if cost_new <= cost and math.isfinite(float(np.add.reduce(jac_new, axis=None))):
                    break
                lam *= 10.0
                if lam > 1e12 or evaluations >= max_evaluations:
                    # No step lowers the sum of squares: as far as it goes.
                    return Solution(theta, 0.5 * cost, method, lam > 1e12)
            done = cost - cost_new <= rtol * cost or all(
                abs(new - old) <= 1e-10 * (abs(old) + 1e-10)
                for new, old in zip(trial.tolist(), theta.tolist(), strict=True)
            )
            theta, r, jac, cost = trial, r_new, jac_new, cost_new
            lam = max(lam / 10.0, 1e-12)
            if done:
                return Solution(theta, 0.5 * cost, method)
    return Solution(theta, 0.5 * cost, method, converged=False)


_LMDER: list[Callable[..., Any]] = []


def minpack_lmder() -> Callable[..., Any]:
    """MINPACK's lmder from scipy's compiled ``_minpack`` extension, loaded once by its file.

    Falls back to importing ``scipy.optimize._minpack`` (the same code, with
    scipy.optimize's import cost) when the file is not where scipy keeps it.
    """
    if not _LMDER:
        import importlib.machinery
        import importlib.util
        from pathlib import Path

        module = None
        spec = importlib.util.find_spec("scipy")
        folder = Path(spec.origin).parent / "optimize" if spec and spec.origin else None
        name = "scipy.optimize._minpack"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = folder / f"_minpack{suffix}" if folder else None
            if path is not None and path.is_file():
                loader = importlib.machinery.ExtensionFileLoader(name, str(path))
                found = importlib.util.spec_from_file_location(name, path, loader=loader)
                if found is not None:
                    module = importlib.util.module_from_spec(found)
                    loader.exec_module(module)
                    break
        if module is None:
            from scipy.optimize import _minpack as module
        _LMDER.append(module._lmder)
    return _LMDER[0]


def leastsq(
    fun: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    jac: Callable[[np.ndarray], np.ndarray],
    *,
    tol: float,
    maxfev: int,
    factor: float,
) -> tuple[np.ndarray, int]:
    """scipy.optimize.leastsq(fun, x0, Dfun=jac, ftol=xtol=gtol=tol, ...): (x, MINPACK's info).

    The same checks and the same call of lmder as scipy's, without importing scipy.optimize.
    Raises TypeError as scipy does for improper input (info 0, or fewer residuals than
    parameters).
    """
    x0 = np.asarray(x0).flatten()
    n = len(x0)
    shape = np.shape(np.atleast_1d(fun(x0[:n])))
    if n > shape[0]:
        raise TypeError(f"Improper input: {n} parameters but {shape[0]} residuals")
    if np.shape(np.atleast_1d(jac(x0[:n]))) != (shape[0], n):
        raise TypeError("leastsq: the Jacobian's shape does not match the residuals'")
    found = minpack_lmder()(fun, jac, x0, (), 0, 0, tol, tol, tol, maxfev, factor, None)
    x, info = found[0], found[-1]
    if info == 0:
        raise TypeError("Improper input parameters.")
    return x, info
