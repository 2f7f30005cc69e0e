"""Trust-region reflective least squares inside a box: scipy's ``least_squares(method="trf")``.

The outlier test's robust refit (Cauchy loss, inside the box of admissible
curves) runs on it. scipy's implementation is Python over numpy and LAPACK's
SVD; importing ``scipy.optimize`` for it cost a plate more CPU than its
fitting (docs/speed.md). This is the same algorithm (Branch, Coleman & Li's
reflective steps, Moré's exact trust-region solution through the SVD of the
scaled Jacobian, scipy's radius updates and stopping rules, ``x_scale=1``,
the robust losses' rescaling), for bounds with a dense Jacobian. numpy's SVD
may differ from scipy's in the last bits, so the two agree to the solvers'
tolerance, not bit for bit: tests/test_trust_region.py holds them to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EPS = np.finfo(float).eps


@dataclass(frozen=True)
class TrustRegionResult:
    """The solution, its cost (half the robust sum), evaluations and scipy's status code."""

    x: np.ndarray
    cost: float
    nfev: int
    status: int  # 0 evaluations exhausted; 1 gtol, 2 ftol, 3 xtol, 4 ftol and xtol


def _loss(name: str, f_scale: float) -> Callable[..., np.ndarray | float] | None:
    """scipy's robust loss rho(z) with its first two derivatives, scaled by ``f_scale``."""
    if name == "linear":
        return None

    def rho_of(z: np.ndarray, cost_only: bool) -> np.ndarray:
        rho = np.empty((3, z.size))
        if name == "soft_l1":
            t = 1 + z
            rho[0] = 2 * (t**0.5 - 1)
            rho[1] = t**-0.5
            rho[2] = -0.5 * t**-1.5
        elif name == "cauchy":
            rho[0] = np.log1p(z)
            t = 1 + z
            rho[1] = 1 / t
            rho[2] = -1 / t**2
        elif name == "arctan":
            rho[0] = np.arctan(z)
            t = 1 + z**2
            rho[1] = 1 / t
            rho[2] = -2 * z / t**2
        else:
            raise ValueError(f"unknown loss {name!r}")
        return rho

    def loss(f: np.ndarray, cost_only: bool = False) -> np.ndarray | float:
        z = (f / f_scale) ** 2
        rho = rho_of(z, cost_only)
        if cost_only:
            return 0.5 * f_scale**2 * np.add.reduce(rho[0])
        rho[0] *= f_scale**2
        rho[2] /= f_scale**2
        return rho

    return loss


def least_squares_box(
    fun_jac: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    x0: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    *,
    loss: str = "linear",
    f_scale: float = 1.0,
    ftol: float = 1e-8,
    xtol: float = 1e-8,
    gtol: float = 1e-8,
    max_nfev: int | None = None,
) -> TrustRegionResult:
    """Minimise the (robust) sum of squares of ``fun_jac``'s residuals with ``lb <= x <= ub``.

    ``fun_jac(x)`` returns the residuals and their Jacobian. Raises ValueError,
    as scipy does, when the start is outside the box or its residuals are not finite.
    """
    x0 = np.atleast_1d(x0).astype(float)
    lb, ub = (np.asarray(b, dtype=float) for b in (lb, ub))
    if np.any(lb >= ub):
        raise ValueError("each lower bound must be below its upper bound")
    if not _in_bounds(x0, lb, ub):
        raise ValueError("the start is outside the bounds")
    x0 = _strictly_feasible(x0, lb, ub)
    f0, jac0 = fun_jac(x0)
    f0, jac0 = np.array(f0, dtype=float), np.array(jac0, dtype=float)
    if not np.all(np.isfinite(f0)):
        raise ValueError("residuals are not finite at the start")
    return _trf_bounds(
        fun_jac, x0, f0, jac0, lb, ub, ftol, xtol, gtol, max_nfev, _loss(loss, f_scale)
    )


