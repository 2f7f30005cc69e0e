"""The Westgard multirule, as a computer applies it: every rule on every run.

``check(runs, targets)`` takes the control values of a run history in time
order (``runs[i]`` maps a control level to its measured value in run ``i``)
and each level's target ``(mean, sd)``, and returns every rule each run
breaks. Each value becomes ``z = (value - mean) / sd``; "beyond 2 SD" means
``|z| > 2`` (a value exactly on a limit is not beyond it). The rules
(DOMAIN.md, after Westgard's multirule):

- ``1-2s``: one value beyond ±2 SD. A warning, never a rejection.
- ``1-3s``: one value beyond ±3 SD. Reject (random error).
- ``2-2s``: two values beyond the same 2 SD limit: two levels in one run, or
  one level in two consecutive runs. Reject (systematic error).
- ``R-4s``: within one run, one level beyond +2 SD and another beyond -2 SD.
  Reject (random error). Never applied across runs.
- ``4-1s``: four consecutive values beyond the same 1 SD limit: one level
  across four runs, or levels across runs (two levels over two runs). Reject.
- ``10-x``: ten consecutive values on the same side of the mean: one level
  across ten runs, or levels across runs (two levels over five runs). Reject.

Across levels, "consecutive values" are whole runs counted back from the run
judged: the rule fires when the runs ending there, every value of each on the
same side (beyond the same limit), hold at least 4 (``4-1s``) or 10
(``10-x``) values and span at least two runs. Within a level, consecutive
values are that level's values in run order; a run without a value for a
level (no control, or a censored one) is skipped for that level, not a
break. A level without a target is not judged. ``Violation.run`` is the
index of the run in ``runs`` (0 for the first).

Example::

    >>> from il6assay.study.westgard import check
    >>> targets = {"low": (20.0, 1.5), "high": (120.0, 8.0)}
    >>> for v in check([{"low": 20.4, "high": 118.0}, {"low": 23.2, "high": 137.0}], targets):
    ...     print(v)
    Violation(run=1, rule='1-2s', levels=('high',), reject=False)
    Violation(run=1, rule='1-2s', levels=('low',), reject=False)
    Violation(run=1, rule='2-2s', levels=('high', 'low'), reject=True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RULES = ("1-2s", "1-3s", "2-2s", "R-4s", "4-1s", "10-x")
REJECTING = frozenset(RULES) - {"1-2s"}
SOURCE = (
    "Westgard JO et al., Clin Chem 1981;27:493-501 (multirule Shewhart chart), "
    "evaluated by computer on every run (DOMAIN.md)"
)


@dataclass(frozen=True)
class Violation:
    """One rule broken by one run: which rule, at which control levels, and whether it rejects."""

    run: int
    rule: str
    levels: tuple[str, ...]
    reject: bool

    def text(self) -> str:
        """'2-2s (low, high)': the rule and the levels, as a verdict names them."""
        return f"{self.rule} ({', '.join(self.levels)})"


def z_scores(
    runs: Sequence[Mapping[str, float | None]], targets: Mapping[str, tuple[float, float]]
) -> list[dict[str, float]]:
    """Each run's values as z, SD units from their level's target mean (levels without one: out)."""
    for level, (_mean, sd) in targets.items():
        if not (isinstance(sd, int | float) and math.isfinite(sd) and sd > 0):
            raise ValueError(f"target SD of level {level!r} must be a positive number, not {sd!r}")
    out = []
    for run in runs:
        z: dict[str, float] = {}
        for level, value in run.items():
            if level in targets and value is not None and math.isfinite(value):
                mean, sd = targets[level]
                z[level] = (float(value) - mean) / sd
        out.append(z)
    return out


def check(
    runs: Sequence[Mapping[str, float | None]], targets: Mapping[str, tuple[float, float]]
) -> list[Violation]:
    """Every Westgard rule each run breaks, in run order (see the module docstring)."""
    zs = z_scores(runs, targets)
    found: list[Violation] = []
    history: dict[str, list[tuple[int, float]]] = {}  # level -> (run, z) so far
    for i, z in enumerate(zs):
        levels = sorted(z)
        for level in levels:
            history.setdefault(level, []).append((i, z[level]))
        found += _single_values(i, z)
        found += _within_run(i, z)
        found += _within_level(i, z, history)
        found += _across_levels(i, zs)
    return list(dict.fromkeys(found))  # one violation of a rule per run and levels


def _violation(i: int, rule: str, levels: Sequence[str]) -> Violation:
    return Violation(run=i, rule=rule, levels=tuple(levels), reject=rule in REJECTING)


def _single_values(i: int, z: dict[str, float]) -> list[Violation]:
    out = []
    for level in sorted(z):
        if abs(z[level]) > 2:
            out.append(_violation(i, "1-2s", [level]))
        if abs(z[level]) > 3:
            out.append(_violation(i, "1-3s", [level]))
    return out


def _within_run(i: int, z: dict[str, float]) -> list[Violation]:
    """2-2s across levels and R-4s: both within run ``i`` only."""
    out = []
    high = sorted(level for level, v in z.items() if v > 2)
    low = sorted(level for level, v in z.items() if v < -2)
    for side in (high, low):
        if len(side) >= 2:
            out.append(_violation(i, "2-2s", side))
    if high and low:
        out.append(_violation(i, "R-4s", [*high, *low]))
    return out


def _streak(values: Sequence[float], limit: float) -> int:
    """How many of the last values lie beyond the same limit (+limit or -limit)."""
    if not values:
        return 0
    sign = 1 if values[-1] > 0 else -1
    n = 0
    for v in reversed(values):
        if v * sign > limit:
            n += 1
        else:
            break
    return n


def _within_level(
    i: int, z: dict[str, float], history: dict[str, list[tuple[int, float]]]
) -> list[Violation]:
    """2-2s, 4-1s and 10-x within one level, across its consecutive values."""
    out = []
    for level in sorted(z):
        values = [v for _, v in history[level]]
        if _streak(values, 2.0) >= 2:
            out.append(_violation(i, "2-2s", [level]))
        if _streak(values, 1.0) >= 4:
            out.append(_violation(i, "4-1s", [level]))
        if _streak(values, 0.0) >= 10:
            out.append(_violation(i, "10-x", [level]))
    return out


def _across_levels(i: int, zs: list[dict[str, float]]) -> list[Violation]:
    """4-1s and 10-x across levels: whole runs ending at ``i``, every value beyond one limit."""
    out: list[Violation] = []
    if not zs[i]:
        return out
    for rule, limit, needed in (("4-1s", 1.0, 4), ("10-x", 0.0, 10)):
        for sign in (1, -1):
            count, runs, levels = 0, 0, set()
            for z in reversed(zs[: i + 1]):
                if not z:
                    continue  # a run without control values neither counts nor breaks
                if not all(v * sign > limit for v in z.values()):
                    break
                count += len(z)
                runs += 1
                levels |= set(z)
                if count >= needed:
                    break
            if count >= needed and runs >= 2 and len(levels) >= 2:
                out.append(_violation(i, rule, sorted(levels)))
    return out
