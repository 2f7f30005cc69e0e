"""The reader's noise, measured from replicate wells: Var(OD) = sd^2 + (cv * OD)^2.

Used twice: to calibrate the simulator on real duplicates (R's DNase ELISA,
docs/curve.md), and, with weighting "1/(k^2+y^2)", to weight a plate's curve by
the noise its own replicate wells show (k = sd / cv).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from il6assay.curve.nelder_mead import nelder_mead

if TYPE_CHECKING:
    from il6assay.plate.wells import Well

# A reader printing 3 decimals cannot show less additive noise than its rounding
# (0.001 / sqrt(12) OD), nor a pipette less than 0.1 % CV: the estimate stays above
# these, so identical duplicates (a synthetic plate) give a finite k.
SD_FLOOR, CV_FLOOR = 0.0003, 0.001
MIN_PAIRS = 10  # fewer replicate pairs do not pin down two variance parameters
K_RANGE = (1e-3, 1e2)  # OD: below, noise is proportional; above, additive, for any plate
# R's DNase ELISA duplicates (tests/test_simulation.py re-measures them): 0.00501 / 0.01950.
# The k of a plate with too few replicate pairs to measure its own.
DNASE_K = 0.257


@dataclass(frozen=True)
class NoiseEstimate:
    """A proportional + additive noise model fitted to duplicate pairs, and what it used."""

    cv: float
    sd: float
    pairs: int
    dropped: int  # pairs further than ``cutoff`` SDs apart, left out as gross errors

    @property
    def k(self) -> float:
        """The OD at which additive and proportional noise are equal (sd / cv), kept in K_RANGE."""
        ratio = self.sd / self.cv if self.cv > 0 else K_RANGE[1]
        return float(min(max(ratio, K_RANGE[0]), K_RANGE[1]))

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict for curve.json."""
        return {
            "cv": self.cv,
            "sd_od": self.sd,
            "k_od": self.k,
            "pairs": self.pairs,
            "dropped": self.dropped,
        }


def noise_from_duplicates(
    first: Sequence[float], second: Sequence[float], cutoff: float = 3.5
) -> NoiseEstimate:
    """Fit Var(OD) = sd^2 + (cv * OD)^2 to duplicate ODs by maximum likelihood.

    Each pair's difference is N(0, 2 Var(mean)). Pairs whose standardized
    difference exceeds ``cutoff`` after a first fit are gross errors (a
    bubble, a splash), not the reader's noise: they are dropped and the model
    refitted once. This is how the simulator's default noise was measured.
    """
    y1, y2 = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    mean, diff = (y1 + y2) / 2, y1 - y2

    def fit(keep: np.ndarray) -> tuple[float, float]:
        m, d = mean[keep], diff[keep]
        d2 = d**2  # the same in every evaluation

        def params(p: np.ndarray) -> tuple[float, float]:
            return max(math.exp(min(p[0], 5.0)), SD_FLOOR), max(math.exp(min(p[1], 5.0)), CV_FLOOR)

        def nll(p: np.ndarray) -> float:
            sd, cv = params(p)
            var = cv * m  # var = 2 * (sd**2 + (cv * m) ** 2), in place
            np.multiply(var, var, out=var)
            var += sd**2
            var *= 2
            terms = d2 / var
            terms += np.log(var)
            return float(0.5 * np.add.reduce(terms))  # terms.sum(), without its wrapper

        best = nelder_mead(nll, np.log([0.005, 0.03]), xatol=1e-6)
        return params(best.x)

    keep = np.ones(mean.size, dtype=bool)
    sd, cv = fit(keep)
    z = np.abs(diff) / np.sqrt(2 * (sd**2 + (cv * mean) ** 2))
    keep = z <= cutoff
    if not keep.all():
        sd, cv = fit(keep)
    return NoiseEstimate(cv=cv, sd=sd, pairs=int(keep.sum()), dropped=int((~keep).sum()))


REPLICATE_ROLES = ("standard", "control", "blank", "sample")


def replicate_pairs(
    wells: list[Well], roles: tuple[str, ...] = REPLICATE_ROLES
) -> tuple[list[float], list[float]]:
    """The first two read ODs of every replicate group of ``roles`` on a plate (standard
    level, control level, blanks, sample at a dilution): the data ``noise_from_duplicates``
    needs."""
    groups: dict[tuple, list[float]] = {}
    for w in wells:
        spec = w.spec
        if w.od is None or spec.role not in roles:
            continue
        key = (spec.role, spec.nominal, spec.level, spec.sample, spec.dilution)
        groups.setdefault(key, []).append(float(w.od))
    pairs = [ods[:2] for ods in groups.values() if len(ods) >= 2]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plate_noise(wells: list[Well], roles: tuple[str, ...] = REPLICATE_ROLES) -> dict[str, Any]:
    """The k to weight the plate's curve by, and where it came from (for curve.json).

    Measured on the replicate pairs of the plate's wells of ``roles`` when it
    has at least MIN_PAIRS of them; otherwise DNase's k, and the record says so.
    """
    first, second = replicate_pairs(wells, roles)
    if len(first) < MIN_PAIRS:
        return {
            "k_od": DNASE_K,
            "source": f"R's DNase ELISA duplicates (the plate has {len(first)} replicate pairs, "
            f"fewer than {MIN_PAIRS})",
        }
    est = noise_from_duplicates(first, second)
    which = "" if roles == REPLICATE_ROLES else f" ({', '.join(roles)})"
    return {**est.to_dict(), "source": f"this plate's {est.pairs} replicate pairs{which}"}
