"""Student's t in plain Python (il6assay.curve.student_t) against scipy.special and closed forms.

scipy's stdtr/stdtrit are the reference where they are themselves accurate
(away from the median: near it scipy's stdtrit loses digits, 4e-5 relative at
df 4, p = 0.500001); there, and for the tails, the exact formulas of 1 and 2
degrees of freedom are.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import stdtr, stdtrit

from il6assay.curve.student_t import student_t_quantile, student_t_sf

RNG_SEED = 27
DFS = [*range(1, 41), *np.random.default_rng(RNG_SEED).integers(41, 1001, 60).tolist(), 1000]


def _relative(ours: float, exact: float) -> float:
    return abs(ours - exact) / abs(exact)


def test_the_quantile_is_scipys_to_1e_12_over_df_1_to_1000_and_p_from_1e_6_to_1_minus_1e_6():
    rng = np.random.default_rng(RNG_SEED)
    fixed = [1e-6, 1e-4, 0.001, 0.01, 0.025, 0.05, 0.1, 0.25, 0.4, 0.6, 0.75, 0.9, 0.975, 0.999]
    worst = 0.0
    for df in DFS:
        ps = [*fixed, 1 - 1e-6, *rng.uniform(1e-6, 1 - 1e-6, 8)]
        for p in ps:
            if abs(p - 0.5) < 0.01:
                continue  # scipy's own stdtrit is not accurate to 1e-12 there (closed forms below)
            worst = max(worst, _relative(student_t_quantile(p, df), float(stdtrit(df, p))))
    assert worst < 1e-12


def test_the_upper_tail_is_scipys_to_1e_12_from_the_centre_to_1e_300():
    rng = np.random.default_rng(RNG_SEED)
    worst = 0.0
    for df in DFS:
        ts = np.concatenate(
            [[0.001, 0.5, 1.0, 2.0, 2.5, 30.0, 1e3, -0.5, -3.0], rng.uniform(0, 8, 8)]
        )
        ours = student_t_sf(ts, df)
        theirs = stdtr(df, -ts)
        keep = theirs > 1e-300
        worst = max(worst, float(np.max(np.abs(ours[keep] - theirs[keep]) / theirs[keep])))
    assert worst < 1e-12


@pytest.mark.parametrize("p", [1e-6, 0.01, 0.3, 0.4999, 0.499999, 0.5 + 1e-9, 0.500001, 0.8, 0.975])
def test_the_quantile_keeps_its_precision_near_the_median_and_in_the_tails(p):
    # Exact: df 1 is the Cauchy distribution, df 2 has t = (2p - 1) / sqrt(2 p (1 - p)).
    cauchy = -1 / math.tan(math.pi * p) if p < 0.25 else math.tan(math.pi * (p - 0.5))
    assert _relative(student_t_quantile(p, 1), cauchy) < 1e-13
    assert _relative(student_t_quantile(p, 2), (2 * p - 1) / math.sqrt(2 * p * (1 - p))) < 1e-13


@pytest.mark.parametrize("t", [1e-9, 1e-3, 0.3, 3.0, 300.0, 1e9])
def test_the_upper_tail_keeps_its_precision_near_the_centre_and_far_out(t):
    cauchy = 0.5 - math.atan(t) / math.pi if t < 1 else math.atan(1 / t) / math.pi
    two = 1 / ((2 + t * t) * (1 + t / math.sqrt(2 + t * t)))  # (1 - t / sqrt(2 + t^2)) / 2
    assert _relative(float(student_t_sf(t, 1)), cauchy) < 1e-13
    assert _relative(float(student_t_sf(t, 2)), two) < 1e-13


def test_the_quantile_inverts_the_tail():
    for df in (1, 3, 9, 12, 30, 250):
        for p in (0.001, 0.2, 0.7, 0.975):
            t = student_t_quantile(p, df)
            tail = float(student_t_sf(t, df))
            assert _relative(tail, 1 - p) < 1e-13


def test_edges_are_those_of_scipy():
    assert student_t_quantile(0.5, 7) == 0.0
    assert student_t_quantile(0.0, 7) == -math.inf and student_t_quantile(1.0, 7) == math.inf
    assert math.isnan(student_t_quantile(math.nan, 7)) and math.isnan(student_t_quantile(1.5, 7))
    sf = student_t_sf(np.array([0.0, np.inf, -np.inf, np.nan]), 7)
    assert sf[0] == 0.5 and sf[1] == 0.0 and sf[2] == 1.0 and math.isnan(sf[3])
    # fewer than 1 degree of freedom (a fit with as many parameters as points) counts as 1
    assert student_t_quantile(0.975, 0) == student_t_quantile(0.975, 1)
    assert student_t_sf(np.array([[1.0, 2.0]]), 5).shape == (1, 2)