def _trf_bounds(fun_jac, x0, f0, J0, lb, ub, ftol, xtol, gtol, max_nfev, loss_function):
    """scipy's trf_bounds with tr_solver="exact" and x_scale=1, step for step."""
    x = x0.copy()
    f = f0
    nfev = 1
    J = J0
    m, n = J.shape
    if loss_function is not None:
        rho = loss_function(f)
        cost = 0.5 * np.add.reduce(rho[0])
        J, f = _scale_for_robust_loss(J, f, rho)
    else:
        cost = 0.5 * np.dot(f, f)
    g = J.T.dot(f)
    # x_scale=1: scipy's scale and its inverse are ones, and scipy's products with them
    # (v *= scale_inv where dv != 0, v**0.5 * scale, g * dv * scale, x0 * scale_inv) change
    # no bit: they are left out.
    v, dv = _cl_scaling_vector(x, g, lb, ub)
    delta = _norm(x0 / v**0.5)
    if delta == 0:
        delta = 1.0
    f_augmented = np.zeros(m + n)
    J_augmented = np.empty((m + n, n))
    if max_nfev is None:
        max_nfev = x0.size * 100
    alpha = 0.0
    status = None
    while True:
        v, dv = _cl_scaling_vector(x, g, lb, ub)
        g_norm = np.abs(g * v).max()  # norm(g * v, ord=np.inf)
        if g_norm < gtol:
            status = 1
        if status is not None or nfev == max_nfev:
            break
        d = v**0.5
        diag_h = g * dv
        g_h = d * g
        f_augmented[:m] = f
        J_augmented[:m] = J * d
        J_h = J_augmented[:m]
        J_augmented[m:] = np.diag(diag_h**0.5)
        if not np.isfinite(J_augmented).all():
            raise ValueError("the Jacobian is not finite")
        U, s, V = np.linalg.svd(J_augmented, full_matrices=False)
        V = V.T
        uf = U.T.dot(f_augmented)
        theta = max(0.995, 1 - g_norm)
        actual_reduction = -1
        while actual_reduction <= 0 and nfev < max_nfev:
            p_h, alpha, _ = _solve_lsq_trust_region(n, m, uf, s, V, delta, initial_alpha=alpha)
            p = d * p_h
            step, step_h, predicted_reduction = _select_step(
                x, J_h, diag_h, g_h, p, p_h, d, delta, lb, ub, theta
            )
            x_new = _strictly_feasible(x + step, lb, ub, rstep=0)
            f_new, J_new = fun_jac(x_new)
            f_new = np.array(f_new, dtype=float)
            nfev += 1
            step_h_norm = _norm(step_h)
            if not np.isfinite(f_new).all():
                delta = 0.25 * step_h_norm
                continue
            if loss_function is not None:
                cost_new = loss_function(f_new, cost_only=True)
            else:
                cost_new = 0.5 * np.dot(f_new, f_new)
            actual_reduction = cost - cost_new
            delta_new, ratio = _update_tr_radius(
                delta, actual_reduction, predicted_reduction, step_h_norm,
                step_h_norm > 0.95 * delta,
            )  # fmt: skip
            step_norm = _norm(step)
            status = _check_termination(
                actual_reduction, cost, step_norm, _norm(x), ratio, ftol, xtol
            )
            if status is not None:
                break
            alpha *= delta / delta_new
            delta = delta_new
        if actual_reduction > 0:
            x, f, cost = x_new, f_new, cost_new
            J = np.array(J_new, dtype=float)
            if loss_function is not None:
                rho = loss_function(f)
                J, f = _scale_for_robust_loss(J, f, rho)
            g = J.T.dot(f)
    return TrustRegionResult(x=x, cost=float(cost), nfev=nfev, status=status or 0)


# ---------------------------------------------------------------- scipy's helpers (common.py)


def _norm(x):
    """np.linalg.norm(x) of a float vector: the square root of x.dot(x), as norm computes it,
    without its checks."""
    return np.sqrt(x.dot(x))


# The helpers below work on a few parameters: element by element in Python floats, the same
# IEEE comparisons and arithmetic as scipy's numpy masks (math.nextafter is np.nextafter's),
# without a dozen numpy calls on 4-element arrays each.


def _in_bounds(x, lb, ub):
    """np.all((x >= lb) & (x <= ub))."""
    return all(
        lo <= v <= hi for v, lo, hi in zip(x.tolist(), lb.tolist(), ub.tolist(), strict=True)
    )


def _minimum(a, b):
    """np.minimum of two floats: NaN if either is."""
    return a if a <= b or a != a else b


def _active(v, lo, hi, rtol):
    """scipy's active_constraints of one parameter: -1 at its lower bound, 1 at its upper."""
    if rtol == 0:
        return 1 if v >= hi else -1 if v <= lo else 0
    lower_dist, upper_dist = v - lo, hi - v
    active = 0
    if math.isfinite(lo) and lower_dist <= _minimum(upper_dist, rtol * _maximum_one(lo)):
        active = -1
    if math.isfinite(hi) and upper_dist <= _minimum(lower_dist, rtol * _maximum_one(hi)):
        active = 1
    return active


