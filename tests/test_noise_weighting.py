"""Weighting by the plate's own replicate noise: "1/(k^2+y^2)".

The reader's noise has an additive part and a proportional part (DNase:
0.005 OD + 1.95 % CV), so its SD is sigma * sqrt(k^2 + y^2) with k = sd / cv.
`il6assay.curve.noise` measures (sd, cv) from a plate's replicate pairs and the fit
weights the curve and builds the intervals with that SD function.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.curve.fit import NOISE_WEIGHTING, fit_curve, logistic
from il6assay.curve.noise import DNASE_K, MIN_PAIRS, plate_noise, replicate_pairs
from il6assay.plate.layout import load_layout
from il6assay.plate.wells import build_wells
from il6assay.settings import Settings
from il6assay.simulate import simulate_plate
from tests.conftest import EXAMPLE, STANDARD_LAYOUT, run_dirs

TRUE = {"a": 0.05, "b": 1.1, "c": 220.0, "d": 3.0}
X = np.repeat([0.0, 4.6875, 9.375, 18.75, 37.5, 75.0, 150.0, 300.0], 2)


def noisy(x: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = logistic(x, **TRUE)
    return f * (1 + rng.normal(0, 0.02, f.shape)) + rng.normal(0, 0.005, f.shape)


def test_noise_weighting_needs_k_and_other_weightings_refuse_it():
    y = noisy(X, 1)
    with pytest.raises(ValueError, match="k is given"):
        fit_curve(X, y, weighting=NOISE_WEIGHTING)
    with pytest.raises(ValueError, match="k is given"):
        fit_curve(X, y, weighting="1/y", k=0.25)
    with pytest.raises(ValueError, match="positive"):
        fit_curve(X, y, weighting=NOISE_WEIGHTING, k=-1.0)


def test_residual_sd_has_an_additive_floor_and_a_proportional_part():
    fit = fit_curve(X, noisy(X, 2), weighting=NOISE_WEIGHTING, k=0.25)
    assert fit.success and fit.k == 0.25
    sd = fit.residual_sd(np.array([0.0, 0.25, 2.0]))
    floor = fit._weight_floor
    expected = fit.sigma * np.sqrt(np.maximum([0.0, 0.25, 2.0], floor) ** 2 + 0.25**2)
    np.testing.assert_allclose(sd, expected)
    assert sd[1] / sd[0] == pytest.approx(np.sqrt(2), rel=0.01)  # y = k: the two parts equal
    assert fit.summary()["weighting_k_od"] == 0.25


def test_k_limits_are_the_power_weightings():
    y = noisy(X, 3)
    tiny = fit_curve(X, y, weighting=NOISE_WEIGHTING, k=1e-9)
    proportional = fit_curve(X, y, weighting="1/y^2")
    for name in "abcd":
        assert tiny.params[name] == pytest.approx(proportional.params[name], rel=1e-5)
    huge = fit_curve(X, y, weighting=NOISE_WEIGHTING, k=1e6)
    plain = fit_curve(X, y)
    for name in "abcd":
        assert huge.params[name] == pytest.approx(plain.params[name], rel=1e-5)


def test_replicate_pairs_group_by_level_label_and_dilution_and_skip_unread_wells():
    layout = load_layout(STANDARD_LAYOUT)
    sim = simulate_plate(layout, np.random.default_rng(4))
    standard = next(w for w in layout.standards() if w.nominal)
    # A masked well leaves its level unpaired.
    wells, _, _ = build_wells(sim.plate, layout, Settings(masked=(standard.well,)))
    assert next(w for w in wells if w.name == standard.well).od is None
    first, second = replicate_pairs(wells)
    groups = {}
    for w in wells:
        if w.od is not None and w.spec.role in ("standard", "control", "blank", "sample"):
            key = (w.spec.role, w.spec.nominal, w.spec.level, w.spec.sample, w.spec.dilution)
            groups.setdefault(key, []).append(w.od)
    assert len(first) == sum(len(v) >= 2 for v in groups.values())
    assert len(first) >= MIN_PAIRS
    assert all(
        any(a == v[0] and b == v[1] for v in groups.values())
        for a, b in zip(first, second, strict=True)
    )


def test_a_plate_with_few_pairs_is_weighted_by_dnase_noise_and_says_so():
    layout = load_layout(STANDARD_LAYOUT)
    plate = simulate_plate(layout, np.random.default_rng(5)).plate
    wells, _, _ = build_wells(plate, layout, Settings())
    measured = plate_noise(wells)
    assert "this plate's" in measured["source"] and 0.005 < measured["cv"] < 0.05
    few = plate_noise([w for w in wells if w.spec.role == "standard"])  # 8 pairs
    assert few["k_od"] == DNASE_K and "fewer than 10" in few["source"]


def test_process_with_noise_weighting_records_the_plate_noise(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["process", str(EXAMPLE / "plate_001.xlsx"), "--out", str(out), "--weighting",
               NOISE_WEIGHTING]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (folder,) = run_dirs(out)
    curve = json.loads((folder / "curve.json").read_text())
    assert curve["fit"]["weighting"] == NOISE_WEIGHTING
    noise = curve["noise"]
    # The m10 rules measure it on the method's wells only: 8 standard levels, the blanks
    # and 3 QC levels; never on study samples.
    assert noise["pairs"] == 12 and noise["k_od"] == curve["fit"]["weighting_k_od"]
    assert "(standard, blank, qc, control)" in noise["source"]
    assert noise["k_od"] == pytest.approx(noise["sd_od"] / noise["cv"])
    assert "Noise (weights)" in (folder / "report.html").read_text()
