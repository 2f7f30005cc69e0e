"""The fitting engine against problems with known answers, and against hard data.

1. NIST StRD Rat42 and Rat43 (logistic and asymmetric logistic, "higher
   difficulty"): certified values, standard deviations, RSS and both start
   points are read from the .dat files in ../shared/reference_data, and each
   problem is fitted as a plain nonlinear least-squares problem through
   ``il6assay.curve.fit.solve`` (the engine every standard curve goes through) with
   the residual and analytic Jacobian written here. Agreement is counted in
   matching significant digits, as lmfit's tests/test_NIST_Strd.py does.
2. The dr4pl package's hard cases (sets on which R's ``nls`` fails; set 2 is
   hook-shaped): ``fit_curve`` must never raise, and must either succeed with
   a residual sum of squares no worse (1e-4 relative) than a brute-force
   multistart's written here, or end with ``success=False`` and a reason.
"""

from __future__ import annotations

import csv
import functools
import itertools
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import least_squares

from il6assay.curve.fit import fit_curve, solve
from tests.conftest import SHARED, needs_shared

REFERENCE = SHARED / "reference_data"
HARD_CASES = REFERENCE / "hard_cases"
MIN_DIGITS = 6.0  # significant digits that must match the certified values
# fit_curve's RSS may exceed the multistart's by this share. 1e-6 before issue 13 bounded
# the effort of every fit: on set 4 (a drop defined by its top dose alone, a ridge that
# MINPACK needs ~765 evaluations to descend from the engine's answer) the bounded engine
# stops 1.2e-5 above the multistart; the generated curve families' bar is 1e-3.
RSS_RTOL = 1e-4

pytestmark = needs_shared


# ---------------------------------------------------------------- NIST StRD


def _number(text: str) -> float:
    return float(text.replace("E", "e"))


@functools.cache
def read_nist(name: str) -> dict:
    """Starts, certified values and SDs, RSS, residual SD, df and data of a StRD file."""
    text = (REFERENCE / f"nist_{name}.dat").read_text()
    start1, start2, certified, cert_sd = [], [], [], []
    for m in re.finditer(r"^\s*b(\d+)\s*=\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", text, re.M):
        assert int(m.group(1)) == len(start1) + 1, f"{name}: parameters out of order"
        start1.append(_number(m.group(2)))
        start2.append(_number(m.group(3)))
        certified.append(_number(m.group(4)))
        cert_sd.append(_number(m.group(5)))

    def field(label: str) -> str:
        found = re.search(rf"^{label}:\s+(\S+)\s*$", text, re.M)
        assert found, f"{name}: no '{label}' line"
        return found.group(1)

    data_at = re.search(r"^Data:\s+y\s+x\s*$", text, re.M)
    assert data_at, f"{name}: no data header"
    rows = [line.split() for line in text[data_at.end() :].splitlines() if line.strip()]
    y, x = (np.array([_number(v) for v in col]) for col in zip(*rows, strict=True))
    info = {
        "starts": (np.array(start1), np.array(start2)),
        "certified": np.array(certified),
        "cert_sd": np.array(cert_sd),
        "rss": _number(field("Residual Sum of Squares")),
        "residual_sd": _number(field("Residual Standard Deviation")),
        "df": int(field("Degrees of Freedom")),
        "n": int(field("Number of Observations")),
        "x": x,
        "y": y,
    }
    assert x.size == info["n"], f"{name}: {x.size} data rows, header says {info['n']}"
    return info


