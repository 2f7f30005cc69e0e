"""Nelder-Mead simplex minimisation: scipy's ``minimize(method="Nelder-Mead")``, ported.

The plate's noise model (``il6assay.curve.noise``) is fitted by it. scipy's
implementation is plain Python over numpy; importing ``scipy.optimize`` for
it cost a plate more CPU than the fit itself (docs/speed.md). This is the
same algorithm step for step (the same initial simplex, the same reflection,
expansion, contraction and shrink coefficients, the same sorting and the
same stopping rules, without bounds, callbacks or the adaptive variant), so
it gives the same numbers: tests/test_nelder_mead.py compares them with
scipy's, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_RHO, _CHI, _PSI, _SIGMA = 1.0, 2.0, 0.5, 0.5  # reflection, expansion, contraction, shrink
_NONZDELT, _ZDELT = 0.05, 0.00025  # the initial simplex: 5 % along each axis (0.00025 from 0)


@dataclass(frozen=True)
class SimplexResult:
    """Where the simplex stopped: the best vertex, its value, evaluations, why it stopped."""

    x: np.ndarray
    fun: float
    nfev: int
    nit: int
    status: int  # 0 converged, 1 evaluations exhausted, 2 iterations exhausted


class _Exhausted(Exception):
    pass


def nelder_mead(
    func: Callable[[np.ndarray], float],
    x0: np.ndarray | list[float],
    *,
    xatol: float = 1e-4,
    fatol: float = 1e-4,
    maxiter: int | None = None,
    maxfev: int | None = None,
) -> SimplexResult:
    """Minimise ``func`` from ``x0`` by Nelder-Mead, as scipy.optimize.minimize does.

    Stops when every vertex lies within ``xatol`` of the best in each
    coordinate and within ``fatol`` of its value, or after ``maxiter``
    iterations or ``maxfev`` evaluations (both 200 per variable by default).
    The simplex is kept in Python floats (float64, as scipy's for a float start): the same
    IEEE arithmetic, element by element, as scipy's numpy rows, without a numpy call per
    step (a plate's noise model takes about 300 steps).
    """
    start = np.asarray(x0, dtype=float).ravel().tolist()
    n = len(start)
    sim = [list(start)]
    for k in range(n):
        y = list(start)
        y[k] = (1 + _NONZDELT) * y[k] if y[k] != 0 else _ZDELT
        sim.append(y)
    if maxiter is None and maxfev is None:
        maxiter = maxfev = n * 200
    elif maxiter is None:
        maxiter = n * 200 if maxfev == np.inf else np.inf
    elif maxfev is None:
        maxfev = n * 200 if maxiter == np.inf else np.inf
    calls = [0]

    def f(x: list[float]) -> float:
        if calls[0] >= maxfev:
            raise _Exhausted
        calls[0] += 1
        value = func(np.array(x))
        return float(value if np.isscalar(value) else np.asarray(value).item())

    fsim = [math.inf] * (n + 1)
    try:
        for k in range(n + 1):
            fsim[k] = f(sim[k])
    except _Exhausted:
        pass
    finally:
        sim, fsim = _sorted(sim, fsim)
    sim, fsim = _sorted(sim, fsim)
    iterations = 1
    while calls[0] < maxfev and iterations < maxiter:
        try:
            best, fbest = sim[0], fsim[0]
            # np.max(|sim[1:] - sim[0]|) <= xatol and np.max(|fsim[0] - fsim[1:]|) <= fatol
            # (a NaN fails both, as numpy's maximum propagates it)
            if all(
                abs(v - b) <= xatol for row in sim[1:] for v, b in zip(row, best, strict=True)
            ) and all(abs(fbest - v) <= fatol for v in fsim[1:]):
                break
            _iterate(f, sim, fsim, n)
            iterations += 1
        except _Exhausted:
            pass
        sim, fsim = _sorted(sim, fsim)
    status = 1 if calls[0] >= maxfev else 2 if iterations >= maxiter else 0
    return SimplexResult(np.array(sim[0]), float(np.min(fsim)), calls[0], iterations, status)


def _sorted(sim: list[list[float]], fsim: list[float]) -> tuple[list[list[float]], list[float]]:
    """The vertices in the order of ``np.argsort(fsim)`` (scipy's): distinct values sort alike
    in any sort; ties (or a NaN) are left to numpy's own argsort."""
    if len(set(fsim)) == len(fsim) and all(v == v for v in fsim):  # no ties, no NaN
        order = sorted(range(len(fsim)), key=fsim.__getitem__)
    else:
        order = np.argsort(np.array(fsim)).tolist()
    return [sim[i] for i in order], [fsim[i] for i in order]


def _iterate(
    f: Callable[[list[float]], float], sim: list[list[float]], fsim: list[float], n: int
) -> None:
    """One Nelder-Mead step on the sorted simplex, in place: reflect, expand, contract or shrink.

    Each coordinate as scipy's numpy rows compute it: the centroid's sum row by row in
    order (numpy's reduction over the first axis), then the same products and differences.
    """
    xbar = list(sim[0])
    for row in sim[1:-1]:
        xbar = [s + v for s, v in zip(xbar, row, strict=True)]
    xbar = [s / n for s in xbar]
    worst = sim[-1]
    xr = [(1 + _RHO) * c - _RHO * w for c, w in zip(xbar, worst, strict=True)]
    fxr = f(xr)
    if fxr < fsim[0]:
        xe = [(1 + _RHO * _CHI) * c - _RHO * _CHI * w for c, w in zip(xbar, worst, strict=True)]
        fxe = f(xe)
        if fxe < fxr:
            sim[-1], fsim[-1] = xe, fxe
        else:
            sim[-1], fsim[-1] = xr, fxr
        return
    if fxr < fsim[-2]:
        sim[-1], fsim[-1] = xr, fxr
        return
    if fxr < fsim[-1]:  # outside contraction
        xc = [(1 + _PSI * _RHO) * c - _PSI * _RHO * w for c, w in zip(xbar, worst, strict=True)]
        fxc = f(xc)
        if fxc <= fxr:
            sim[-1], fsim[-1] = xc, fxc
            return
    else:  # inside contraction
        xcc = [(1 - _PSI) * c + _PSI * w for c, w in zip(xbar, worst, strict=True)]
        fxcc = f(xcc)
        if fxcc < fsim[-1]:
            sim[-1], fsim[-1] = xcc, fxcc
            return
    best = sim[0]
    for j in range(1, n + 1):  # shrink towards the best vertex
        sim[j] = [b + _SIGMA * (v - b) for b, v in zip(best, sim[j], strict=True)]
        fsim[j] = f(sim[j])