def _maximum_one(bound):
    """np.maximum(1, np.abs(bound)) of one float."""
    size = abs(bound)
    return size if size > 1.0 or size != size else 1.0


def _strictly_feasible(x, lb, ub, rstep=1e-10):
    out = []
    for v, lo, hi in zip(x.tolist(), lb.tolist(), ub.tolist(), strict=True):
        active = _active(v, lo, hi, rstep)
        if active == -1:
            v = math.nextafter(lo, hi) if rstep == 0 else lo + rstep * _maximum_one(lo)
        elif active == 1:
            v = math.nextafter(hi, lo) if rstep == 0 else hi - rstep * _maximum_one(hi)
        if v < lo or v > hi:
            v = 0.5 * (lo + hi)
        out.append(v)
    return np.array(out, dtype=float)


def _cl_scaling_vector(x, g, lb, ub):
    v, dv = [], []
    for xi, gi, lo, hi in zip(x.tolist(), g.tolist(), lb.tolist(), ub.tolist(), strict=True):
        if gi > 0 and math.isfinite(lo):
            v.append(xi - lo)
            dv.append(1.0)
        elif gi < 0 and math.isfinite(hi):
            v.append(hi - xi)
            dv.append(-1.0)
        else:
            v.append(1.0)
            dv.append(0.0)
    return np.array(v, dtype=float), np.array(dv, dtype=float)


def _scale_for_robust_loss(J, f, rho):
    J_scale = rho[1] + 2 * rho[2] * f**2
    J_scale[J_scale < EPS] = EPS
    J_scale **= 0.5
    f *= rho[1] / J_scale
    J *= J_scale[:, np.newaxis]
    return J, f


def _solve_lsq_trust_region(n, m, uf, s, V, delta, initial_alpha=None, rtol=0.01, max_iter=10):
    def phi_and_derivative(alpha, suf, s, delta):
        denom = s**2 + alpha
        p_norm = _norm(suf / denom)
        phi = p_norm - delta
        phi_prime = -np.add.reduce(suf**2 / denom**3) / p_norm
        return phi, phi_prime

    suf = s * uf
    if m >= n:
        threshold = EPS * m * s[0]
        full_rank = s[-1] > threshold
    else:
        full_rank = False
    if full_rank:
        p = -V.dot(uf / s)
        if _norm(p) <= delta:
            return p, 0.0, 0
    alpha_upper = _norm(suf) / delta
    if full_rank:
        phi, phi_prime = phi_and_derivative(0.0, suf, s, delta)
        alpha_lower = -phi / phi_prime
    else:
        alpha_lower = 0.0
    if initial_alpha is None or (not full_rank and initial_alpha == 0):
        alpha = max(0.001 * alpha_upper, (alpha_lower * alpha_upper) ** 0.5)
    else:
        alpha = initial_alpha
    for it in range(max_iter):  # noqa: B007 (the count is returned)
        if alpha < alpha_lower or alpha > alpha_upper:
            alpha = max(0.001 * alpha_upper, (alpha_lower * alpha_upper) ** 0.5)
        phi, phi_prime = phi_and_derivative(alpha, suf, s, delta)
        if phi < 0:
            alpha_upper = alpha
        ratio = phi / phi_prime
        alpha_lower = max(alpha_lower, alpha - ratio)
        alpha -= (phi + delta) * ratio / delta
        if np.abs(phi) < rtol * delta:
            break
    p = -V.dot(suf / (s**2 + alpha))
    p *= delta / _norm(p)
    return p, alpha, it + 1


def _update_tr_radius(delta, actual_reduction, predicted_reduction, step_norm, bound_hit):
    if predicted_reduction > 0:
        ratio = actual_reduction / predicted_reduction
    elif predicted_reduction == actual_reduction == 0:
        ratio = 1
    else:
        ratio = 0
    if ratio < 0.25:
        delta = 0.25 * step_norm
    elif ratio > 0.75 and bound_hit:
        delta *= 2.0
    return delta, ratio


def _check_termination(dF, F, dx_norm, x_norm, ratio, ftol, xtol):
    ftol_satisfied = dF < ftol * F and ratio > 0.25
    xtol_satisfied = dx_norm < xtol * (xtol + x_norm)
    if ftol_satisfied and xtol_satisfied:
        return 4
    if ftol_satisfied:
        return 2
    if xtol_satisfied:
        return 3
    return None