def rat42(b: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y = b1 / (1 + exp(b2 - b3 x)) and its Jacobian (n x 3)."""
    b1, b2, b3 = b
    e = np.exp(b2 - b3 * x)
    q = 1.0 + e
    f = b1 / q
    jac = np.column_stack([1.0 / q, -b1 * e / q**2, b1 * x * e / q**2])
    return f, jac


def rat43(b: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y = b1 / (1 + exp(b2 - b3 x)) ** (1 / b4) and its Jacobian (n x 4)."""
    b1, b2, b3, b4 = b
    e = np.exp(b2 - b3 * x)
    q = 1.0 + e
    s = q ** (-1.0 / b4)
    f = b1 * s
    ds_db2 = -s * e / (b4 * q)  # d s / d b2
    jac = np.column_stack([s, b1 * ds_db2, -b1 * ds_db2 * x, b1 * s * np.log(q) / b4**2])
    return f, jac


NIST_MODELS = {"Rat42": rat42, "Rat43": rat43}


def nist_fun_jac(name: str):
    info = read_nist(name)
    model, x, y = NIST_MODELS[name], info["x"], info["y"]

    def fun_jac(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, jac = model(b, x)
        return y - f, -jac

    return fun_jac


def matching_digits(value: float, certified: float) -> float:
    """Significant digits ``value`` shares with ``certified`` (lmfit's NIST count)."""
    if value == certified:
        return 15.0
    return -math.log10(abs(value - certified) / abs(certified))


@pytest.mark.parametrize("name", sorted(NIST_MODELS))
def test_nist_files_parse_into_certified_problems(name):
    info = read_nist(name)
    p = len(info["certified"])
    assert p == {"Rat42": 3, "Rat43": 4}[name]
    assert all(s.shape == (p,) for s in info["starts"])
    # The header's own consistency: residual SD = sqrt(RSS / (n - p)).
    df = info["n"] - p
    assert math.sqrt(info["rss"] / df) == pytest.approx(info["residual_sd"], rel=1e-9)


@pytest.mark.parametrize(
    "name",
    [
        "Rat42",
        pytest.param(
            "Rat43",
            marks=pytest.mark.xfail(
                strict=True,
                reason=(
                    "DATA: ../shared/reference_data/nist_Rat43.dat says 'Degrees of Freedom: "
                    "9'; 15 observations - 4 parameters = 11 (NIST's published value), and "
                    "its residual SD 28.262414662 = sqrt(8786.404908 / 11), not / 9 (31.25)"
                ),
            ),
        ),
    ],
)
def test_nist_header_degrees_of_freedom_are_n_minus_p(name):
    info = read_nist(name)
    assert info["df"] == info["n"] - len(info["certified"])


@pytest.mark.parametrize("start", [1, 2])
@pytest.mark.parametrize("name", sorted(NIST_MODELS))
def test_analytic_nist_jacobians_match_finite_differences(name, start):
    info = read_nist(name)
    theta = info["starts"][start - 1]
    _, jac = NIST_MODELS[name](theta, info["x"])
    for k in range(theta.size):
        h = 1e-6 * max(abs(theta[k]), 1e-3)
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        numeric = (NIST_MODELS[name](up, info["x"])[0] - NIST_MODELS[name](down, info["x"])[0]) / (
            2 * h
        )
        np.testing.assert_allclose(jac[:, k], numeric, rtol=1e-6, atol=1e-9 * np.abs(jac).max())


@pytest.mark.parametrize("start", [1, 2])
@pytest.mark.parametrize("name", sorted(NIST_MODELS))
def test_engine_reaches_nist_certified_values_from_both_starts(name, start):
    info = read_nist(name)
    fun_jac = nist_fun_jac(name)
    sol = solve(fun_jac, info["starts"][start - 1].astype(float))
    assert sol is not None, f"{name}, start {start}: the engine returned no solution"
    digits = [matching_digits(v, c) for v, c in zip(sol.theta, info["certified"], strict=True)]
    rss = 2.0 * sol.cost
    rss_digits = matching_digits(rss, info["rss"])
    assert min(digits) >= MIN_DIGITS, f"{name} start {start}: digits {digits}, theta {sol.theta}"
    assert rss_digits >= MIN_DIGITS, f"{name} start {start}: RSS {rss!r} vs {info['rss']!r}"
    # Standard deviations from the solution's Jacobian: sqrt(diag((J'J)^-1) RSS/df).
    _, jac = fun_jac(sol.theta)
    df = info["n"] - len(info["certified"])  # not the header's df: see the Rat43 test
    sd = np.sqrt(np.diag(np.linalg.inv(jac.T @ jac)) * rss / df)
    sd_digits = [matching_digits(v, c) for v, c in zip(sd, info["cert_sd"], strict=True)]
    assert min(sd_digits) >= 4.0, f"{name} start {start}: SD digits {sd_digits}"


# ---------------------------------------------------------------- hard cases


@functools.cache
def read_hard_case(k: int) -> tuple[np.ndarray, np.ndarray]:
    with Path(HARD_CASES / f"drc_error_{k}.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    dose = np.array([float(r["Dose"]) for r in rows])
    response = np.array([float(r["Response"]) for r in rows])
    return dose, response


def logistic_model(x: np.ndarray) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """4PL/5PL in (a, b, ln c, d[, ln g]) at the doses ``x``: a function of the parameters
    giving the curve and its Jacobian (n, 4 or 5); written independently of il6assay.curve.fit.

    y = d + (a - d) u, u = (1 + e^t)^-g, t = b (ln x - ln c). x = 0 gives a when b > 0 and
    d when b < 0 (the limits of (x / c) ** b), where no parameter but a and d moves y.
    """
    positive = x > 0
    with np.errstate(divide="ignore"):
        ln_x = np.log(x)  # x = 0: -inf (replaced below)
    ln_x_or_0 = np.where(positive, ln_x, 0.0)

    def at(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b, lnc, d = theta[:4].tolist()
        five = theta.size == 5
        g = math.exp(min(max(float(theta[4]), -700.0), 700.0)) if five else 1.0
        with np.errstate(invalid="ignore", over="ignore", under="ignore"):
            t = np.where(positive, b * (ln_x - lnc), -np.inf if b > 0 else np.inf)
            softplus = np.logaddexp(0.0, t)  # ln(1 + e^t)
            u = np.exp(-g * softplus)
            dy_dt = np.where(positive, (a - d) * u * -g / (1.0 + np.exp(-t)), 0.0)
            columns = [u, dy_dt * (ln_x_or_0 - lnc), dy_dt * -b, 1.0 - u]
            if five:  # dy/d(ln g); u ln(1 + e^t) -> 0 where t = +inf (x = 0, b < 0)
                du = np.where(np.isfinite(softplus), u * -g * softplus, 0.0)
                columns.append((a - d) * du)
            return d + (a - d) * u, np.stack(columns, axis=1)

    return at


def brute_force(
    dose: np.ndarray,
    response: np.ndarray,
    model: str,
    *,
    n_asymptote: int = 3,
    n_slope: int = 3,
    n_inflection: int = 5,
    asymmetries: tuple[float, ...] = (0.5, 2.0),
    max_nfev: int = 300,
) -> tuple[float, np.ndarray]:
    """Lowest RSS over a grid of starts, each refined by MINPACK (analytic Jacobian).

    Starts: a, d on a grid over the response range (both orders, so rising
    and falling curves), b in [0.2, 10], ln c over the dose range widened by
    3 decades each side, and for the 5PL g on a grid. Fits are kept when c is
    a positive finite number (and, for the 5PL, b > 0: fit_curve's 5PL keeps
    a at zero dose, and a 5PL with b < 0 is another curve family).

    Each start gets the iterations ``max_nfev`` evaluations bought with a numeric
    Jacobian (MINPACK counts its n + 1 a step), at a fifth of their CPU. Measured on
    the four sets against the numeric-Jacobian multistart: the same minimum (within
    1e-13 relative) or a lower one (set 4's: 3e-11 lower), never a higher beyond 1e-13.
    """
    five = model == "5pl"
    pos = dose[dose > 0]
    widen = 3 * math.log(10)
    lnc_grid = np.linspace(math.log(pos.min()) - widen, math.log(pos.max()) + widen, n_inflection)
    levels = np.linspace(response.min(), response.max(), n_asymptote)
    best_rss, best_theta = math.inf, np.full(5 if five else 4, np.nan)
    steps = max_nfev // ((5 if five else 4) + 1)
    model_at = logistic_model(dose)
    last: list[tuple[np.ndarray, np.ndarray]] = []  # the Jacobian at the last residual's point

    def resid(theta: np.ndarray) -> np.ndarray:
        y, jac = model_at(theta)
        last[:] = [(theta.copy(), jac)]
        return y - response

    def jacobian(theta: np.ndarray) -> np.ndarray:
        if last and np.array_equal(last[0][0], theta):
            return last[0][1]
        return model_at(theta)[1]

    for (a, d), b, lnc, g in itertools.product(
        itertools.permutations(levels, 2),
        np.geomspace(0.2, 10.0, n_slope),
        lnc_grid,
        asymmetries if five else (1.0,),
    ):
        theta0 = np.array([a, b, lnc, d, *([math.log(g)] if five else [])])
        try:
            with np.errstate(all="ignore"):
                res = least_squares(resid, theta0, jac=jacobian, method="lm", max_nfev=steps)
        except (ValueError, FloatingPointError):
            continue
        theta = res.x
        if not np.all(np.isfinite(theta)) or not 0 < math.exp(min(theta[2], 700)) < math.inf:
            continue
        if five and theta[1] <= 0:
            continue
        rss = float(res.fun @ res.fun)
        if math.isfinite(rss) and rss < best_rss:
            best_rss, best_theta = rss, theta
    return best_rss, best_theta


@functools.cache
def multistart_rss(k: int, model: str) -> float:
    return brute_force(*read_hard_case(k), model)[0]


@functools.cache
def hard_fit(k: int, model: str):
    dose, response = read_hard_case(k)
    return fit_curve(dose, response, model=model)


@pytest.mark.parametrize(
    ("k", "model"),
    [
        (1, "4pl"),
        (1, "5pl"),
        (2, "4pl"),
        (2, "5pl"),
        (3, "4pl"),
        (3, "5pl"),  # was a bug (success with g at its bound): now FIT_FAILED with the reason
        (4, "4pl"),
        (4, "5pl"),
    ],
)
def test_hard_case_fits_as_well_as_multistart_or_fails_with_reason(k, model):
    fit = hard_fit(k, model)  # must not raise
    if not fit.success:
        assert fit.message.strip(), f"set {k} {model}: success=False without a message"
        return
    assert all(math.isfinite(v) for v in fit.params.values()), fit.params
    best = multistart_rss(k, model)
    assert fit.rss <= best * (1 + RSS_RTOL), (
        f"set {k} {model}: fit_curve RSS {fit.rss!r} > multistart {best!r} "
        f"({fit.rss / best - 1:.2e} relative; method {fit.method}, message {fit.message})"
    )


@pytest.mark.parametrize("weighting", ["1/y", "1/y^2", "1/(k^2+y^2)"])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("model", ["4pl", "5pl"])
def test_weighted_hard_case_fits_never_raise(k, weighting, model):
    dose, response = read_hard_case(k)
    noise_k = 0.257 if weighting == "1/(k^2+y^2)" else None  # DNase's k (il6assay.curve.noise)
    fit = fit_curve(dose, response, model=model, weighting=weighting, k=noise_k)
    assert fit.success or fit.message.strip()


def test_hook_shaped_set2_is_flagged_and_not_reported_as_a_fitted_4pl():
    fit = hard_fit(2, "4pl")
    assert "HOOK_SUSPECTED" in fit.warnings, fit.warnings
    # The standards rise and then fall back: no monotone curve fits them.
    assert not fit.success and fit.message


def test_hook_shaped_set2_is_flagged_by_the_5pl_too():
    assert "HOOK_SUSPECTED" in hard_fit(2, "5pl").warnings


@pytest.mark.parametrize("model", ["4pl", "5pl"])
@pytest.mark.parametrize("k", [1, 3, 4])
def test_monotone_hard_cases_are_not_flagged_as_hooks(k, model):
    assert "HOOK_SUSPECTED" not in hard_fit(k, model).warnings
