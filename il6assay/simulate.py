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

Other signals (``signal=``): a chemiluminescent ELISA (``"rlu"``: one read
``lum``, 300-800 RLU at zero dose up to 2-5 x 10^6, 3 % CV and 30 RLU of
counting noise, printed as whole counts: five decades) and an HTRF/TR-FRET
assay (``"trf"``: reads ``trf 665`` and ``trf 620``; the 620 nm donor
emission is about 40,000 counts, the 665 nm acceptor emission rises from
crosstalk (4-8 % of the donor) with the 4PL, and each well's volume and
quenching scale both channels alike (5 % CV), which the 665/620 ratio
cancels; process it with ``Settings(ratio="trf 665/trf 620")``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from il6assay.curve.fit import four_pl
from il6assay.plate.export import Plate, empty_grid
from il6assay.plate.layout import SHAPES, Layout
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


SIGNALS = ("od", "rlu", "trf")
# Chemiluminescence: zero-dose and top RLU (counts), and the reader's noise.
RLU_CURVE = TrueCurve(a=(300.0, 800.0), d=(2e6, 5e6))
RLU_NOISE = Noise(cv=0.03, sd=30.0, background=0.0, background_sd=0.0)
# TR-FRET: the acceptor (665 nm) signal over a ~40,000-count donor (620 nm).
TRF_CURVE = TrueCurve(a=(1600.0, 3200.0), d=(30000.0, 60000.0))
TRF_NOISE = Noise(cv=0.02, sd=60.0, background=0.0, background_sd=0.0)
TRF_DONOR = 40000.0
TRF_WELL_CV = 0.05  # volume/quenching: scales both channels of a well alike
TRF_RATIO = "trf 665/trf 620"


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
    signal: str = "od",
    loaded: dict[str, float] | None = None,
) -> SimulatedPlate:
    """One simulated plate following ``layout``, with true sample concentrations.

    ``truth`` fixes some samples' on-plate concentrations; the rest are drawn.
    ``loaded`` fixes the true concentration in named wells (validation wells:
    ``validation_loads``); a validation well without one gets its nominal.
    ``signal`` is "od" (450/570 nm absorbance), "rlu" or "trf" (module docstring).
    """
    if signal not in SIGNALS:
        raise ValueError(f"signal must be one of {', '.join(SIGNALS)}, not {signal!r}")
    defaults = {"od": (Noise(), TrueCurve()), "rlu": (RLU_NOISE, RLU_CURVE)}
    default_noise, default_curve = defaults.get(signal, (TRF_NOISE, TRF_CURVE))
    noise = noise or default_noise
    a, b, c, d = (curve or default_curve).draw(rng)
    labels = sorted({w.sample for w in layout.wells.values() if w.role == "sample" and w.sample})
    lo, hi = np.log(sample_range[0]), np.log(sample_range[1])
    drawn = {label: float(np.exp(rng.uniform(lo, hi))) for label in labels}
    truth = {**drawn, **(truth or {})}
    if signal != "od":
        x_of = _truth_by_well(layout, truth)
        reads = _counts_plate(signal, x_of, (a, b, c, d), noise, rng)
        plate = Plate(
            id=plate_id,
            reads=reads,
            metadata={
                "simulated": True,
                "signal": signal,
                "true_params": {"a": a, "b": b, "c": c, "d": d},
            },
            rows=SHAPES[layout.size][0],
            cols=SHAPES[layout.size][1],
        )
        return SimulatedPlate(plate=plate, params=(a, b, c, d), truth=truth)
    read_450, read_570 = empty_grid(*SHAPES[layout.size]), empty_grid(*SHAPES[layout.size])
    for name in read_450:
        spec = layout.wells.get(name)
        if spec is None or spec.role == "empty":
            x = None
        elif loaded is not None and name in loaded:
            x = loaded[name]
        elif spec.role in ("standard", "control", "qc", "stability", "pool", "selectivity"):
            x = float(spec.nominal or 0.0) + float(spec.spike or 0.0)
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
        rows=SHAPES[layout.size][0],
        cols=SHAPES[layout.size][1],
    )
    return SimulatedPlate(plate=plate, params=(a, b, c, d), truth=truth)


def _truth_by_well(layout: Layout, truth: dict[str, float]) -> dict[str, float | None]:
    """Each well's true concentration (None for an empty well)."""
    out: dict[str, float | None] = {}
    for name in empty_grid(*SHAPES[layout.size]):
        spec = layout.wells.get(name)
        if spec is None or spec.role == "empty":
            out[name] = None
        elif spec.role in ("standard", "control", "qc"):
            out[name] = float(spec.nominal or 0.0)
        elif spec.role == "blank":
            out[name] = 0.0
        else:
            out[name] = truth[spec.sample] if spec.sample else 0.0
    return out


