"""The across-run precision (one-way random-effects ANOVA) against formulas written out here."""

import math
import random

import pytest

from il6assay.study.precision import variance_components


def _by_hand(groups, nominal):
    """EP05-A3's one-way ANOVA, written out independently of the module."""
    allv = [v for g in groups for v in g]
    n, k = len(allv), len(groups)
    grand = sum(allv) / n
    means = [sum(g) / len(g) for g in groups]
    msw = sum((v - m) ** 2 for g, m in zip(groups, means, strict=True) for v in g) / (n - k)
    msb = sum(len(g) * (m - grand) ** 2 for g, m in zip(groups, means, strict=True)) / (k - 1)
    n0 = (n - sum(len(g) ** 2 for g in groups) / n) / (k - 1)
    vb = max(0.0, (msb - msw) / n0)
    bias = 100 * (grand - nominal) / nominal
    cvt = 100 * math.sqrt(msw + vb) / grand
    return (
        grand,
        100 * math.sqrt(msw) / grand,
        100 * math.sqrt(vb) / grand,
        cvt,
        bias,
        abs(bias) + cvt,
    )


@pytest.mark.parametrize("sizes", [[3] * 6, [3, 2, 3, 3, 1, 3]])
def test_variance_components_match_the_anova_written_out(sizes):
    rng = random.Random(7)
    groups = []
    for size in sizes:
        run_effect = rng.gauss(0, 4)
        groups.append([100 + run_effect + rng.gauss(0, 6) for _ in range(size)])
    p = variance_components({f"run{i}": g for i, g in enumerate(groups)}, nominal=95.0)
    expected = _by_hand(groups, 95.0)
    got = (p.mean, p.cv_within_pct, p.cv_between_pct, p.cv_total_pct, p.bias_pct, p.total_error_pct)
    for g, e in zip(got, expected, strict=True):
        assert g == pytest.approx(e, rel=1e-12)
    assert (p.n_runs, p.n) == (len(sizes), sum(sizes))


def test_a_negative_between_run_estimate_is_zero_not_imaginary():
    # runs with identical means but spread within: MS_between < MS_within
    p = variance_components([[9.0, 11.0], [9.0, 11.0], [9.0, 11.0]])
    assert p.sd_between == 0.0
    assert p.sd_total == pytest.approx(p.sd_within)


def test_too_few_runs_is_said_not_guessed():
    one_run = variance_components([[10.0, 11.0, 12.0]], nominal=10.0)
    assert one_run.cv_between_pct is None and one_run.cv_total_pct is None
    assert "one run" in one_run.reason
    singles = variance_components([[10.0], [12.0]])
    assert singles.cv_within_pct is None and singles.cv_total_pct is not None
    assert "cannot be separated" in singles.reason