def _intersect_trust_region(x, s, delta):
    a = np.dot(s, s)
    if a == 0:
        raise ValueError("`s` is zero.")
    b = np.dot(x, s)
    c = np.dot(x, x) - delta**2
    if c > 0:
        raise ValueError("`x` is not within the trust region.")
    d = np.sqrt(b * b - a * c)
    q = -(b + math.copysign(d, b))
    t1, t2 = q / a, c / q
    return (t1, t2) if t1 < t2 else (t2, t1)


def _build_quadratic_1d(J, g, s, diag=None, s0=None):
    v = J.dot(s)
    a = np.dot(v, v)
    if diag is not None:
        a += np.dot(s * diag, s)
    a *= 0.5
    b = np.dot(g, s)
    if s0 is not None:
        u = J.dot(s0)
        b += np.dot(u, v)
        c = 0.5 * np.dot(u, u) + np.dot(g, s0)
        if diag is not None:
            b += np.dot(s0 * diag, s)
            c += 0.5 * np.dot(s0 * diag, s0)
        return a, b, c
    return a, b


def _minimize_quadratic_1d(a, b, lb, ub, c=0):
    t = [lb, ub]
    if a != 0:
        extremum = -0.5 * b / a
        if lb < extremum < ub:
            t.append(extremum)
    t = np.asarray(t)
    y = t * (a * t + b) + c
    min_index = np.argmin(y)
    return t[min_index], y[min_index]


def _evaluate_quadratic(J, g, s, diag=None):
    Js = J.dot(s)
    q = np.dot(Js, Js)
    if diag is not None:
        q += np.dot(s * diag, s)
    return 0.5 * q + np.dot(s, g)


def _step_size_to_bound(x, s, lb, ub):
    non_zero = np.nonzero(s)
    s_non_zero = s[non_zero]
    steps = np.empty_like(x)
    steps.fill(np.inf)
    with np.errstate(over="ignore"):
        steps[non_zero] = np.maximum(
            (lb - x)[non_zero] / s_non_zero, (ub - x)[non_zero] / s_non_zero
        )
    min_step = np.min(steps)
    return min_step, np.equal(steps, min_step) * np.sign(s).astype(int)


def _select_step(x, J_h, diag_h, g_h, p, p_h, d, delta, lb, ub, theta):
    """The best of the trust-region step, its reflection off the first bound, and the
    constrained Cauchy step (scipy's select_step)."""
    if _in_bounds(x + p, lb, ub):
        p_value = _evaluate_quadratic(J_h, g_h, p_h, diag=diag_h)
        return p, p_h, -p_value
    p_stride, hits = _step_size_to_bound(x, p, lb, ub)
    r_h = np.copy(p_h)
    r_h[hits.astype(bool)] *= -1
    r = d * r_h
    p *= p_stride
    p_h *= p_stride
    x_on_bound = x + p
    _, to_tr = _intersect_trust_region(p_h, r_h, delta)
    to_bound, _ = _step_size_to_bound(x_on_bound, r, lb, ub)
    r_stride = min(to_bound, to_tr)
    if r_stride > 0:
        r_stride_l = (1 - theta) * p_stride / r_stride
        r_stride_u = theta * to_bound if r_stride == to_bound else to_tr
    else:
        r_stride_l, r_stride_u = 0, -1
    if r_stride_l <= r_stride_u:
        a, b, c = _build_quadratic_1d(J_h, g_h, r_h, s0=p_h, diag=diag_h)
        r_stride, r_value = _minimize_quadratic_1d(a, b, r_stride_l, r_stride_u, c=c)
        r_h *= r_stride
        r_h += p_h
        r = r_h * d
    else:
        r_value = np.inf
    p *= theta
    p_h *= theta
    p_value = _evaluate_quadratic(J_h, g_h, p_h, diag=diag_h)
    ag_h = -g_h
    ag = d * ag_h
    to_tr = delta / _norm(ag_h)
    to_bound, _ = _step_size_to_bound(x, ag, lb, ub)
    ag_stride = theta * to_bound if to_bound < to_tr else to_tr
    a, b = _build_quadratic_1d(J_h, g_h, ag_h, diag=diag_h)
    ag_stride, ag_value = _minimize_quadratic_1d(a, b, 0, ag_stride)
    ag_h *= ag_stride
    ag *= ag_stride
    if p_value < r_value and p_value < ag_value:
        return p, p_h, -p_value
    if r_value < p_value and r_value < ag_value:
        return r, r_h, -r_value
    return ag, ag_h, -ag_value
