"""Student's t distribution: its upper tail and its quantile, in plain Python (~1e-14 relative).

The confidence intervals of back-calculated concentrations need t(df, 0.975)
and the outlier test the tail probabilities of its residuals. scipy.special
gives both, but importing it costs a plate more CPU than all its fitting
(docs/speed.md), so they are computed here from the regularised incomplete
beta function (Lentz's continued fraction, log-gamma ratios by Stirling's
series for large arguments), the quantile by safeguarded Newton steps on the
logarithms. Each is computed from the smaller of its two complementary
probabilities, so a tail of 1e-300 or a quantile near the median keeps its
relative precision; tests/test_student_t.py holds them to scipy's within
1e-12 relative over df 1..1000.
"""

from __future__ import annotations

import functools
import math

import numpy as np

_TINY = 1e-300
_STIRLING = (  # B_2k / (2k (2k - 1)): ln Gamma(z)'s asymptotic series beyond its leading terms
    1 / 12,
    -1 / 360,
    1 / 1260,
    -1 / 1680,
    1 / 1188,
    -691 / 360360,
)


def _stirling_tail(z: float) -> float:
    """ln Gamma(z) - ((z - 1/2) ln z - z + ln(2 pi) / 2), for z >= 20 (error below 1e-19)."""
    inv, inv2 = 1.0 / z, 1.0 / (z * z)
    total, power = 0.0, inv
    for coefficient in _STIRLING:
        total += coefficient * power
        power *= inv2
    return total


def _log_beta(a: float, b: float) -> float:
    """ln B(a, b), without the cancellation of ln Gamma(a) - ln Gamma(a + b) for large a."""
    small, big = min(a, b), max(a, b)
    if big < 20.0:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    # ln Gamma(big + small) - ln Gamma(big) by Stirling's series: the large terms cancel
    # analytically, (z - 1/2) ln z of both taken together through log1p.
    total = big + small
    rise = (
        (big - 0.5) * math.log1p(small / big)
        + small * math.log(total)
        - small
        + _stirling_tail(total)
        - _stirling_tail(big)
    )
    return math.lgamma(small) - rise


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz), for x < (a + 1) / (a + b + 2)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) <= 2.5e-16:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float, y: float, log_x: float, log_y: float) -> float:
    """Regularised I_x(a, b), given x, y = 1 - x and their logarithms (each accurate)."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _incomplete_beta(b, a, y, x, log_y, log_x)
    front = math.exp(a * log_x + b * log_y - _log_beta(a, b)) / a
    return front * _beta_fraction(a, b, x)


def _ratio_parts(t: float, df: float) -> tuple[float, float, float, float]:
    """x = df / (df + t^2), y = t^2 / (df + t^2) and their logarithms, for t > 0."""
    s = t * t / df
    if 1e-300 < s < 1e300:
        log_1p = math.log1p(s)
        return 1.0 / (1.0 + s), s / (1.0 + s), -log_1p, math.log(s) - log_1p
    log_s = 2.0 * math.log(t) - math.log(df)
    if s <= 1e-300:  # t^2 / df (nearly) underflows: ln(1 + s) = s
        return 1.0 / (1.0 + s), math.exp(log_s), -s, log_s - s
    # t^2 / df (nearly) overflows: ln(1 + s) = ln s to double precision
    return math.exp(-log_s), 1.0, -log_s, 0.0


def _upper_tail(t: float, df: float) -> float:
    """P(T > t) for t > 0: I_x(df/2, 1/2) / 2."""
    x, y, log_x, log_y = _ratio_parts(t, df)
    return 0.5 * _incomplete_beta(0.5 * df, 0.5, x, y, log_x, log_y)


def _central(t: float, df: float) -> float:
    """P(|T| < t) for t > 0: I_y(1/2, df/2)."""
    x, y, log_x, log_y = _ratio_parts(t, df)
    return _incomplete_beta(0.5, 0.5 * df, y, x, log_y, log_x)


def _log_density(t: float, df: float) -> float:
    """ln of Student's t density at t > 0: its ln x = -ln(1 + t^2/df) times (df + 1)/2."""
    log_x = _ratio_parts(t, df)[2]
    return -_log_beta(0.5 * df, 0.5) - 0.5 * math.log(df) + 0.5 * (df + 1.0) * log_x


