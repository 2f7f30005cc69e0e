"""The model comparison's 5PL starts from the plate's chosen 4PL, not from a 4PL of its own.

``fit_curve(model="5pl", four=...)`` takes a 4PL already fitted to the same standards
(same weighting and k) as its first start (the 4PL is the 5PL with g = 1) instead of
fitting a quick 4PL first; ``run.compare_models`` passes the chosen 4PL, or, when the
chosen model is the log-log line, the quick 4PL it has just fitted for the comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from il6assay import run as run_module
from il6assay.curve import fit as fit_module
from il6assay.curve.fit import fit_curve
from il6assay.run import compare_models, process_plate
from il6assay.settings import Settings
from tests.conftest import ROOT

LAYOUT = ROOT / "plate_layouts" / "il6_96_standard.toml"


@pytest.fixture(scope="module")
def plates(tmp_path_factory) -> Path:
    """Six simulated plates as the batch benchmark makes them (seed 27): the example plate's
    5PL runs its g to the bound under every weighting, these fit one."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_study import make_plates
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    folder = tmp_path_factory.mktemp("plates") / "plates"
    make_plates(folder, 6, seed=27)
    return folder


def _standards(plates: Path, i: int, settings: Settings):
    """Plate ``i`` processed with ``settings``: its run and its standards' points."""
    name = f"plate_{i:04d}"
    run = process_plate(plates / f"{name}.csv", LAYOUT, plates / f"{name}.samples.csv", settings)
    points = [w for w in run.wells if w.spec.role == "standard" and w.od is not None]
    conc = [float(w.spec.nominal or 0.0) for w in points]
    ods = [float(w.od) for w in points]
    return run, points, conc, ods


def _count_4pl_fits(monkeypatch) -> list[bool]:
    """Record every 4PL fit_curve makes from now on (its ``quick``), the 5PL's inner one too."""
    made: list[bool] = []
    real = fit_module.fit_curve

    def counting(conc, response, model="4pl", weighting="none", **options):
        if model == "4pl":
            made.append(bool(options.get("quick")))
        return real(conc, response, model, weighting, **options)

    monkeypatch.setattr(fit_module, "fit_curve", counting)  # the 5PL's own 4PL
    monkeypatch.setattr(run_module, "fit_curve", counting)  # the comparison's fits
    return made


def test_a_5pl_given_a_4pl_fits_no_4pl_of_its_own_and_ends_where_its_own_start_led(
    monkeypatch, plates
):
    _, _, conc, ods = _standards(plates, 5, Settings(rules="kit", weighting="none"))
    quick_four = fit_curve(conc, ods, "4pl", quick=True)
    on_its_own = fit_curve(conc, ods, "5pl", quick=True)
    made = _count_4pl_fits(monkeypatch)
    given = fit_module.fit_curve(conc, ods, "5pl", quick=True, four=quick_four)
    assert made == []  # the 4PL given is the start: none fitted
    # Given the very 4PL it would have fitted, the 5PL is the same to the last bit.
    assert given.success and given.params == on_its_own.params
    assert given.aic == on_its_own.aic and given.rss == on_its_own.rss
    fit_module.fit_curve(conc, ods, "5pl", quick=True)
    assert made == [True]  # without one, it fits a quick 4PL first


@pytest.mark.parametrize(
    ("four_as", "five_as"),
    [
        ({"weighting": "1/y"}, {"weighting": "1/y^2"}),  # another weighting
        ({"weighting": "1/(k^2+y^2)", "k": 0.05}, {"weighting": "1/(k^2+y^2)", "k": 0.08}),
        ({"model": "5pl"}, {}),  # not a 4PL
        ({}, {"model": "4pl"}),  # given to a 4PL fit
    ],
)
def test_a_4pl_of_other_weights_or_not_a_4pl_is_refused_as_a_start(plates, four_as, five_as):
    _, _, conc, ods = _standards(plates, 4, Settings(rules="kit"))
    four = fit_curve(conc, ods, four_as.pop("model", "4pl"), quick=True, **four_as)
    with pytest.raises(ValueError, match="four is a 4PL"):
        fit_curve(conc, ods, five_as.pop("model", "5pl"), quick=True, four=four, **five_as)


@pytest.mark.parametrize("weighting", ["none", "1/(k^2+y^2)"])
def test_the_comparisons_5pl_starts_from_the_chosen_4pl(monkeypatch, plates, weighting):
    run, points, conc, ods = _standards(plates, 5, Settings(rules="kit", weighting=weighting))
    k = run.noise["k_od"] if run.noise else None
    made = _count_4pl_fits(monkeypatch)
    comparison = compare_models(conc, ods, points, run.settings, run.curve, k)
    assert made == []  # the chosen 4PL is the 5PL's start; no other 4PL is fitted
    five = fit_curve(conc, ods, "5pl", weighting, k=k, quick=True, four=run.curve)
    assert comparison["5pl"]["aic"] == five.summary()["aic"]
    assert comparison["5pl"]["params"] == five.summary()["params"]
    assert comparison["4pl"]["aic"] == run.curve.summary()["aic"]  # the chosen fit, unchanged
    if weighting == "none":  # here the start moves the quick 5PL in its last places
        own = fit_curve(conc, ods, "5pl", quick=True).summary()["params"]
        assert own != comparison["5pl"]["params"]
        assert own == pytest.approx(comparison["5pl"]["params"], rel=1e-5)


def test_under_the_log_log_line_the_comparisons_5pl_starts_from_its_quick_4pl(monkeypatch, plates):
    settings = Settings(rules="kit", model="loglog", weighting="none")
    run, points, conc, ods = _standards(plates, 5, settings)
    made = _count_4pl_fits(monkeypatch)
    comparison = compare_models(conc, ods, points, run.settings, run.curve)
    assert made == [True]  # one quick 4PL, for the comparison and as the 5PL's start
    five = fit_curve(conc, ods, "5pl", quick=True)  # as before: its own quick 4PL
    assert comparison["5pl"]["params"] == five.summary()["params"]
    assert comparison["5pl"]["aic"] == five.summary()["aic"]


def test_a_chosen_4pl_that_failed_is_no_start_and_no_error():
    conc = [0.0, 0.0, 5.0, 5.0, 20.0, 20.0, 80.0, 80.0, 300.0, 300.0]
    flat = [0.5] * len(conc)  # all ODs equal: no curve (a failed fit carries no k)
    four = fit_curve(conc, flat, "4pl", "1/(k^2+y^2)", k=0.05)
    assert not four.success
    five = fit_curve(conc, flat, "5pl", "1/(k^2+y^2)", k=0.05, quick=True, four=four)
    assert not five.success and "equal" in five.message
