"""The library API a statistician uses without the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from il6assay import fit_curve, process_plate
from il6assay.curve.fit import four_pl
from tests.conftest import EXAMPLE


def test_fit_curve_recovers_a_noiseless_curve_and_inverts_it():
    conc = np.repeat([300, 150, 75, 37.5, 18.75, 9.375, 4.6875, 0], 2)
    od = four_pl(conc, 0.05, 1.2, 200.0, 3.0)
    fit = fit_curve(conc, od, weighting="1/y^2")
    assert fit.success
    for name, true in zip("abcd", (0.05, 1.2, 200.0, 3.0), strict=True):
        assert fit.params[name] == pytest.approx(true, rel=1e-6)
    assert float(fit.inverse(fit.predict(42.0))) == pytest.approx(42.0, rel=1e-9)
    assert math.isnan(float(fit.inverse(0.01)))  # below a: not invertible
    assert fit.side(0.01) == "below" and fit.side(3.5) == "above"


def test_fit_failure_is_a_result_with_a_reason_not_an_exception():
    fit = fit_curve([300, 150, 75, 37.5, 18.75, 0], [1.0] * 6)
    assert not fit.success
    assert "equal" in fit.message
    assert all(math.isnan(v) for v in fit.params.values())


def test_fit_parameters_convert_to_lmfit():
    conc = np.repeat([300, 150, 75, 37.5, 18.75, 9.375, 4.6875, 0], 2)
    od = four_pl(conc, 0.05, 1.2, 200.0, 3.0) * (1 + 0.02 * np.sin(np.arange(16)))
    fit = fit_curve(conc, od)
    params = fit.to_lmfit()
    assert params["c"].value == fit.params["c"]
    assert params["c"].stderr == fit.stderr["c"]


def test_process_plate_gives_results_and_frames_without_the_cli():
    run = process_plate(
        EXAMPLE / "plate_001.xlsx",
        EXAMPLE / "plate_001.layout.toml",
        EXAMPLE / "plate_001.samples.csv",
    )
    assert run.accepted and run.lloq == 4.6875 and run.uloq == 300
    results, wells = run.frames()
    assert len(results) == 32 and len(wells) == 96  # P10 and P11: one specimen
    assert results.loc[results["sample"] == "P01", "result"].item() == "<4.69"


def test_flat_curve_check_compares_ods_with_the_residual_sd_in_od_units():
    """A weighted fit's sigma is relative; the flat-curve check must not use it as an OD."""
    conc = np.repeat([300, 150, 75, 37.5, 18.75, 9.375, 4.6875, 0], 2)
    od = four_pl(conc, 0.05, 1.2, 200.0, 3.0) * (1 + 0.03 * np.sin(np.arange(16)))
    fit = fit_curve(conc, od, weighting="1/y^2")
    assert fit.success and "FLAT_CURVE" not in fit.warnings
    flat = fit_curve(conc, 0.5 + 0.02 * np.sin(np.arange(16)), weighting="1/y^2")
    assert not flat.success and "no significant slope" in flat.message
    assert "residual SD 0.01" in flat.message  # OD units: about the 0.02 ripple, not relative
