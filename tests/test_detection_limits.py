"""LoB and LoD (CLSI EP17) from blank and low wells; the API example runs."""

from __future__ import annotations

import doctest
import statistics
from pathlib import Path

import numpy as np
import pytest

from il6assay.plate.export import Export
from il6assay.plate.layout import load_layout
from il6assay.run import process_plate
from il6assay.simulate import Noise, TrueCurve, simulate_plate
from tests.conftest import STANDARD_LAYOUT


def run_of(seed: int = 5):
    layout = load_layout(STANDARD_LAYOUT)
    sim = simulate_plate(
        layout,
        np.random.default_rng(seed),
        curve=TrueCurve(a=(0.06, 0.06), b=(1.1, 1.1), c=(220.0, 220.0), d=(3.1, 3.1)),
        noise=Noise(cv=0.03, sd=0.004),
    )
    export = Export(format="test", path=Path("x.sim"), plates=[sim.plate])
    return process_plate(export, layout, None, allow_unmatched=True)


def test_lob_is_mean_plus_1645_sd_of_the_blank_wells_through_the_curve():
    run = run_of()
    blanks = [w for w in run.wells if w.spec.role == "blank"]
    ods = [w.od for w in blanks]
    expected_od = statistics.fmean(ods) + 1.645 * statistics.stdev(ods)
    det = run.detection
    assert det["blank_wells"] == ["A3", "B3"] and det["blank_kind"] == "blank"
    assert det["lob_od"] == pytest.approx(expected_od)
    assert det["lob_pg_ml"] == pytest.approx(float(run.curve.inverse(expected_od)))
    assert "CLSI EP17" in det["source"]


def test_lod_adds_1645_sd_of_the_lowest_standard_to_the_lob():
    run = run_of()
    low = [
        w.conc_on_plate for w in run.wells if w.spec.role == "standard" and w.spec.nominal == 4.6875
    ]
    det = run.detection
    assert det["lod_pg_ml"] == pytest.approx(det["lob_pg_ml"] + 1.645 * statistics.stdev(low))
    assert det["lob_pg_ml"] < det["lod_pg_ml"] < 4.6875 * 2


def test_fit_curve_docstring_example_runs():
    import il6assay.curve.fit

    result = doctest.testmod(il6assay.curve.fit, verbose=False)
    assert result.attempted >= 1 and result.failed == 0
