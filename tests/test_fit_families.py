"""Every shape of standard curve is fitted to its best least-squares solution.

Curve families where start values fail (issue 13): no upper plateau, no lower
plateau, nearly proportional, steep (b > 2.5), shallow (b < 0.7), asymmetric
5PL truths fitted by a 4PL, high background. Each generated plate (realistic
noise: 2-5 % CV + 0.005 OD) is fitted by ``fit_curve`` and, independently, by
a brute-force reference written here: hundreds of random starts, each refined
by Levenberg-Marquardt without bounds (all starts at once in numpy), keeping
the lowest residual sum of squares found. ``fit_curve``'s RSS must be within
0.1 % of it on every case.

Hypothesis draws the family and a seed; the default run is small and
derandomized (a few seconds). A longer, randomised hunt:
``IL6_FIT_EXAMPLES=200 pytest tests/test_fit_families.py``.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from il6assay.curve.fit import fit_curve, logistic

EXAMPLES = int(os.environ.get("IL6_FIT_EXAMPLES", "8"))
RANDOM_STARTS = 200
LM_STEPS = 400  # each start's damped steps (MINPACK's maxfev was 400)
RSS_RTOL = 1e-3  # the bar: within 0.1 % of the best found

# A kit's 7 standard levels (3x dilutions) and a zero standard, in duplicate.
LEVELS = np.array([2000.0, 666.67, 222.22, 74.074, 24.691, 8.2305, 2.7435])


def family_truth(family: str, rng: np.random.Generator) -> tuple[dict[str, float], bool]:
    """The true curve of one generated plate, and whether it has a zero standard."""
    top, low = LEVELS.max(), LEVELS.min()
    a = rng.uniform(0.03, 0.08)
    d = rng.uniform(2.0, 3.5)
    b = rng.uniform(0.9, 1.4)
    c = math.exp(rng.uniform(math.log(100.0), math.log(600.0)))
    g = 1.0
    zero = True
    if family == "no upper plateau":
        c = top * math.exp(rng.uniform(1.0, 3.5))
        d = a + rng.uniform(2.0, 3.0) * (1 + (c / top) ** b)  # the top standard reads 2-3 OD
    elif family == "no lower plateau":
        # Past its midpoint at the lowest standard and still rising across the range
        # (steeper or further below, every standard sits on the plateau: a flat plate).
        c = low * math.exp(-rng.uniform(0.3, 1.5))
        b = rng.uniform(0.4, 0.9)
        zero = False
    elif family == "proportional":
        b = rng.uniform(0.95, 1.05)
        c = top * math.exp(rng.uniform(5.0, 9.0))
        d = a + 3.0 * (c / top) ** b  # linear in dose, 3 OD at the top standard
    elif family == "steep":
        b = rng.uniform(2.5, 5.0)
        c = math.exp(rng.uniform(math.log(20.0), math.log(500.0)))
    elif family == "shallow":
        b = rng.uniform(0.35, 0.7)
    elif family == "asymmetric 5PL":
        g = float(rng.choice([rng.uniform(0.25, 0.5), rng.uniform(2.0, 4.0)]))
    elif family == "high background":
        a = rng.uniform(0.6, 1.2)
        d = a + rng.uniform(0.8, 1.5)
    truth = {"a": a, "b": b, "c": c, "d": d, "g": g}
    return truth, zero


FAMILIES = (
    "no upper plateau",
    "no lower plateau",
    "proportional",
    "steep",
    "shallow",
    "asymmetric 5PL",
    "high background",
)


def generated_plate(family: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth, zero = family_truth(family, rng)
    levels = np.append(LEVELS, 0.0) if zero else LEVELS
    x = np.repeat(levels, 2)
    f = logistic(x, **truth)
    cv = rng.uniform(0.02, 0.05)
    y = f + rng.normal(0.0, 1.0, f.shape) * np.sqrt(0.005**2 + (cv * f) ** 2)
    return x, y


def reference_4pl(theta: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 4PL in (a, b, ln c, d) and its Jacobian, written independently of il6assay.

    ``theta`` holds one start per row (S, 4); the curves are (S, n), the Jacobians
    (S, n, 4). y = d + (a - d) / (1 + e^t), t = b (ln x - ln c); b of either sign
    (x = 0: t = -inf b).
    """
    a, b, lnc, d = (theta[:, k : k + 1] for k in range(4))
    pos = x > 0
    lx = np.log(np.where(pos, x, 1.0))
    with np.errstate(all="ignore"):
        t = np.where(pos, b * (lx - lnc), -np.inf * np.sign(b))
        s = 1.0 / (1.0 + np.exp(np.clip(t, -700, 700)))  # 1 / (1 + e^t)
        slope = (a - d) * -s * (1.0 - s)  # df/dt
        f = d + (a - d) * s
        jac = np.stack([s, slope * np.where(pos, lx - lnc, 0.0), slope * -b, 1.0 - s], axis=-1)
    return f, jac


