"""Plates with known truth through the whole pipeline: out-of-range truth is flagged."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from il6assay.layout import load_layout
from il6assay.plate import Export
from il6assay.run import process_plate
from il6assay.simulate import simulate_plate
from tests.conftest import STANDARD_LAYOUT


def test_samples_far_outside_the_standards_range_are_flagged_not_numbers():
    """30 simulated plates (5 % CV + 0.005 OD noise), samples from 0.3 to 3000 pg/mL.

    Above the range: every truth over twice the ULOQ comes back ">ULOQ", flagged.
    Below: the lowest standard (4.69 pg/mL, ~0.044 OD above blank) sits at this
    noise floor, so a truth under half the LLOQ can read just above it: measured
    1 in 525 (a truth of 2.3 read as 4.85). The test holds that rate under 1 %
    and such a value to within 25 % of the LLOQ; see the notes on the LLOQ's
    precision.
    """
    layout = load_layout(STANDARD_LAYOUT)
    rng = np.random.default_rng(11)
    below = above = leaked = 0
    for i in range(30):
        sim = simulate_plate(layout, rng, sample_range=(0.3, 3000.0))
        export = Export(format="simulated", path=Path(f"sim{i}.sim"), plates=[sim.plate])
        run = process_plate(export, layout, None, allow_unmatched=True)
        assert run.lloq is not None and run.uloq is not None
        for s in run.samples:
            truth = sim.truth[s.sample]
            if truth > run.uloq * 2:
                above += 1
                assert s.conc_pg_ml is None and s.result.startswith(">"), (truth, s.result)
                assert "ABOVE_ULOQ" in s.flags
            elif truth < run.lloq / 2:
                below += 1
                if s.conc_pg_ml is None:
                    assert s.result.startswith("<") and "BELOW_LLOQ" in s.flags
                else:
                    leaked += 1
                    assert s.conc_pg_ml < run.lloq * 1.25, (truth, s.result)
    assert above > 100 and below > 200
    assert leaked / below < 0.01
