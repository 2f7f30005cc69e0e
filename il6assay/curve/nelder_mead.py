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
    """
    x0 = np.atleast_1d(x0).flatten()
    dtype = x0.dtype if np.issubdtype(x0.dtype, np.inexact) else np.float64
    x0 = np.asarray(x0, dtype=dtype)
    n = len(x0)
    sim = np.empty((n + 1, n), dtype=x0.dtype)
    sim[0] = x0
    for k in range(n):
        y = np.array(x0, copy=True)
        y[k] = (1 + _NONZDELT) * y[k] if y[k] != 0 else _ZDELT
        sim[k + 1] = y
    if maxiter is None and maxfev is None:
        maxiter = maxfev = n * 200
    elif maxiter is None:
        maxiter = n * 200 if maxfev == np.inf else np.inf
    elif maxfev is None:
        maxfev = n * 200 if maxiter == np.inf else np.inf
    calls = [0]

    def f(x: np.ndarray) -> float:
        if calls[0] >= maxfev:
            raise _Exhausted
        calls[0] += 1
        value = func(np.copy(x))
        return value if np.isscalar(value) else np.asarray(value).item()

    fsim = np.full((n + 1,), np.inf, dtype=float)
    try:
        for k in range(n + 1):
            fsim[k] = f(sim[k])
    except _Exhausted:
        pass
    finally:
        ind = np.argsort(fsim)
        sim = np.take(sim, ind, 0)
        fsim = np.take(fsim, ind, 0)
    ind = np.argsort(fsim)
    fsim = np.take(fsim, ind, 0)
    sim = np.take(sim, ind, 0)
    iterations = 1
    while calls[0] < maxfev and iterations < maxiter:
        try:
            if (
                np.max(np.ravel(np.abs(sim[1:] - sim[0]))) <= xatol
                and np.max(np.abs(fsim[0] - fsim[1:])) <= fatol
            ):
                break
            _iterate(f, sim, fsim, n)
            iterations += 1
        except _Exhausted:
            pass
        ind = np.argsort(fsim)
        sim = np.take(sim, ind, 0)
        fsim = np.take(fsim, ind, 0)
    status = 1 if calls[0] >= maxfev else 2 if iterations >= maxiter else 0
    return SimplexResult(sim[0], float(np.min(fsim)), calls[0], iterations, status)


def _iterate(f: Callable[[np.ndarray], float], sim: np.ndarray, fsim: np.ndarray, n: int) -> None:
    """One Nelder-Mead step on the sorted simplex, in place: reflect, expand, contract or shrink."""
    xbar = np.add.reduce(sim[:-1], 0) / n
    xr = (1 + _RHO) * xbar - _RHO * sim[-1]
    fxr = f(xr)
    if fxr < fsim[0]:
        xe = (1 + _RHO * _CHI) * xbar - _RHO * _CHI * sim[-1]
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
        xc = (1 + _PSI * _RHO) * xbar - _PSI * _RHO * sim[-1]
        fxc = f(xc)
        if fxc <= fxr:
            sim[-1], fsim[-1] = xc, fxc
            return
    else:  # inside contraction
        xcc = (1 - _PSI) * xbar + _PSI * sim[-1]
        fxcc = f(xcc)
        if fxcc < fsim[-1]:
            sim[-1], fsim[-1] = xcc, fxcc
            return
    for j in range(1, n + 1):  # shrink towards the best vertex
        sim[j] = sim[0] + _SIGMA * (sim[j] - sim[0])
        fsim[j] = f(sim[j])
