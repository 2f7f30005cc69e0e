"""Simulated IL-6 plates with known truth, for choosing defaults and testing them.

A plate follows a layout: each standard, control and blank well gets the OD
of a true 4PL at its nominal concentration, each sample label a true
concentration drawn log-uniformly, and every well the noise of a real reader:
a proportional part (pipetting, ~5 % CV) and an additive part (optics,
~0.005 OD), read at 450 nm over a 570 nm reference that carries its own
plate background. The true curve varies from plate to plate within the range
seen for commercial IL-6 sandwich kits (top OD 2.5-3.5, EC50 150-400 pg/mL).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from il6assay.fit import four_pl
from il6assay.layout import Layout
from il6assay.plate import Plate, empty_grid


@dataclass(frozen=True)
class Noise:
    """Reader and pipetting noise: OD = f(x) * (1 + N(0, cv)) + N(0, sd) + background."""

    cv: float = 0.05
    sd: float = 0.005
    background: float = 0.045
    background_sd: float = 0.003


@dataclass(frozen=True)
class TrueCurve:
    """The ranges true 4PL parameters are drawn from, plate by plate."""

    a: tuple[float, float] = (0.03, 0.09)
    b: tuple[float, float] = (0.9, 1.3)
    c: tuple[float, float] = (150.0, 400.0)  # log-uniform
    d: tuple[float, float] = (2.5, 3.5)

    def draw(self, rng: np.random.Generator) -> tuple[float, float, float, float]:
        """One plate's true (a, b, c, d)."""
        a = rng.uniform(*self.a)
        b = rng.uniform(*self.b)
        c = float(np.exp(rng.uniform(np.log(self.c[0]), np.log(self.c[1]))))
        d = rng.uniform(*self.d)
        return a, b, c, d


@dataclass
class SimulatedPlate:
    """A plate to process and the truth behind it."""

    plate: Plate
    params: tuple[float, float, float, float]
    truth: dict[str, float] = field(default_factory=dict)  # sample label -> pg/mL on the plate


def simulate_plate(
    layout: Layout,
    rng: np.random.Generator,
    *,
    noise: Noise | None = None,
    curve: TrueCurve | None = None,
    sample_range: tuple[float, float] = (1.0, 600.0),
    plate_id: str = "simulated",
    truth: dict[str, float] | None = None,
) -> SimulatedPlate:
    """One simulated plate following ``layout``, with true sample concentrations.

    ``truth`` fixes some samples' on-plate concentrations; the rest are drawn.
    """
    noise = noise or Noise()
    a, b, c, d = (curve or TrueCurve()).draw(rng)
    labels = sorted({w.sample for w in layout.wells.values() if w.role == "sample" and w.sample})
    lo, hi = np.log(sample_range[0]), np.log(sample_range[1])
    drawn = {label: float(np.exp(rng.uniform(lo, hi))) for label in labels}
    truth = {**drawn, **(truth or {})}
    read_450, read_570 = empty_grid(), empty_grid()
    for name in read_450:
        spec = layout.wells.get(name)
        if spec is None or spec.role == "empty":
            x = None
        elif spec.role in ("standard", "control"):
            x = float(spec.nominal or 0.0)
        elif spec.role == "blank":
            x = 0.0
        else:
            x = truth[spec.sample] if spec.sample else 0.0
        background = noise.background + rng.normal(0, noise.background_sd)
        signal = 0.0 if x is None else float(four_pl(x, a, b, c, d))
        od = signal * (1 + rng.normal(0, noise.cv)) + rng.normal(0, noise.sd)
        read_450[name] = round(od + background, 3)  # readers print 3 decimals
        read_570[name] = round(background, 3)
    plate = Plate(
        id=plate_id,
        reads={"450": read_450, "570": read_570},
        metadata={"simulated": True, "true_params": {"a": a, "b": b, "c": c, "d": d}},
    )
    return SimulatedPlate(plate=plate, params=(a, b, c, d), truth=truth)


def grid_text(plate: Plate, sep: str = ",") -> str:
    """The plate in the plain grid format: a wavelength line, a 1..12 header, rows A..H per read."""
    lines = []
    for label, grid in plate.reads.items():
        lines.append(label)
        lines.append(sep.join(["", *(str(c) for c in range(1, plate.cols + 1))]))
        for r in "ABCDEFGHIJKLMNOP"[: plate.rows]:
            cells = [grid.get(f"{r}{c}") for c in range(1, plate.cols + 1)]
            lines.append(
                sep.join([r, *("" if v is None else str(getattr(v, "token", v)) for v in cells)])
            )
        lines.append("")
    return "\n".join(lines)
