"""The well table's confidence limits, computed over all wells at once, are each well's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from il6assay.qc.results import well_ci, well_cis
from il6assay.run import process_plate
from il6assay.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / "plate_layouts" / "il6_96_standard.toml"


@pytest.mark.parametrize("weighting", ["none", "1/y^2", "1/(k^2+y^2)"])
@pytest.mark.parametrize("model", ["4pl", "5pl", "loglog"])
def test_the_well_tables_ci_are_each_wells_own_to_the_last_digit(tmp_path, model, weighting):
    from il6assay.plate.layout import load_layout
    from il6assay.simulate import grid_text, simulate_plate

    layout = load_layout(LAYOUT)
    rng = np.random.default_rng(27)
    compared = 0
    for i in range(4):
        export = tmp_path / f"plate_{i}.csv"
        export.write_text(grid_text(simulate_plate(layout, rng, plate_id=f"p{i}").plate))
        run = process_plate(export, LAYOUT, None, Settings(model=model, weighting=weighting),
                            allow_unmatched=True)  # fmt: skip
        together = well_cis(run.wells, run.curve)
        one_by_one = [well_ci(w, run.curve) for w in run.wells]
        assert [repr(ci) for ci in together] == [repr(ci) for ci in one_by_one]
        compared += sum(low is not None for low, _ in together)
    assert compared > 50  # wells with a concentration (a 5PL fit may fail on a plate)
