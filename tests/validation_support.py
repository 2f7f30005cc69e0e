"""A simulated method-validation study, processed and accepted for real (made once per module).

Six runs over three days of ``fixtures/validation/validation_plate.layout.toml``
(5 QC levels in triplicate, a parallelism series, spiked pools, 10
selectivity sources, bench stability), simulated by
``il6assay.simulate.simulate_validation_run`` with known within- and
between-run CVs, written as plain grid CSV exports, processed by
``process_plate``, written as run folders and accepted by a reviewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from il6assay.simulate import Noise, ValidationTruth, grid_text, simulate_validation_run
from tests.conftest import FIXTURES

VALIDATION = FIXTURES / "validation"
LAYOUT = VALIDATION / "validation_plate.layout.toml"
SAMPLES = VALIDATION / "validation_plate.samples.csv"
# The truth: 6 % within-run and 5 % between-run CV on every QC; a quiet reader
# (0.3 % CV, 0.0005 OD), so that the wells' spread is the one simulated.
TRUTH = ValidationTruth(
    cv_within=0.06,
    cv_between=0.05,
    endogenous={
        "POOL1": 20.0,
        "POOL2": 40.0,
        "PAR1": 200.0,
        "PAR2": 1000.0,
        **{f"BM{i:02d}": 2.0 + 3.0 * i for i in range(1, 11)},
    },
    remaining={("bench", 24.0): 0.97, ("bench", 72.0): 0.9},
)
QUIET = Noise(cv=0.003, sd=0.0005, background=0.045, background_sd=0.0003)


@dataclass
class Study:
    """The run folders and the simulated run effects behind them."""

    runs: list[Path]
    run_effects: list[float]
    root: Path


def build_study(root: Path, *, seed: int = 24, runs: int = 6, days: int = 3) -> Study:
    """Simulate, process, write and accept ``runs`` validation runs over ``days`` days."""
    from il6assay.plate.layout import load_layout
    from il6assay.record.outputs import write_run
    from il6assay.record.review import review_run
    from il6assay.run import process_plate

    rng = np.random.default_rng(seed)
    layout = load_layout(LAYOUT)
    folders, effects = [], []
    for i in range(runs):
        name = f"day{i * days // runs + 1}_run{i + 1}"
        sim = simulate_validation_run(layout, TRUTH, rng, noise=QUIET, plate_id=name)
        export = root / "exports" / f"{name}.csv"
        export.parent.mkdir(parents=True, exist_ok=True)
        export.write_text(grid_text(sim.plate), encoding="utf-8")
        run = process_plate(export, LAYOUT, SAMPLES)
        assert run.accepted, run.verdict
        folder = write_run(run, root / "runs", report=False)
        review_run(folder, "accept", "Lin", "validation run: curve and QCs checked")
        folders.append(folder)
        effects.append(float(sim.plate.metadata["run_effect"]))
    return Study(folders, effects, root)
