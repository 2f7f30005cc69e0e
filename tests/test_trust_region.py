"""The least-squares solvers without scipy.optimize give scipy.optimize's answers.

MINPACK's lmder, loaded from scipy's compiled extension by its file
(il6assay.curve.solvers.leastsq), gives scipy.optimize.leastsq's numbers bit for
bit; the ported trust-region reflective solver (il6assay.curve.trust_region)
gives least_squares(method="trf")'s to the solvers' tolerance, and the outlier
test built on it marks the same wells.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares
from scipy.optimize import leastsq as scipy_leastsq

from il6assay.curve.fit import fit_curve
from il6assay.curve.models import WEIGHT_POWER
from il6assay.curve.solvers import leastsq
from il6assay.curve.starts import FitProblem
from il6assay.curve.trust_region import least_squares_box

CONC = np.repeat([0, 4.6875, 9.375, 18.75, 37.5, 75, 150, 300], 2).astype(float)


def _plate(seed: int, g: float = 1.0) -> np.ndarray:
    """Standard ODs of a 5PL (a 4PL at g = 1) with 4 % proportional and 0.005 OD additive
    noise; every third plate with a splashed well."""
    rng = np.random.default_rng(seed)
    od = 3.0 + (0.05 - 3.0) / (1 + (CONC / 120.0) ** 1.2) ** g
    od = od * (1 + 0.04 * rng.standard_normal(od.size)) + 0.005 * rng.standard_normal(od.size)
    if seed % 3 == 0:
        od[rng.integers(od.size)] *= 1.5
    return od


def _robust_problem(seed: int, model: str):
    """The outlier test's robust refit of one plate: problem, start, box and Cauchy scale."""
    od = _plate(seed, 0.4 if model == "5pl" else 1.0)
    fit = fit_curve(CONC, od, model=model, weighting="1/y^2")
    if not fit.success:  # a 5PL whose asymmetry the noisy standards do not determine
        return None
    x, y = (CONC, od) if model != "loglog" else (CONC[CONC > 0], od[CONC > 0])
    problem = FitProblem(x, y, model == "5pl", model=model)
    problem.w = problem.weights_from(fit._theta, WEIGHT_POWER[fit.weighting])
    residuals = problem.fun_jac(fit._theta)[0]
    n, p = x.size, fit._theta.size
    scale = float(np.percentile(np.abs(residuals), 68.27)) * n / (n - p)
    low, high = problem.bounds()
    return problem, np.clip(fit._theta, low + 1e-9, high - 1e-9), (low, high), scale


@pytest.mark.parametrize("model", ["4pl", "5pl", "loglog"])
@pytest.mark.parametrize("loss", ["cauchy", "linear", "soft_l1"])
def test_the_ported_trust_region_solver_finds_scipys_solution(model, loss):
    compared = 0
    for seed in range(10):
        robust = _robust_problem(seed, model)
        if robust is None:
            continue
        compared += 1
        problem, start, (low, high), scale = robust
        tolerances = {"ftol": 1e-12, "xtol": 1e-12, "gtol": 1e-12, "max_nfev": 500}
        ours = least_squares_box(
            problem.fun_jac, start, low, high, loss=loss, f_scale=scale, **tolerances
        )
        theirs = least_squares(
            lambda th, pr=problem: pr.fun_jac(th)[0],
            start,
            jac=lambda th, pr=problem: pr.fun_jac(th)[1],
            bounds=(low, high),
            method="trf",
            loss=loss,
            f_scale=scale,
            **tolerances,
        )
        assert ours.status == theirs.status and abs(ours.nfev - theirs.nfev) <= 1, seed
        # SVDs differing in the last bits move the steps a little; along a 5PL's flat
        # valley ftol stops at points whose costs agree to 1e-12 but x only to ~1e-5.
        rtol = 1e-4 if model == "5pl" else 1e-6
        assert np.allclose(ours.x, theirs.x, rtol=rtol, atol=1e-12), (seed, ours.x, theirs.x)
        assert ours.cost == pytest.approx(theirs.cost, rel=1e-9)
    assert compared >= 3


