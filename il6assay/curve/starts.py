"""The search over starts: one curve-fitting problem, its box, its grid and its starts.

The 4PL is linear in (a, d) for fixed (b, c[, g]), so a grid over (ln c, b) gives
each point its best (a, d) by linear least squares; from the best grid points,
drc's self-start and a few more starts, the box-bounded solver runs
(il6assay.curve.solvers), the lowest sum of squares wins, the weights are
refitted from the curve and the winner polished. Every stage has a budget.
"""

from __future__ import annotations

import math

import numpy as np

from il6assay.curve.models import (
    LINE_MODELS,
    WEIGHT_FLOOR_SHARE,
    log_x,
    logistic_parts_at,
    model_parts,
    model_values,
)
from il6assay.curve.solvers import Solution, box_lm, solve

_REWEIGHT_MAX = 50
_REWEIGHT_RTOL = 1e-10
# The box of admissible curves: an inflection at most this many natural-log units
# outside the standards' range, a slope in [_B_MIN, _B_MAX], asymptotes within
# _ASYMPTOTE_SPANS OD spans of the ODs, the 5PL's g within _G_RANGE.
_LNC_MARGIN = 40.0
_B_MIN, _B_MAX = 0.05, 50.0
_ASYMPTOTE_SPANS = 1e5
_G_RANGE = (0.05, 20.0)
# The (ln c, b) grid of the search: ln c in steps of at most _GRID_LNC_STEP near the
# standards, at _GRID_FAR beyond them.
_GRID_LNC_STEP = 0.75
_GRID_FAR = (7.5, 9.5, 12.0, 15.0, 19.0, 24.0, 31.0, 40.0)  # ln c beyond the standards
_GRID_B = (0.25, 0.45, 0.7, 1.0, 1.4, 2.0, 3.0, 5.0, 9.0)
# Effort: model evaluations one fit may spend (search, reweighting, polish).
_BUDGET = {"search": 240, "reweight": 160, "polish": 40}
_SCOUT_EVALUATIONS = 6  # each start's first steps, before the two best are refined


def self_start(conc: np.ndarray, od: np.ndarray) -> np.ndarray:
    """drc's self-starter: asymptotes from the OD range, b and c from a logit line.

    Returns theta = (a, b, ln c, d) with a at the zero-dose end.
    """
    span = float(od.max() - od.min())
    pos = conc > 0
    rising = _rising(conc, od)
    lo, hi = od.min() - 0.001 * span, od.max() + 0.001 * span
    a, d = (lo, hi) if rising else (hi, lo)
    z = np.log((od[pos] - a) / (d - od[pos]))
    lx = np.log(conc[pos])
    if np.ptp(lx) == 0:
        return np.array([a, 1.0, float(lx[0]), d])
    slope, intercept = np.polyfit(lx, z, 1)
    if not np.isfinite(slope) or slope <= 0:
        return np.array([a, 1.0, float(np.median(lx)), d])
    return np.array([a, slope, -intercept / slope, d])


