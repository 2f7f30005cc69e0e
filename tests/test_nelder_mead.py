"""The ported Nelder-Mead (il6assay.curve.nelder_mead) gives scipy's numbers, bit for bit."""

from __future__ import annotations

import csv
import itertools
import math

import numpy as np
import pytest
from scipy.optimize import minimize

from il6assay.curve.nelder_mead import nelder_mead
from il6assay.curve.noise import CV_FLOOR, SD_FLOOR, noise_from_duplicates
from tests.conftest import SHARED, needs_shared


def _rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def _duplicates_nll(first: np.ndarray, second: np.ndarray):
    mean, diff = (first + second) / 2, first - second

    def nll(p: np.ndarray) -> float:
        sd, cv = math.exp(min(p[0], 5.0)), math.exp(min(p[1], 5.0))
        var = 2 * (sd**2 + (cv * mean) ** 2)
        return float(0.5 * np.sum(np.log(var) + diff**2 / var))

    return nll


def _pairs(seed: int, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    od = rng.uniform(0.05, 2.5, n)
    sd = np.sqrt(0.004**2 + (0.03 * od) ** 2)
    return od + sd * rng.standard_normal(n), od + sd * rng.standard_normal(n)


START = np.log([0.005, 0.03]).tolist()  # the noise model's start
CASES = [
    ("rosenbrock 2", _rosenbrock, [-1.2, 1.0], {}),
    ("rosenbrock 3, a zero coordinate", _rosenbrock, [0.0, 0.5, 2.0], {"xatol": 1e-8}),
    ("rosenbrock 4, evaluations run out", _rosenbrock, [1.3, 0.7, 0.8, 1.9], {"maxfev": 50}),
    ("rosenbrock 2, iterations run out", _rosenbrock, [-1.2, 1.0], {"maxiter": 15}),
    *[(f"plate noise {i}", _duplicates_nll(*_pairs(i)), START, {"xatol": 1e-6}) for i in range(6)],
    # Vertices of equal value (numpy's argsort orders them) and a NaN (sorted last)
    ("a flat function: every vertex ties", lambda x: 1.0, [1.0, 2.0], {}),
    (
        "plateaus: vertices tie",
        lambda x: float(np.floor(4 * x[0]) + np.floor(4 * x[1])),
        [0.3, 0.7],
        {"maxiter": 60},
    ),
    (
        "a NaN beyond x = 1.02",
        lambda x: math.nan if x[0] > 1.02 else (x[0] - 1) ** 2 + x[1] ** 2,
        [1.0, 0.5],
        {},
    ),
]


@pytest.mark.parametrize(("name", "func", "x0", "options"), CASES, ids=[c[0] for c in CASES])
def test_the_simplex_stops_where_scipys_stops_bit_for_bit(name, func, x0, options):
    ours = nelder_mead(func, x0, **options)
    theirs = minimize(func, x0, method="Nelder-Mead", options=options)
    assert ours.x.tobytes() == theirs.x.tobytes(), name
    assert ours.fun == theirs.fun and ours.nfev == theirs.nfev and ours.nit == theirs.nit
    assert ours.status == theirs.status


def _noise_as_scipy_fitted_it(first, second, cutoff: float = 3.5) -> tuple[float, float, int]:
    """noise_from_duplicates as it was, on scipy.optimize.minimize: (sd, cv, pairs kept)."""
    y1, y2 = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    mean, diff = (y1 + y2) / 2, y1 - y2

    def fit(keep):
        nll = _duplicates_nll(mean[keep] + diff[keep] / 2, mean[keep] - diff[keep] / 2)
        best = minimize(nll, np.log([0.005, 0.03]), method="Nelder-Mead", options={"xatol": 1e-6})
        p = best.x
        return max(math.exp(min(p[0], 5.0)), SD_FLOOR), max(math.exp(min(p[1], 5.0)), CV_FLOOR)

    keep = np.ones(mean.size, dtype=bool)
    sd, cv = fit(keep)
    keep = np.abs(diff) / np.sqrt(2 * (sd**2 + (cv * mean) ** 2)) <= cutoff
    if not keep.all():
        sd, cv = fit(keep)
    return sd, cv, int(keep.sum())


@needs_shared
def test_the_noise_model_of_the_dnase_duplicates_is_the_one_scipys_minimize_gave():
    with (SHARED / "reference_data" / "dnase.csv").open(newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: (r["Run"], float(r["conc"])))
    runs = itertools.groupby(rows, key=lambda r: (r["Run"], r["conc"]))
    pairs = [[float(r["density"]) for r in group] for _, group in runs]
    first = [p[0] for p in pairs if len(p) == 2]  # R's DNase: each run's duplicates
    second = [p[1] for p in pairs if len(p) == 2]
    est = noise_from_duplicates(first, second)
    assert est.dropped == 2  # two gross errors: the refit without them is compared too
    assert (est.sd, est.cv, est.pairs) == _noise_as_scipy_fitted_it(first, second)