def test_a_start_on_the_box_and_a_refused_start_are_handled_as_scipy_does():
    problem, start, (low, high), scale = _robust_problem(1, "4pl")
    on_bound = start.copy()
    on_bound[1] = low[1]  # the slope at its lower bound: moved strictly inside first
    ours = least_squares_box(problem.fun_jac, on_bound, low, high, loss="cauchy", f_scale=scale)
    theirs = least_squares(
        lambda th: problem.fun_jac(th)[0],
        on_bound,
        jac=lambda th: problem.fun_jac(th)[1],
        bounds=(low, high),
        loss="cauchy",
        f_scale=scale,
    )
    assert np.allclose(ours.x, theirs.x, rtol=1e-6)
    outside = start.copy()
    outside[1] = high[1] * 2
    with pytest.raises(ValueError):
        least_squares_box(problem.fun_jac, outside, low, high)


def test_minpacks_lmder_loaded_by_its_file_gives_scipys_leastsq_bit_for_bit():
    for seed in range(10):
        od = _plate(seed)
        fit = fit_curve(CONC, od, weighting="1/y^2")
        problem = FitProblem(CONC, od, False)
        problem.w = problem.weights_from(fit._theta, WEIGHT_POWER["1/y^2"])
        start = fit._theta * (1 + 0.01 * np.arange(1, 5))  # a little away from the optimum
        kw = {"ftol": 1e-15, "xtol": 1e-15, "gtol": 1e-15, "maxfev": 40, "factor": 100.0}

        def residuals(th, pr=problem):
            return pr.fun_jac(th)[0]

        def jacobian(th, pr=problem):
            return pr.fun_jac(th)[1]

        theirs = scipy_leastsq(residuals, start, Dfun=jacobian, **kw)
        ours = leastsq(
            residuals,
            start,
            jacobian,
            tol=1e-15,
            maxfev=40,
            factor=100.0,
        )
        assert ours[0].tobytes() == theirs[0].tobytes() and ours[1] == theirs[1], seed


def test_the_outlier_test_marks_the_wells_it_marked_with_scipys_solver(monkeypatch):
    import il6assay.curve.solvers as solvers
    from il6assay.curve.outliers import suspect_outliers

    plates = [(_plate(seed), model) for seed in range(12) for model in ("4pl", "loglog")]
    fits = [(od, fit_curve(CONC, od, model=model, weighting="1/y^2")) for od, model in plates]
    ours = [suspect_outliers(list(CONC), list(od), fit) for od, fit in fits]

    def scipys(fun_jac, x0, low, high, *, loss, f_scale, ftol, xtol, gtol, max_nfev):
        return least_squares(
            lambda th: fun_jac(th)[0], x0, jac=lambda th: fun_jac(th)[1], bounds=(low, high),
            loss=loss, f_scale=f_scale, ftol=ftol, xtol=xtol, gtol=gtol, max_nfev=max_nfev,
        )  # fmt: skip

    monkeypatch.setattr(solvers, "least_squares_box", scipys)
    assert [suspect_outliers(list(CONC), list(od), fit) for od, fit in fits] == ours
    assert any(ours)  # the splashed plates have their outlier found


def test_the_outlier_tests_percentile_is_numpys_to_the_bit():
    from il6assay.curve.outliers import percentile

    rng = np.random.default_rng(27)
    for i in range(3000):
        values = np.abs(rng.standard_normal(rng.integers(1, 40))) * 10 ** rng.uniform(-5, 3)
        q = 68.27 if i % 2 else rng.uniform(0, 100)
        assert percentile(values, q) == float(np.percentile(values, q)), (values, q)
    assert percentile(np.array([1.0, np.nan]), 50) != percentile(np.array([1.0, np.nan]), 50)