def random_starts(x: np.ndarray, y: np.ndarray, starts: int, seed: int) -> np.ndarray:
    """``starts`` random starts (S, 4) over a wide box around the data."""
    rng = np.random.default_rng(seed)
    lo, hi = float(y.min()), float(y.max())
    span = hi - lo
    lnx = np.log(x[x > 0])
    theta = np.empty((starts, 4))
    for row in theta:
        row[:] = (
            rng.uniform(lo - 0.5 * span, lo + 0.3 * span),
            math.exp(rng.uniform(math.log(0.2), math.log(8.0))),
            rng.uniform(lnx.min() - 4.0, lnx.max() + 8.0),
            rng.uniform(hi - 0.3 * span, hi + 3.0 * span),
        )
    return theta


def brute_force_rss(x: np.ndarray, y: np.ndarray, starts: int, seed: int = 0) -> float:
    """Lowest RSS over ``starts`` random starts, all refined at once by unbounded
    Levenberg-Marquardt (LM_STEPS damped Gauss-Newton steps each, numpy over the starts).

    One start at a time through MINPACK took ~1.2 s a plate; on the families here this
    finds the same minimum or a lower one (never a higher), in a tenth of the time.
    A start whose step was refused at the largest damping leaves the batch: each later
    step would solve the same system and be refused again (the same answer to the last
    bit on 42 plates of the seven families, at half the CPU). When a singular system sends
    the batch to least squares, every start takes that step, as when all were stepped.
    """
    theta = random_starts(x, y, starts, seed)
    f, jac = reference_4pl(theta, x)
    resid = f - y
    rss = np.einsum("sn,sn->s", resid, resid)
    damping = np.full(starts, 1e-3)
    moving = np.ones(starts, dtype=bool)
    with np.errstate(all="ignore"):
        for _ in range(LM_STEPS):
            rows = np.flatnonzero(moving)
            if rows.size == 0:
                break
            try:
                step = _lm_steps(jac[rows], resid[rows], damping[rows], pinv=False)
            except np.linalg.LinAlgError:  # a singular system: every start's least-squares step
                rows = np.arange(starts)
                step = _lm_steps(jac, resid, damping, pinv=True)
            f, new_jac = reference_4pl(theta[rows] + step, x)
            new_resid = f - y
            new_rss = np.einsum("sn,sn->s", new_resid, new_resid)
            better = np.isfinite(new_rss) & (new_rss < rss[rows])
            theta[rows] = np.where(better[:, None], theta[rows] + step, theta[rows])
            resid[rows] = np.where(better[:, None], new_resid, resid[rows])
            jac[rows] = np.where(better[:, None, None], new_jac, jac[rows])
            rss[rows] = np.where(better, new_rss, rss[rows])
            damping[rows] = np.clip(np.where(better, damping[rows] / 3.0, damping[rows] * 2.0),
                                    1e-12, 1e12)  # fmt: skip
            moving[rows] = better | (damping[rows] < 1e12)
    found = np.isfinite(theta).all(axis=1) & np.isfinite(rss)
    return float(rss[found].min()) if found.any() else math.inf


def _lm_steps(jac: np.ndarray, resid: np.ndarray, damping: np.ndarray, pinv: bool) -> np.ndarray:
    """Each start's damped Gauss-Newton step (Marquardt's diagonal); zero where not finite."""
    jtj = np.einsum("sni,snj->sij", jac, jac)
    grad = np.einsum("sni,sn->si", jac, resid)
    scale = np.maximum(np.einsum("sii->si", jtj), 1e-12)
    system = jtj + (damping[:, None] * scale)[:, :, None] * np.eye(4)
    ok = np.isfinite(system).all(axis=(1, 2)) & np.isfinite(grad).all(axis=1)
    step = np.zeros((jac.shape[0], 4))
    if pinv:
        step[ok] = -(np.linalg.pinv(system[ok]) @ grad[ok][..., None])[..., 0]
    else:
        step[ok] = -np.linalg.solve(system[ok], grad[ok][..., None])[..., 0]
    return step


