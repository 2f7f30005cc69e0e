"""Simulated IL-6 plates with known truth, for choosing defaults and testing them.

A plate follows a layout: each standard, control and blank well gets the OD
of a true 4PL at its nominal concentration, each sample label a true
concentration drawn log-uniformly, and every well the noise of a real reader:
a proportional part (2 % CV) and an additive part (0.005 OD), read at 450 nm
over a 570 nm reference that carries its own plate background. The noise is
the one measured in the only real ELISA duplicates the project holds, R's
DNase data (``il6assay.curve.noise.noise_from_duplicates`` on ../shared/reference_data/dnase.csv:
1.95 % CV + 0.0050 OD; docs/curve.md, "Accuracy on realistic plates"). The
true curve varies from plate to plate within the range seen for commercial
IL-6 sandwich kits (top OD 2.5-3.5, EC50 150-400 pg/mL).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from il6assay.curve.fit import four_pl
from il6assay.plate.export import Plate, empty_grid
from il6assay.plate.layout import Layout
from il6assay.settings import Settings


@dataclass(frozen=True)
class Noise:
    """Reader and pipetting noise: OD = f(x) * (1 + N(0, cv)) + N(0, sd) + background.

    The defaults are DNase's duplicates (module docstring); ``Noise(cv=0.05)``
    is the pessimistic plate the docs also measure.
    """

    cv: float = 0.02
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


@dataclass
class Validation:
    """How simulated truths came back through ``process_plate``: the issue's accuracy bar.

    A truth inside the standards' range is *reported* (a number), or
    *censored* (its OD fell outside the calibrated ODs); a truth outside the
    range must come back flagged: censored with BELOW_LLOQ/ABOVE_ULOQ, or, when
    noise carried its OD inside the range (*leaked*), a number flagged
    NEAR_LLOQ/NEAR_ULOQ; either without its flag is *unflagged*.
    """

    plates: int = 0
    rejected_plates: int = 0  # plates the rules rejected: nothing on them is scored
    reported: int = 0
    within20: int = 0
    covered: int = 0  # reported results whose 95 % CI holds the truth
    censored: int = 0
    outside: int = 0
    unflagged: int = 0
    leaked: list[tuple[float, str, float, float]] = field(default_factory=list)
    by_range: dict[str, list[int]] = field(default_factory=dict)  # "4.69-10": [n, within, covered]

    def line(self, name: str) -> str:
        """One markdown table row: the overall shares."""
        n = max(self.reported, 1)
        censored = self.censored / max(self.censored + self.reported, 1)
        return (
            f"| {name} | {self.plates} | {self.reported} | {self.within20 / n:.2%} | "
            f"{self.covered / n:.2%} | {censored:.2%} | "
            f"{len(self.leaked)}/{self.outside} | {self.unflagged} |"
        )


def validate(
    layout: Layout,
    plates: int,
    rng: np.random.Generator,
    *,
    noise: Noise | None = None,
    settings: Settings | None = None,
    edges: Sequence[float] = (10.0, 30.0, 100.0),
) -> Validation:
    """Process simulated plates (samples 0.3-3000 pg/mL) as ``il6assay process`` does; score them.

    The standards' range is the layout's lowest to highest non-zero standard;
    ``edges`` split it into the sub-ranges of ``Validation.by_range``.
    """
    from pathlib import Path

    from il6assay.plate.export import Export
    from il6assay.run import process_plate

    levels = sorted(float(w.nominal) for w in layout.standards() if w.nominal)
    lo, hi = levels[0], levels[-1]
    bounds = [lo, *edges, hi]
    names = [f"{a:g}-{b:g}" for a, b in itertools.pairwise(bounds)]
    out = Validation(by_range={name: [0, 0, 0] for name in names})
    for i in range(plates):
        sim = simulate_plate(layout, rng, noise=noise, sample_range=(0.3, 3000.0))
        export = Export(format="simulated", path=Path(f"sim{i}.sim"), plates=[sim.plate])
        run = process_plate(export, layout, None, settings, allow_unmatched=True)
        out.plates += 1
        if not run.accepted:
            out.rejected_plates += 1
            continue
        for s in run.samples:
            truth = sim.truth[s.sample]
            if not lo <= truth <= hi:
                out.outside += 1
                if s.conc_pg_ml is not None:
                    out.leaked.append((truth, s.result, run.lloq or lo, run.uloq or hi))
                    out.unflagged += not {"NEAR_LLOQ", "NEAR_ULOQ"} & set(s.flags)
                elif not {"BELOW_LLOQ", "ABOVE_ULOQ"} & set(s.flags):
                    out.unflagged += 1
                continue
            if s.conc_pg_ml is None:
                out.censored += 1
                continue
            hit = abs(s.conc_pg_ml / truth - 1) <= 0.20
            cover = (s.ci_low_pg_ml or 0.0) <= truth <= (s.ci_high_pg_ml or 0.0)
            k = int(np.searchsorted(bounds, truth, side="right")) - 1
            cell = out.by_range[names[min(k, len(names) - 1)]]
            cell[0] += 1
            cell[1] += hit
            cell[2] += cover
            out.reported += 1
            out.within20 += hit
            out.covered += cover
    return out