def test_minpack_is_imported_from_scipy_optimize_where_its_file_is_not_found(monkeypatch):
    import importlib.machinery

    import il6assay.curve.solvers as solvers

    loaded = solvers.minpack_lmder()
    monkeypatch.setattr(solvers, "_LMDER", [])
    monkeypatch.setattr(importlib.machinery, "EXTENSION_SUFFIXES", [".not-there.so"])
    fallback = solvers.minpack_lmder()  # scipy.optimize's own import of the same extension
    assert fallback.__module__ == loaded.__module__ == "scipy.optimize._minpack"
    od = _plate(1)
    problem = FitProblem(CONC, od, False)
    theta = fit_curve(CONC, od)._theta * 1.01
    answers = [
        lmder(lambda th: problem.fun_jac(th)[0], lambda th: problem.fun_jac(th)[1], theta,
              (), 0, 0, 1e-15, 1e-15, 1e-15, 40, 100.0, None)[0]
        for lmder in (loaded, fallback)
    ]  # fmt: skip
    assert answers[0].tobytes() == answers[1].tobytes()


def test_box_lms_step_is_np_linalg_solves_to_the_bit_and_refuses_what_it_refuses(monkeypatch):
    import il6assay.curve.solvers as solvers

    rng = np.random.default_rng(7)
    with np.errstate(all="ignore"):  # as box_lm calls it
        for n in (4, 5) * 200:
            a = rng.normal(size=(n, n)) * 10.0 ** rng.uniform(-8, 8, size=n)
            b = rng.normal(size=n)
            assert solvers._solve(a, b).tobytes() == np.linalg.solve(a, b).tobytes()
        singular = np.ones((4, 4))
        with pytest.raises(np.linalg.LinAlgError):
            solvers._solve(singular, np.ones(4))
        # and without numpy's compiled solver where it was, np.linalg.solve itself
        monkeypatch.setattr(solvers, "_GESV", None)
        with pytest.raises(np.linalg.LinAlgError):
            solvers._solve(singular, np.ones(4))


def test_the_per_parameter_helpers_give_scipys_own_to_the_bit():
    """In bounds, strictly feasible (both steps) and the Coleman-Li scaling, computed in
    Python floats, against scipy's numpy originals on random boxes: points on, near and
    off the bounds, infinite bounds, zero gradients."""
    from scipy.optimize._lsq import common

    import il6assay.curve.trust_region as trf

    rng = np.random.default_rng(27)
    for _ in range(3000):
        n = int(rng.integers(1, 6))
        lb = rng.normal(0, 3, n)
        ub = lb + rng.exponential(2, n)
        lb[rng.random(n) < 0.2], ub[rng.random(n) < 0.2] = -np.inf, np.inf
        x = rng.normal(0, 3, n)
        pick = rng.random(n)
        x = np.where(pick < 0.15, lb, np.where(pick > 0.85, ub, x))
        x = np.where(np.isfinite(x), x, 0.0)
        near = (rng.random(n) < 0.2) & np.isfinite(lb)
        shift = rng.choice([0.0, 1e-12, 5e-11, 1e-10, -1e-12], n)
        x[near] = lb[near] + shift[near] * np.maximum(1, np.abs(lb[near]))
        g = rng.normal(0, 1, n)
        g[rng.random(n) < 0.1] = 0.0
        assert trf._in_bounds(x, lb, ub) == bool(common.in_bounds(x, lb, ub))
        for rstep in (1e-10, 0):
            ours = trf._strictly_feasible(x, lb, ub, rstep)
            assert ours.tobytes() == common.make_strictly_feasible(x, lb, ub, rstep).tobytes()
        v, dv = trf._cl_scaling_vector(x, g, lb, ub)
        v_scipy, dv_scipy = common.CL_scaling_vector(x, g, lb, ub)
        assert v.tobytes() == v_scipy.tobytes() and dv.tobytes() == dv_scipy.tobytes()
        assert trf._norm(g).tobytes() == np.linalg.norm(g).tobytes()