@pytest.mark.slow  # a sweep: each fit against a brute-force search
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="IL6_FIT_EXAMPLES" not in os.environ,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # a seed is its own minimal case
    suppress_health_check=[HealthCheck.too_slow],
)
@given(family=st.sampled_from(FAMILIES), seed=st.integers(0, 2**31 - 1))
def test_every_curve_family_fits_within_a_thousandth_of_the_brute_force_best(family, seed):
    x, y = generated_plate(family, seed)
    fit = fit_curve(x, y)
    assert fit.success, (family, seed, fit.message)
    assert all(math.isfinite(v) for v in fit.params.values()), fit.params
    best = brute_force_rss(x, y, RANDOM_STARTS, seed=seed % 1000)
    assert fit.rss <= best * (1 + RSS_RTOL), (
        f"{family} (seed {seed}): fit_curve RSS {fit.rss:.6g} vs brute force {best:.6g} "
        f"({fit.rss / best - 1:+.2e}); {fit.message}"
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_is_fitted_once_by_every_weighting(family):
    """The weighted fits (the default among them) succeed on every family too."""
    x, y = generated_plate(family, 1)
    for weighting, k in (("1/(k^2+y^2)", 0.25), ("1/y", None), ("1/y^2", None)):
        fit = fit_curve(x, y, weighting=weighting, k=k)
        assert fit.success, (family, weighting, fit.message)


def test_a_curve_without_upper_plateau_says_so_and_keeps_d_finite():
    x, y = generated_plate("proportional", 0)
    fit = fit_curve(x, y)
    assert fit.success, fit.message
    assert fit.open_ends == ("upper",)
    assert fit.warnings["INCOMPLETE_CURVE"].startswith("no upper plateau")
    assert math.isfinite(fit.params["d"]) and math.isfinite(fit.params["c"])
    assert math.isfinite(fit.stderr["d"]) and fit.stderr["d"] > 0


def test_a_curve_without_lower_plateau_names_the_lower_end():
    x, y = generated_plate("no lower plateau", 2)
    fit = fit_curve(x, y)
    assert fit.success, fit.message
    assert "lower" in fit.open_ends
    assert "no lower plateau" in fit.warnings["INCOMPLETE_CURVE"]


def test_ods_within_their_noise_are_flat_and_a_real_rise_is_not():
    rng = np.random.default_rng(4)
    x = np.repeat(LEVELS, 3)
    flat = fit_curve(x, 0.3 + rng.normal(0, 0.004, x.size))
    assert not flat.success and "no significant slope" in flat.message
    rising = fit_curve(x, 0.0017 * x * (1 + rng.normal(0, 0.015, x.size)) + 0.001)
    assert rising.success, rising.message


def test_intervals_on_curves_without_upper_plateau_cover_the_truth_inside_the_standards():
    """Delta-method 95 % CIs on curves whose top asymptote is extrapolated, between the
    second-lowest and second-highest standard: measured 92.8 % on these 60 plates.

    (95.8 % in the top decade, next to the missing plateau; 75 % in the bottom one, where
    these curves' ODs are within the noise of the blank: docs/curve.md.)
    """
    rng = np.random.default_rng(8)
    covered = total = 0
    inner = LEVELS[1], LEVELS[-2]
    for plate in range(60):
        truth, _ = family_truth("no upper plateau", np.random.default_rng(1000 + plate))
        x = np.repeat(np.append(LEVELS, 0.0), 2)
        f = logistic(x, **truth)
        noise = np.sqrt(0.005**2 + (0.03 * f) ** 2)
        fit = fit_curve(x, f + rng.normal(0, 1, f.shape) * noise, weighting="1/(k^2+y^2)", k=0.17)
        assert fit.success and "upper" in fit.open_ends, fit.message
        conc = np.exp(rng.uniform(math.log(inner[1]), math.log(inner[0]), 20))
        f_s = logistic(np.repeat(conc, 2), **truth)
        noise_s = np.sqrt(0.005**2 + (0.03 * f_s) ** 2)
        od = (f_s + rng.normal(0, 1, f_s.shape) * noise_s).reshape(20, 2)
        low, high = fit.inverse_ci(od.mean(axis=1), replicates=2)
        covered += int(np.sum((low <= conc) & (conc <= high)))
        total += conc.size
    assert 0.90 <= covered / total <= 0.98, covered / total