def _rising(conc: np.ndarray, od: np.ndarray) -> bool:
    order = np.argsort(conc, kind="stable")
    n = max(1, len(order) // 3)
    return float(od[order[-n:]].mean()) >= float(od[order[:n]].mean())


class FitProblem:
    """One curve-fitting problem: data, model, weights, the box of admissible curves, effort."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        five: bool,
        quick: bool = False,
        *,
        model: str | None = None,
    ) -> None:
        self.model = model or ("5pl" if five else "4pl")
        self.five = self.model == "5pl"
        self.line = self.model in LINE_MODELS
        self.x, self.y = x, y
        # A comparison fit: fewer starts and reweighting passes.
        self.quick = quick
        self.trf_nfev = 100 if quick else None
        pos = x[x > 0]
        self.lnx_lo, self.lnx_hi = float(np.log(pos.min())), float(np.log(pos.max()))
        self.span = float(np.ptp(y))
        self.w = np.ones_like(x)
        self.logs = log_x(x)
        self.k = 0.0  # NOISE_WEIGHTING's SD floor (fit_curve's k)
        self.evaluations = 0
        self._box: tuple[np.ndarray, np.ndarray] | None = None  # bounds(), made once
        self._loose: tuple[list[float], list[float]] | None = None  # plausible()'s box
        self._column: tuple[np.ndarray | None, np.ndarray | None] = (None, None)  # fun_jac's

    def fun_jac(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.evaluations += 1
        f, jac, _ = model_parts(self.model, theta, self.x, self.logs, slope=False)
        if self._column[0] is not self.w:  # -1 / w as a column: made once a set of weights
            self._column = (self.w, -1.0 / self.w[:, None])
        jac *= self._column[1]
        return (self.y - f) / self.w, jac

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The box of admissible curves (internal parameters): a fresh copy, the caller's."""
        if self._box is None:
            self._box = self._bounds()
        return self._box[0].copy(), self._box[1].copy()

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        if self.line:
            return np.array([-np.inf, -_B_MAX]), np.array([np.inf, _B_MAX])
        lo_y, hi_y = float(self.y.min()), float(self.y.max())
        pad = _ASYMPTOTE_SPANS * max(self.span, 1e-12)
        low = [lo_y - pad, _B_MIN, self.lnx_lo - _LNC_MARGIN, lo_y - pad]
        high = [hi_y + pad, _B_MAX, self.lnx_hi + _LNC_MARGIN, hi_y + pad]
        if self.five:
            low.append(math.log(_G_RANGE[0]))
            high.append(math.log(_G_RANGE[1]))
        return np.array(low), np.array(high)

    def at_bounds(self, theta: np.ndarray) -> list[int]:
        """Indices of the parameters on the box; the span |d - a| at its limit counts for the
        asymptote on the side of the standards the inflection lies."""
        if self.line:
            return []
        low, high = self.bounds()
        tol = 1e-9 * (1.0 + np.abs(theta))
        gap = np.minimum(theta - low, high - theta)
        at = [i for i in (1, 2, 4) if i < theta.size and gap[i] <= tol[i]]
        if abs(theta[3] - theta[0]) >= _ASYMPTOTE_SPANS * max(self.span, 1e-12) * (1 - 1e-9):
            at.append(0 if theta[2] < 0.5 * (self.lnx_lo + self.lnx_hi) else 3)
        return sorted(at)

    # The search runs in q, theta with one asymptote replaced by ln|d - a| (the sign
    # of d - a fixed): a curve without a plateau at one end then runs along a straight
    # valley (ln|d - a| grows as b |ln c|), which Levenberg-Marquardt follows in a few
    # steps, instead of that asymptote growing as c^b. The free end is the one on the
    # side of the standards the inflection lies (slot 3 for d, slot 0 for a).
    def _free_slot(self, theta: np.ndarray) -> int:
        return 0 if theta[2] < 0.5 * (self.lnx_lo + self.lnx_hi) else 3

    @staticmethod
    def _to_q(theta: np.ndarray, sign: float, slot: int) -> np.ndarray:
        q = np.array(theta, dtype=float)
        q[slot] = math.log(max(sign * (theta[3] - theta[0]), 1e-300))
        return q

    @staticmethod
    def _from_q(q: np.ndarray, sign: float, slot: int) -> np.ndarray:
        theta = np.array(q, dtype=float)
        spread = sign * math.exp(min(q[slot], 700.0))
        if slot == 3:
            theta[3] = q[0] + spread
        else:
            theta[0] = q[3] - spread
        return theta

    def q_bounds(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.bounds()
        span = max(self.span, 1e-12)
        low[slot], high[slot] = math.log(1e-9 * span), math.log(_ASYMPTOTE_SPANS * span)
        return low, high

    def plausible(self, sol: Solution | None) -> bool:
        if sol is None or not math.isfinite(sol.cost):
            return False
        theta = sol.theta.tolist()
        if not all(math.isfinite(v) for v in theta):
            return False
        if self.line:
            return bool(theta[1] != 0)
        if self._loose is None:  # the box, loosened by 1e-9 of each bound: made once
            low, high = self.bounds()
            self._loose = (low - 1e-9 * np.abs(low)).tolist(), (high + 1e-9 * np.abs(high)).tolist()
        low, high = self._loose
        inside = all(lo <= v <= hi for lo, v, hi in zip(low, theta, high, strict=True))
        a, d = theta[0], theta[3]
        spans = abs(d - a) / max(self.span, 1e-12)
        return bool(inside and 1e-9 < spans <= _ASYMPTOTE_SPANS * (1 + 1e-9))

    def lm(self, theta: np.ndarray, budget: int, rtol: float = 1e-10) -> Solution | None:
        """Bounded Levenberg-Marquardt from ``theta`` within ``budget`` evaluations."""
        budget = max(budget, 2)
        if self.line:
            low, high = self.bounds()
            sol = box_lm(self.fun_jac, theta, low, high, rtol=rtol, max_evaluations=budget)
            return sol if self.plausible(sol) else None
        theta = np.array(theta, dtype=float)
        sign = 1.0 if theta[3] >= theta[0] else -1.0
        slot = self._free_slot(theta)
        five, x, logs, y, w = self.five, self.x, self.logs, self.y, self.w
        minus_w = -w[:, None]  # the weights are fixed for this solve

        def fun_jac_q(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            self.evaluations += 1
            params = q.tolist()
            a, b, lnc, d, *lng = params
            spread = sign * math.exp(min(params[slot], 700.0))
            if slot == 3:  # d = a + spread
                d = a + spread
            else:  # a = d - spread
                a = d - spread
            f, jac, _ = logistic_parts_at(
                a, b, lnc, d, lng[0] if five else None, x, logs, slope=False, free=(slot, spread)
            )
            jac /= minus_w
            return (y - f) / w, jac

        low, high = self.q_bounds(slot)
        q0 = self._to_q(theta, sign, slot)
        sol = box_lm(fun_jac_q, q0, low, high, rtol=rtol, max_evaluations=budget)
        if sol is None:
            return None
        sol.theta = self._from_q(sol.theta, sign, slot)
        return sol if self.plausible(sol) else None

    # ------------------------------------------------------------ starts

    def line_start(self) -> np.ndarray:
        """The log-log line by weighted least squares on ln OD (ODs above zero)."""
        keep = (self.x > 0) & (self.y > 0)
        if np.count_nonzero(keep) < 2 or np.ptp(self.logs[1][keep]) == 0:
            return np.array([math.log(max(float(np.mean(np.abs(self.y))), 1e-9)), 1.0])
        lx, ly = self.logs[1][keep], np.log(self.y[keep])
        weight = (self.y[keep] / self.w[keep]) ** 2  # SD(ln y) = SD(y) / y
        beta, alpha = np.polyfit(lx, ly, 1, w=np.sqrt(weight))
        return np.array([alpha, beta])

    def grid(self, g_values: tuple[float, ...] = (1.0,)) -> tuple[np.ndarray, np.ndarray]:
        """(ln c, b[, g]) grid, each point with its best (a, d): (costs, thetas), best first.

        For fixed b, c and g the curve is linear in a and d, y = a s + d (1 - s)
        with s = (1 + (x/c)^b)^-g, so each grid point's asymptotes are a weighted
        linear least-squares solution (2 x 2 normal equations, all points at once).
        """
        logx = self.logs.logx
        # Fine steps over the standards' range and 6 beyond it, then coarser out to the box.
        near = 6.0
        width = self.lnx_hi - self.lnx_lo + 2 * near
        inner = np.linspace(
            self.lnx_lo - near, self.lnx_hi + near, math.ceil(width / _GRID_LNC_STEP) + 1
        )
        outer = np.array([o for o in _GRID_FAR if near < o <= _LNC_MARGIN])
        lnc = np.concatenate([self.lnx_lo - outer[::-1], inner, self.lnx_hi + outer])
        mesh = np.meshgrid(lnc, np.array(_GRID_B), np.array(g_values), indexing="ij")
        lc, b, g = (v.ravel() for v in mesh)
        with np.errstate(all="ignore"):
            t = b[:, None] * (logx[None, :] - lc[:, None])
            s = np.exp(-g[:, None] * np.logaddexp(0.0, t))
            wt = 1.0 / self.w**2
            u = 1.0 - s
            ws, wu = wt * s, wt * u  # each product below is (wt * s) * ... or (wt * u) * ...
            s11, s12, s22 = (ws * s).sum(1), (ws * u).sum(1), (wu * u).sum(1)
            r1, r2 = (ws * self.y).sum(1), (wu * self.y).sum(1)
            det = s11 * s22 - s12**2
            a = (s22 * r1 - s12 * r2) / det
            d = (s11 * r2 - s12 * r1) / det
            cost = float(wt @ self.y**2) - (a * r1 + d * r2)
        low, high = self.bounds()
        thetas = np.column_stack([a, b, lc, d, *([np.log(g)] if self.five else [])])
        ok = np.isfinite(cost) & np.all(np.isfinite(thetas), axis=1) & (np.abs(d - a) > 0)
        ok &= (a >= low[0]) & (a <= high[0]) & (d >= low[3]) & (d <= high[3])
        order = np.argsort(np.where(ok, cost, np.inf))
        order = order[ok[order]]
        return cost[order], thetas[order]

    def shape_starts(self) -> list[np.ndarray]:
        """drc's self-start, a far upper asymptote, and the log-log line made a 4PL."""
        first = self_start(self.x, self.y)
        sign = 1.0 if _rising(self.x, self.y) else -1.0
        z = sign * self.y
        pos = self.x > 0
        a0 = float(z.min()) - 0.001 * self.span
        lx = self.logs[1][pos]
        keep = z[pos] - a0 > 0
        beta = 1.0
        if np.count_nonzero(keep) >= 2 and np.ptp(lx[keep]) > 0:
            beta, alpha = np.polyfit(lx[keep], np.log(z[pos][keep] - a0), 1)
        beta = float(np.clip(beta if math.isfinite(beta) else 1.0, 0.3, 10.0))
        starts = [first]
        # The upper asymptote far (10 spans) above the top OD: c where the top standard
        # reaches the share of the span it shows.
        d_far = float(z.max()) + 10.0 * self.span
        top = float(np.mean(z[self.x == self.x.max()]))
        share = min(max((top - a0) / (d_far - a0), 1e-6), 0.999)
        lnc = self.lnx_hi - math.log(share / (1 - share)) / beta
        starts.append(np.array([sign * a0, beta, lnc, sign * d_far]))
        # The straight line of log OD on log dose: z = a0 + K x^beta is the 4PL's limit
        # for c far above the top standard; put c e^3 above it.
        if np.count_nonzero(keep) >= 2 and np.ptp(lx[keep]) > 0 and math.isfinite(alpha):
            lnc = self.lnx_hi + 3.0
            d_line = a0 + math.exp(min(alpha + beta * lnc, 700.0))
            starts.append(np.array([sign * a0, beta, lnc, sign * d_line]))
        if self.five:
            starts = [np.append(s, 0.0) for s in starts]
        return starts

    def search(self, extra: list[np.ndarray] | None = None) -> Solution | None:
        """The best least-squares curve over every start, each refined by bounded LM."""
        budget = _BUDGET["search"] // (3 if self.quick else 1)
        if self.line:
            return self.lm(self.line_start(), budget)
        starts = list(extra or [])
        if self.five and starts:
            # The 4PL's search has covered every shape: its solution, with g = 1 and
            # moved to each side, and the best asymmetric grid point.
            base = starts[0]
            starts += [np.append(base[:4], math.log(g)) for g in (0.5, 2.0)]
        # A quick fit keeps three starts: with those three already, the grid's would be cut.
        if not (self.quick and len(starts) >= 3):
            _, thetas = self.grid((0.4, 2.5) if self.five else (1.0,))
            if self.five and extra:
                thetas = thetas[:1]
            if thetas.shape[0]:
                lnc = thetas[:, 2]
                picks = [0]
                for mask in (lnc > self.lnx_hi, lnc < self.lnx_lo):  # midpoint beyond each end
                    hits = np.flatnonzero(mask)
                    if hits.size:
                        picks.append(int(hits[0]))
                starts += [thetas[i] for i in dict.fromkeys(picks)]
        if not (self.five and extra):
            starts += self.shape_starts()
        if self.quick:
            starts = starts[:3]
        # A few steps from every start, then the two best run to convergence.
        budget += self.evaluations
        scouts: list[Solution] = []
        for theta0 in starts:
            if self.evaluations >= budget:
                break
            sol = self.lm(theta0, min(_SCOUT_EVALUATIONS, budget - self.evaluations), rtol=1e-6)
            if sol is not None:
                scouts.append(sol)
        scouts.sort(key=lambda sol: sol.cost)
        best: Solution | None = None
        kept: list[float] = []
        for sol in scouts:
            if len(kept) == 2 or self.evaluations >= budget:
                break
            if any(abs(sol.cost - c) <= 1e-6 * max(c, 1e-300) for c in kept):
                continue  # the same basin as one already refined
            kept.append(sol.cost)
            done = self.lm(sol.theta, (budget - self.evaluations) // (3 - len(kept)))
            done = done if done is not None and done.cost <= sol.cost else sol
            if best is None or done.cost < best.cost:
                best = done
        return best

    # ------------------------------------------------------------ weights

    def weights_from(self, theta: np.ndarray, power: float) -> np.ndarray:
        if power == 0:
            return np.ones_like(self.x)
        return self.sd_of(model_values(self.model, theta, self.logs), theta, power)

    def sd_of(self, f: np.ndarray, theta: np.ndarray, power: float) -> np.ndarray:
        """The weighting's SD function at fitted ODs ``f`` (at the standards): the weights."""
        floor = WEIGHT_FLOOR_SHARE * float(np.max(np.abs(f)))
        base = np.maximum(np.abs(f), floor) ** power
        return np.sqrt(base**2 + self.k**2) if self.k else base

    def weight_floor(self, theta: np.ndarray) -> float:
        """The smallest OD a weight is computed from: a share of the curve's highest OD over
        the standards (not of its asymptotes: on a curve without a plateau d is far away)."""
        f = model_values(self.model, theta, self.logs)
        return WEIGHT_FLOOR_SHARE * float(np.max(np.abs(f)))

    def reweight(self, sol: Solution, power: float) -> tuple[Solution, int, bool]:
        """Iterative reweighting to its fixed point (Prism's), bounded LM warm starts.

        Returns the solution, the number of passes, and whether the weighted
        sum of squares settled within the passes and the budget.
        """
        budget = self.evaluations + _BUDGET["reweight"] // (3 if self.quick else 1)
        previous = math.inf
        passes = 0
        for passes in range(1, _REWEIGHT_MAX + 1):
            self.w = self.weights_from(sol.theta, power)
            if self.evaluations >= budget:
                return sol, passes, False
            nxt = self.lm(sol.theta, min(40, budget - self.evaluations + 2), rtol=1e-12)
            if nxt is None:
                return sol, passes, False
            sol = nxt
            wss = 2 * sol.cost
            if abs(previous - wss) <= _REWEIGHT_RTOL * max(wss, 1e-300):
                self.w = self.weights_from(sol.theta, power)
                return sol, passes, True
            previous = wss
        self.w = self.weights_from(sol.theta, power)
        return sol, passes, False

    def polish(self, sol: Solution) -> Solution:
        """A tight solve with the final weights: MINPACK inside the box, bounded LM on it."""
        if not self.at_bounds(sol.theta):
            tight = solve(self.fun_jac, sol.theta, rtol=1e-15, max_nfev=_BUDGET["polish"])
            if self.plausible(tight) and tight.cost <= sol.cost * (1 + 1e-12):
                return tight
        tight = self.lm(sol.theta, _BUDGET["polish"], rtol=1e-15)
        return tight if tight is not None and tight.cost <= sol.cost else sol
