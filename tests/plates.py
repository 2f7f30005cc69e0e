"""Noiseless simulated plates for the rule and flag tests, with exact known truth.

The true curve is a = 0.06, b = 1.1, c = 220 pg/mL, d = 3.1 (TRUE); every
sample sits at 50 pg/mL unless a test says otherwise, and a test moves
individual wells' ODs to make its case.
"""

from __future__ import annotations

import numpy as np

from il6assay.curve.fit import four_pl
from il6assay.plate.export import Plate
from il6assay.plate.layout import Layout
from il6assay.simulate import Noise, TrueCurve, simulate_plate

TRUE = (0.06, 1.1, 220.0, 3.1)  # a, b, c, d of the simulated plate


def make_plate(layout: Layout, truth: dict[str, float] | None = None) -> Plate:
    """A noiseless plate: every sample at 50 pg/mL unless ``truth`` says otherwise."""
    labels = {s.sample for s in layout.wells.values() if s.role == "sample" and s.sample}
    a, b, c, d = TRUE
    sim = simulate_plate(
        layout,
        np.random.default_rng(1),
        curve=TrueCurve(a=(a, a), b=(b, b), c=(c, c), d=(d, d)),
        noise=Noise(cv=0.0, sd=0.0, background_sd=0.0),
        truth={**dict.fromkeys(labels, 50.0), **(truth or {})},
    )
    return sim.plate


def true_od(x: float) -> float:
    """The true curve's OD at concentration ``x``."""
    return float(four_pl(x, *TRUE))


def set_od(plate: Plate, well: str, od: float) -> None:
    """Make the well's corrected OD (450 - 570) equal ``od``."""
    plate.reads["450"][well] = od + float(plate.reads["570"][well])  # type: ignore[arg-type]


def set_conc(plate: Plate, well: str, x: float) -> None:
    """Give the well the OD of concentration ``x`` on the true curve."""
    set_od(plate, well, true_od(x))