def _counts_plate(
    signal: str,
    x_of: dict[str, float | None],
    params: tuple[float, float, float, float],
    noise: Noise,
    rng: np.random.Generator,
) -> dict[str, dict[str, float | None]]:
    """The reads of an RLU or TR-FRET plate, as whole counts (readers print integers)."""
    a, b, c, d = params
    rows, cols = (16, 24) if len(x_of) == 384 else (8, 12)
    if signal == "rlu":
        lum = empty_grid(rows, cols)
        for name, x in x_of.items():
            f = a if x is None else float(four_pl(x, a, b, c, d))
            value = f * (1 + rng.normal(0, noise.cv)) + rng.normal(0, noise.sd)
            lum[name] = float(max(round(value), 0))
        return {"lum": lum}
    acceptor, donor = empty_grid(rows, cols), empty_grid(rows, cols)
    for name, x in x_of.items():
        well = 1 + rng.normal(0, TRF_WELL_CV)
        f = a if x is None else float(four_pl(x, a, b, c, d))
        em665 = well * f * (1 + rng.normal(0, noise.cv)) + rng.normal(0, noise.sd)
        em620 = well * TRF_DONOR * (1 + rng.normal(0, noise.cv)) + rng.normal(0, noise.sd)
        acceptor[name] = float(max(round(em665), 0))
        donor[name] = float(max(round(em620), 1))
    return {"trf 665": acceptor, "trf 620": donor}


@dataclass(frozen=True)
class ValidationTruth:
    """The truth behind a simulated method-validation study (docs/validation.md).

    Each run draws one run effect ``b ~ N(0, cv_between)``; a QC or stability
    well then holds ``nominal x (1 + b + e)``, ``e ~ N(0, cv_within)`` per well:
    within- and between-run CVs known in advance (the reader's own noise comes
    on top). Pools, selectivity sources and samples hold their endogenous
    IL-6 (``endogenous``, neat pg/mL) plus their spike, divided by a sample's
    dilution; a stability well also keeps ``remaining[(condition, hours)]``
    (1 when not given) of its nominal.
    """

    cv_within: float = 0.06
    cv_between: float = 0.05
    endogenous: dict[str, float] = field(default_factory=dict)
    remaining: dict[tuple[str, float], float] = field(default_factory=dict)


def validation_loads(
    layout: Layout, truth: ValidationTruth, run_effect: float, rng: np.random.Generator
) -> dict[str, float]:
    """Each validation or sample well's true concentration on one run (``ValidationTruth``)."""
    loads: dict[str, float] = {}
    for name, spec in layout.wells.items():
        if spec.role in ("qc", "stability"):
            kept = truth.remaining.get((spec.condition or "", spec.hours or 0.0), 1.0)
            effect = 1 + run_effect + rng.normal(0, truth.cv_within)
            loads[name] = float(spec.nominal or 0.0) * kept * effect
        elif spec.role in ("pool", "selectivity"):
            base = truth.endogenous.get(spec.sample or spec.source or "", 0.0)
            loads[name] = base + float(spec.spike or 0.0)
        elif spec.role == "sample" and spec.sample in truth.endogenous:
            loads[name] = truth.endogenous[spec.sample] / spec.dilution
    return loads


def simulate_validation_run(
    layout: Layout,
    truth: ValidationTruth,
    rng: np.random.Generator,
    *,
    noise: Noise | None = None,
    plate_id: str = "validation",
) -> SimulatedPlate:
    """One validation run's plate: a run effect drawn, every well loaded (``validation_loads``)."""
    run_effect = float(rng.normal(0, truth.cv_between))
    loads = validation_loads(layout, truth, run_effect, rng)
    sim = simulate_plate(layout, rng, noise=noise, plate_id=plate_id, loaded=loads)
    sim.plate.metadata["run_effect"] = run_effect
    return sim


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
    not_reportable: int = 0  # samples with no result at all (m10: HIGH_CV, LLOQ_RAISED)
    samples: int = 0  # samples on the accepted plates
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
    signal: str = "od",
) -> Validation:
    """Process simulated plates (samples 0.3-3000 pg/mL) as ``il6assay process`` does; score them.

    The standards' range is the layout's lowest to highest non-zero standard;
    ``edges`` split it into the sub-ranges of ``Validation.by_range``.
    ``signal="trf"`` processes the 665/620 ratio unless ``settings`` says otherwise.
    """
    if signal == "trf" and settings is None:
        settings = Settings(ratio=TRF_RATIO)
    from pathlib import Path

    from il6assay.plate.export import Export
    from il6assay.run import process_plate

    levels = sorted(float(w.nominal) for w in layout.standards() if w.nominal)
    lo, hi = levels[0], levels[-1]
    bounds = [lo, *edges, hi]
    names = [f"{a:g}-{b:g}" for a, b in itertools.pairwise(bounds)]
    out = Validation(by_range={name: [0, 0, 0] for name in names})
    for i in range(plates):
        sim = simulate_plate(layout, rng, noise=noise, sample_range=(0.3, 3000.0), signal=signal)
        export = Export(format="simulated", path=Path(f"sim{i}.sim"), plates=[sim.plate])
        run = process_plate(export, layout, None, settings, allow_unmatched=True)
        out.plates += 1
        if not run.accepted:
            out.rejected_plates += 1
            continue
        for s in run.samples:
            truth = sim.truth[s.sample]
            out.samples += 1
            out.not_reportable += not s.result  # no number and no censored bound
            if not lo <= truth <= hi:
                out.outside += 1
                if s.conc_pg_ml is not None:
                    out.leaked.append((truth, s.result, run.lloq or lo, run.uloq or hi))
                    out.unflagged += not {"NEAR_LLOQ", "NEAR_ULOQ"} & set(s.flags)
                elif s.result and not {"BELOW_LLOQ", "ABOVE_ULOQ"} & set(s.flags):
                    out.unflagged += 1  # (a result not reportable at all is no claim)
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