def student_t_sf(t: np.ndarray | float, df: float) -> np.ndarray:
    """P(T > t) for Student's t with ``df`` (at least 1) degrees of freedom, elementwise."""
    df = max(df, 1)
    values = np.asarray(t, dtype=float)
    out = np.empty(values.shape)
    flat = out.reshape(-1)
    for i, v in enumerate(values.reshape(-1).tolist()):
        if math.isnan(v):
            flat[i] = math.nan
        elif v == 0.0:
            flat[i] = 0.5
        elif math.isinf(v):
            flat[i] = 0.0 if v > 0 else 1.0
        elif v > 0:
            flat[i] = _upper_tail(v, df)
        else:
            flat[i] = 1.0 - _upper_tail(-v, df)
    return out


@functools.lru_cache(maxsize=256)
def student_t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p for Student's t with ``df`` (at least 1) degrees of freedom.

    Remembered (a plate asks t(df, 0.975) of one curve for every well and sample).
    """
    df = max(df, 1)
    if math.isnan(p) or math.isnan(df) or not 0.0 <= p <= 1.0:
        return math.nan
    if p == 0.0 or p == 1.0:
        return math.copysign(math.inf, p - 0.5)
    if p == 0.5:
        return 0.0
    sign = 1.0 if p > 0.5 else -1.0
    if 0.25 < p < 0.75:
        # Near the median: solve P(|T| < t) = |2p - 1| (exact here), no cancellation.
        target, probability, slope_sign = abs(2.0 * p - 1.0), _central, 1.0
    else:
        target, probability, slope_sign = (1.0 - p if p > 0.5 else p), _upper_tail, -1.0
    log_target = math.log(target)
    # Newton's method on ln P against ln t, kept inside a bracket that shrinks as it goes.
    lo, hi = -745.0, 745.0  # ln t
    u = _start(target, df, central=probability is _central)
    for _ in range(200):
        t = math.exp(u)
        value = probability(t, df)
        gap = -math.inf if value <= 0.0 else math.log(value) - log_target
        if gap == 0.0:
            break
        if (gap > 0) == (slope_sign > 0):
            hi = u
        else:
            lo = u
        if math.isinf(gap):
            step_to = 0.5 * (lo + hi)
        else:
            # d ln P / d ln t = +-t f(t) / P(t)
            slope = slope_sign * 2.0 if probability is _central else slope_sign
            slope *= math.exp(u + _log_density(t, df) - math.log(value))
            step_to = u - gap / slope if slope != 0 else 0.5 * (lo + hi)
            if not lo < step_to < hi:
                step_to = 0.5 * (lo + hi)
        if abs(step_to - u) <= 1e-12 * max(1.0, abs(u)) or hi - lo <= 1e-16 * max(1.0, abs(u)):
            u = step_to
            break
        u = step_to
    return sign * _polish(math.exp(u), target, df, probability)


def _polish(t: float, target: float, df: float, probability) -> float:
    """Newton steps on P(t) - target itself, free of the logarithms' rounding: t is then as
    precise as P (a few units in the last place; docs/speed.md)."""
    derivative = 2.0 if probability is _central else -1.0
    for _ in range(4):
        if not 0.0 < t < math.inf:
            return t
        value = probability(t, df)
        step = (value - target) / (derivative * math.exp(_log_density(t, df)))
        if not math.isfinite(step):
            return t
        new = t - step
        if new == t or abs(step) <= 0.5 * math.ulp(t):
            return new
        t = new
    return t


def _start(target: float, df: float, *, central: bool) -> float:
    """ln t to start Newton's method from: the density's leading behaviour at each end."""
    log_norm = -_log_beta(0.5 * df, 0.5) - 0.5 * math.log(df)  # ln f(0)
    if central:
        # P(|T| < t) ~ 2 f(0) t for small t
        guess = math.log(target) - math.log(2.0) - log_norm
        return min(guess, 0.0)
    # P(T > t) ~ f(0) df^((df+1)/2) t^-df / df for large t
    guess = (log_norm + 0.5 * (df + 1.0) * math.log(df) - math.log(df) - math.log(target)) / df
    return max(guess, 0.0)
