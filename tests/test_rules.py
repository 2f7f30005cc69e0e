"""Acceptance rules (il6assay.qc.rules), each on its pass side and its fail side.

Two kinds of test: the rule functions on hand-made wells with exact
recoveries (boundaries, shares), and whole plates through ``process_plate``.
The plates are noiseless simulations of a known 4PL (a = 0.06, b = 1.1,
c = 220 pg/mL, d = 3.1). A standard level is made to fail by pulling its two
wells apart around the true OD (one at 1.4 x nominal, the other as far below):
the pair's residuals cancel, so the fitted curve and every other level stay
where they were.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from il6assay.curve.fit import four_pl
from il6assay.plate.export import Export, Plate
from il6assay.plate.layout import Layout, WellSpec, load_layout
from il6assay.plate.wells import Well
from il6assay.qc.rules import (
    ICH_M10_CAL,
    ICH_M10_QC,
    StandardLevel,
    calibration_range,
    calibration_rules,
    cv_pct,
    evaluate_controls,
    evaluate_standards,
    quantification_range,
)
from il6assay.run import Run, process_plate
from il6assay.settings import Settings
from tests.conftest import KIT_LAYOUT
from tests.plates import make_plate, set_conc, set_od, true_od

NOMINALS = {
    "S1": 300.0,
    "S2": 150.0,
    "S3": 75.0,
    "S4": 37.5,
    "S5": 18.75,
    "S6": 9.375,
    "S7": 4.6875,
}
DEFAULTS = Settings(rules="kit")


# --- helpers: whole plates ------------------------------------------------------------


@pytest.fixture(scope="module")
def layout() -> Layout:
    return load_layout(KIT_LAYOUT)


def level_wells(layout: Layout, level: str) -> list[str]:
    return [w for w, s in layout.wells.items() if s.role == "standard" and s.level == level]


def pull_apart(plate: Plate, layout: Layout, level: str, factor: float = 1.4) -> list[str]:
    """First well at ``factor`` x nominal, the second as far below the true OD: no fit change."""
    first, second = level_wells(layout, level)
    nominal = NOMINALS[level]
    set_conc(plate, first, factor * nominal)
    set_od(plate, second, 2 * true_od(nominal) - true_od(factor * nominal))
    return [first, second]


def process(plate: Plate, layout: Layout, **settings) -> Run:
    export = Export(format="test", path=Path("x.sim"), plates=[plate])
    return process_plate(
        export, layout, None, Settings(**{"rules": "kit", **settings}), allow_unmatched=True
    )


def rule(run: Run, rule_id: str):
    return next(r for r in run.rules if r.id == rule_id)


def level(run: Run, name: str) -> StandardLevel:
    return next(lv for lv in run.levels if lv.level == name)


def well(run: Run, name: str) -> Well:
    return next(w for w in run.wells if w.name == name)


def sample(run: Run, label: str):
    return next(s for s in run.samples if s.sample == label)


# --- helpers: hand-made wells ---------------------------------------------------------------


def std(name: str, lvl: str, nominal: float | None, conc: float | None) -> Well:
    spec = WellSpec(well=name, role="standard", level=lvl, nominal=nominal)
    return Well(
        spec=spec, raw={}, status="OK", od_corrected=1.0, od=1.0, conc_on_plate=conc, conc=conc
    )


def standard_series(recoveries: dict[str, list[float | None]]) -> list[Well]:
    """Wells for S1..S7 (+ zero): recovery % per replicate, 100 % where not given."""
    wells = []
    for i, (lvl, nominal) in enumerate(NOMINALS.items()):
        for j, rec in enumerate(recoveries.get(lvl, [100.0, 100.0])):
            conc = None if rec is None else nominal * rec / 100.0
            wells.append(std(f"{'ABCDEFG'[i]}{j + 1}", lvl, nominal, conc))
    wells += [std("H1", "S8", 0.0, None), std("H2", "S8", 0.0, 0.3)]
    return wells


def ctl(name: str, lvl: str, nominal: float, conc: float | None) -> Well:
    spec = WellSpec(
        well=name, role="control", level=lvl, nominal=nominal, low=0.8 * nominal, high=1.2 * nominal
    )
    return Well(
        spec=spec, raw={}, status="OK", od_corrected=1.0, od=1.0, conc_on_plate=conc, conc=conc
    )


def levels_with(n_pass: int, n_levels: int) -> list[StandardLevel]:
    out = []
    for i in range(n_levels):
        ok = i < n_pass
        w = std(f"A{i + 1}", f"L{i + 1}", 10.0 * (i + 1), 10.0 * (i + 1) * (1.0 if ok else 2.0))
        w.passed = ok
        out.append(StandardLevel(f"L{i + 1}", 10.0 * (i + 1), 20.0, [w], ok))
    return out


# --- tolerance: ±25 % at the lowest and highest level, ±20 % in between ---------------------


@pytest.mark.parametrize(
    ("lvl", "recovery", "passes"),
    [
        ("S1", 122.0, True),
        ("S3", 122.0, False),
        ("S7", 122.0, True),
        ("S1", 78.0, True),
        ("S3", 78.0, False),
        ("S1", 125.0, True),
        ("S1", 125.5, False),
        ("S7", 74.5, False),
        ("S3", 120.0, True),
        ("S3", 80.0, True),
        ("S3", 120.5, False),
        ("S6", 121.0, False),
    ],
)
def test_standard_tolerance_is_wider_at_the_lowest_and_highest_level(lvl, recovery, passes):
    wells = standard_series({lvl: [recovery, 100.0]})
    levels = evaluate_standards(wells, DEFAULTS)
    first = next(w for w in wells if w.spec.level == lvl)
    assert first.recovery_pct == pytest.approx(recovery)
    assert first.passed is passes
    assert ("STANDARD_FAILED" in first.flags) is not passes
    tol = next(lv for lv in levels if lv.level == lvl).tolerance_pct
    assert tol == (25.0 if lvl in ("S1", "S7") else 20.0)


def test_recovery_of_122_percent_passes_at_s1_and_fails_at_s3_on_a_plate(layout):
    plate = make_plate(layout)
    a1, _ = pull_apart(plate, layout, "S1", 1.22)
    c1, _ = pull_apart(plate, layout, "S3", 1.22)
    run = process(plate, layout)
    assert well(run, a1).recovery_pct == pytest.approx(122.0, abs=1.0)
    assert well(run, c1).recovery_pct == pytest.approx(122.0, abs=1.0)
    assert well(run, a1).passed is True
    assert well(run, c1).passed is False
    assert level(run, "S1").tolerance_pct == 25.0
    assert level(run, "S3").tolerance_pct == 20.0


# --- the per-level replicate rule (>= 50 % of a level's replicates) ------------------------


@pytest.mark.parametrize(
    ("recoveries", "passes"),
    [
        ([100.0, 140.0], True),  # 1 of 2
        ([140.0, 60.0], False),  # 0 of 2
        ([100.0, 140.0, 60.0], False),  # 1 of 3
        ([100.0, 100.0, 140.0, 60.0], True),  # 2 of 4
        ([100.0, None], True),  # a replicate with no concentration fails, the other carries
        ([None, None], False),
    ],
)
def test_a_level_passes_when_at_least_half_its_replicates_do(recoveries, passes):
    levels = evaluate_standards(standard_series({"S4": recoveries}), DEFAULTS)
    s4 = next(lv for lv in levels if lv.level == "S4")
    assert s4.passed is passes
    assert len(s4.wells) == len(recoveries)


def test_one_failed_replicate_leaves_its_level_passing_on_a_plate(layout):
    plate = make_plate(layout)
    set_conc(plate, "D1", 1.4 * 37.5)
    run = process(plate, layout)
    assert well(run, "D1").passed is False
    assert well(run, "D2").passed is True
    assert level(run, "S4").passed
    assert run.accepted
    # The failing well is still named, though the rule passes.
    assert rule(run, "STANDARD_LEVELS").wells == ["D1"]


def test_both_replicates_failing_fails_the_level_on_a_plate(layout):
    plate = make_plate(layout)
    pull_apart(plate, layout, "S4")
    run = process(plate, layout)
    assert not level(run, "S4").passed
    assert sorted(rule(run, "STANDARD_LEVELS").wells) == ["D1", "D2"]
    assert "S4 (37.5)" in rule(run, "STANDARD_LEVELS").detail


# --- the zero standard is an anchor: fitted, never judged ----------------------------------------


def test_zero_standard_is_never_judged():
    wells = standard_series({})
    levels = evaluate_standards(wells, DEFAULTS)
    assert [lv.nominal for lv in levels] == sorted(NOMINALS.values(), reverse=True)
    for w in wells:
        if w.spec.nominal == 0:
            assert w.passed is None
            assert w.recovery_pct is None
            assert "STANDARD_FAILED" not in w.flags


def test_standard_without_nominal_is_an_anchor_too():
    wells = [*standard_series({}), std("H3", "anchor", None, 1000.0)]
    levels = evaluate_standards(wells, DEFAULTS)
    assert "anchor" not in [lv.level for lv in levels]
    assert wells[-1].passed is None


def test_zero_standard_far_off_does_not_fail_the_plate(layout):
    plate = make_plate(layout)
    set_od(plate, "H1", true_od(0.0) + 0.03)
    set_od(plate, "H2", true_od(0.0) - 0.03)  # below the curve's bottom
    run = process(plate, layout)
    assert run.accepted
    assert "S8" not in [lv.level for lv in run.levels]
    for name in ("H1", "H2"):
        w = well(run, name)
        assert w.passed is None
        assert "STANDARD_FAILED" not in w.flags
        assert name not in rule(run, "STANDARD_LEVELS").wells
    assert run.curve.n == 16  # but fitted (zero_standard = "fit")


# --- STANDARD_LEVELS and STANDARD_SHARE ---------------------------------------------------------


def test_exactly_six_passing_levels_accept_the_plate(layout):
    plate = make_plate(layout)
    pull_apart(plate, layout, "S4")
    run = process(plate, layout)
    assert sum(lv.passed for lv in run.levels) == 6
    assert rule(run, "STANDARD_LEVELS").passed is True
    assert rule(run, "STANDARD_SHARE").passed is True  # 6/7 = 86 %
    assert run.accepted
    assert run.failed_rules == []


def test_five_passing_levels_reject_the_plate(layout):
    plate = make_plate(layout)
    pull_apart(plate, layout, "S4")
    pull_apart(plate, layout, "S3")
    run = process(plate, layout)
    assert sum(lv.passed for lv in run.levels) == 5
    assert not run.accepted
    assert [r.id for r in run.failed_rules] == ["STANDARD_LEVELS", "STANDARD_SHARE"]
    levels_rule = rule(run, "STANDARD_LEVELS")
    assert levels_rule.source == ICH_M10_CAL
    assert sorted(levels_rule.wells) == ["C1", "C2", "D1", "D2"]
    assert "5 of 7 levels pass" in levels_rule.detail
    assert "S3 (75)" in levels_rule.detail and "S4 (37.5)" in levels_rule.detail
    assert sorted(rule(run, "STANDARD_SHARE").wells) == ["C1", "C2", "D1", "D2"]
    assert all("PLATE_REJECTED" in s.flags for s in run.samples)


def test_share_rule_fails_alone_when_the_level_count_is_lowered(layout):
    plate = make_plate(layout)
    pull_apart(plate, layout, "S4")
    pull_apart(plate, layout, "S3")
    run = process(plate, layout, min_standard_levels=5)
    assert rule(run, "STANDARD_LEVELS").passed is True
    assert rule(run, "STANDARD_SHARE").passed is False  # 5/7 = 71 % < 75 %
    assert [r.id for r in run.failed_rules] == ["STANDARD_SHARE"]


def test_level_count_rule_fails_alone_when_the_share_is_lowered(layout):
    plate = make_plate(layout)
    pull_apart(plate, layout, "S4")
    pull_apart(plate, layout, "S3")
    run = process(plate, layout, min_standard_level_share=0.7)
    assert [r.id for r in run.failed_rules] == ["STANDARD_LEVELS"]


@pytest.mark.parametrize(
    ("n_pass", "n_levels", "levels_ok", "share_ok"),
    [
        (6, 7, True, True),
        (5, 7, False, False),
        (6, 8, True, True),  # 75 % exactly
        (6, 9, True, False),  # 67 %: six levels are not enough when there are nine
        (7, 9, True, True),  # 78 %
        (5, 6, False, True),  # 83 %, but fewer than six
    ],
)
def test_level_count_and_share_rules(n_pass, n_levels, levels_ok, share_ok):
    rules = {
        r.id: r
        for r in calibration_rules(levels_with(n_pass, n_levels), True, "converged", DEFAULTS)
    }
    assert rules["CURVE_FIT"].passed is True
    assert rules["STANDARD_LEVELS"].passed is levels_ok
    assert rules["STANDARD_SHARE"].passed is share_ok
    failed = [f"A{i + 1}" for i in range(n_pass, n_levels)]
    assert rules["STANDARD_LEVELS"].wells == failed
    assert rules["STANDARD_SHARE"].wells == failed
    assert rules["STANDARD_LEVELS"].source == rules["STANDARD_SHARE"].source == ICH_M10_CAL


def test_calibration_rules_fail_without_a_fit_even_when_levels_pass():
    rules = {r.id: r for r in calibration_rules(levels_with(7, 7), False, "flat", DEFAULTS)}
    assert rules["CURVE_FIT"].passed is False
    assert rules["CURVE_FIT"].detail == "flat"
    assert rules["STANDARD_LEVELS"].passed is False
    assert rules["STANDARD_SHARE"].passed is False


def test_no_levels_fail_both_calibration_rules():
    rules = {r.id: r for r in calibration_rules([], True, "converged", DEFAULTS)}
    assert rules["STANDARD_LEVELS"].passed is False
    assert rules["STANDARD_SHARE"].passed is False


def test_rule_descriptions_state_the_settings_in_force():
    settings = Settings(min_standard_levels=5, standard_tolerance_pct=15.0)
    levels_rule = next(
        r for r in calibration_rules([], True, "", settings) if r.id == "STANDARD_LEVELS"
    )
    assert "at least 5" in levels_rule.description
    assert "±15 %" in levels_rule.description


# --- LLOQ and ULOQ: the lowest and highest passing levels ---------------------------------------


def test_failed_lowest_level_raises_the_lloq_and_censors_there(layout):
    plate = make_plate(layout, {"P01": 6.0, "P02": 2.0, "P03": 12.0})
    pull_apart(plate, layout, "S7")
    run = process(plate, layout)
    assert not level(run, "S7").passed
    assert run.accepted  # six levels still pass
    assert (run.lloq, run.uloq) == (9.375, 300.0)
    for label in ("P01", "P02"):
        s = sample(run, label)
        assert s.result == "<9.38"
        assert "BELOW_LLOQ" in s.flags
        assert s.conc_pg_ml is None
    assert sample(run, "P03").conc_pg_ml == pytest.approx(12.0, rel=0.02)


def test_failed_highest_level_lowers_the_uloq_and_censors_there(layout):
    plate = make_plate(layout, {"P01": 200.0, "P02": 120.0})
    pull_apart(plate, layout, "S1")
    run = process(plate, layout)
    assert not level(run, "S1").passed
    # S1's pulled-apart wells inflate the residual SD, so the lowest levels' predicted
    # CV rises too: the LLOQ is the precision rule's to set (tests below), the ULOQ drops.
    assert run.uloq == 150.0
    s = sample(run, "P01")
    assert s.result == ">150"
    assert "ABOVE_ULOQ" in s.flags
    assert s.conc_pg_ml is None
    assert sample(run, "P02").conc_pg_ml == pytest.approx(120.0, rel=0.01)


def test_calibration_range_is_lowest_and_highest_passing_level():
    levels = evaluate_standards(
        standard_series({"S1": [140.0, 60.0], "S7": [140.0, 60.0]}), DEFAULTS
    )
    assert calibration_range(levels) == (9.375, 150.0)
    assert calibration_range(evaluate_standards(standard_series({}), DEFAULTS)) == (4.6875, 300.0)


def test_lowest_level_at_the_noise_floor_passes_on_recovery_but_is_not_the_lloq(layout):
    """A flat low end (S7 only 0.01 OD above the zero, reader noise 0.005 OD): S7's
    duplicates recover within ±25 %, but a result there would carry a 42 % CV, so the
    LLOQ is S6 and a sample near S7 is censored, not reported as a number."""
    from il6assay.simulate import TrueCurve, simulate_plate

    sim = simulate_plate(
        layout,
        np.random.default_rng(2),
        curve=TrueCurve(a=(0.08, 0.08), b=(1.3, 1.3), c=(400.0, 400.0), d=(3.0, 3.0)),
        truth={"P01": 5.5},
    )
    run = process_plate(
        Export(format="simulated", path=Path("flat_low.sim"), plates=[sim.plate]),
        layout,
        None,
        Settings(rules="kit"),
        allow_unmatched=True,
    )
    s7, s6 = level(run, "S7"), level(run, "S6")
    assert s7.passed and s7.precise is False and s7.predicted_cv_pct > 35
    assert s6.precise and s6.predicted_cv_pct <= 25
    assert (run.lloq, run.uloq) == (9.375, 300.0)
    rule = next(r for r in run.rules if r.id == "QUANTIFICATION_RANGE")
    assert rule.passed is True and "S7 (4.6875: 4" in rule.detail
    assert set(rule.wells) == set(level_wells(layout, "S7"))
    assert run.accepted  # recovery rules decide acceptance; precision narrows the range
    assert sample(run, "P01").result == "<9.38"


def test_every_passing_level_of_a_clean_plate_is_precise_and_bounds_the_range(layout):
    run = process(make_plate(layout), layout)
    assert all(lv.precise and lv.predicted_cv_pct < 5 for lv in run.levels)
    assert (run.lloq, run.uloq) == (4.6875, 300.0)


def test_no_precise_level_means_nothing_is_quantified_and_the_plate_fails():
    class Vague:
        """A fitted curve whose every result would carry a 100 % CV."""

        success = True

        def predict(self, conc):
            return np.atleast_1d(conc) / 100.0

        def inverse_each(self, od):
            return np.atleast_1d(od) * 100.0

        def inverse_se(self, od, replicates, conc=None):
            return np.atleast_1d(od) * 100.0

    levels = evaluate_standards(standard_series({}), DEFAULTS)
    lloq, uloq, rule = quantification_range(levels, Vague(), DEFAULTS)
    assert (lloq, uloq) == (None, None) and rule.passed is False
    assert all(lv.passed and lv.precise is False for lv in levels)


def test_calibration_range_is_none_when_no_level_passes():
    bad = {lvl: [None, None] for lvl in NOMINALS}
    assert calibration_range(evaluate_standards(standard_series(bad), DEFAULTS)) == (None, None)


def test_a_failed_middle_level_does_not_move_the_range_on_recovery(layout):
    plate = make_plate(layout)
    pull_apart(plate, layout, "S6")
    # Recovery alone: with 1/y weighting the low levels stay precise enough.
    run = process(plate, layout, weighting="1/y")
    assert not level(run, "S6").passed
    assert (run.lloq, run.uloq) == (4.6875, 300.0)
    # Weighted by the plate's noise (the default), S6's 40 % error is the only noise
    # on this otherwise exact plate; it inflates the residual SD, so results at S7
    # would carry a CV over 25 %: the precision rule, not S6, lifts the LLOQ, and says so.
    run = process(plate, layout)
    assert level(run, "S7").passed and level(run, "S7").precise is False
    rule = next(r for r in run.rules if r.id == "QUANTIFICATION_RANGE")
    assert "S7" in rule.detail and run.lloq > 4.6875 and run.uloq == 300.0


# --- CONTROLS: >= 2/3 overall and >= 50 % at each level ------------------------------------------


def test_all_controls_in_range_pass(layout):
    run = process(make_plate(layout), layout)
    r = rule(run, "CONTROLS")
    assert r.passed is True
    assert r.source == ICH_M10_QC
    assert r.wells == []


def test_one_failed_control_of_four_passes(layout):
    plate = make_plate(layout)
    set_conc(plate, "C3", 30.0)
    run = process(plate, layout)
    r = rule(run, "CONTROLS")
    assert r.passed is True  # 75 % overall, 50 % at the low level
    assert r.wells == ["C3"]
    assert run.accepted


def test_both_low_controls_failing_rejects_the_plate(layout):
    plate = make_plate(layout)
    set_conc(plate, "C3", 30.0)
    set_conc(plate, "D3", 12.0)
    run = process(plate, layout)
    r = rule(run, "CONTROLS")
    assert r.passed is False
    assert r.wells == ["C3", "D3"]
    assert "low 0%" in r.detail
    assert [x.id for x in run.failed_rules] == ["CONTROLS"]


def test_both_low_controls_failing_rejects_even_when_the_overall_share_is_lowered(layout):
    plate = make_plate(layout)
    set_conc(plate, "C3", 30.0)
    set_conc(plate, "D3", 12.0)
    run = process(plate, layout, control_min_share=0.5)  # 2/4 overall would now pass
    assert rule(run, "CONTROLS").passed is False  # the low level has 0 %


def test_one_failed_control_at_each_level_fails_the_two_thirds_rule(layout):
    plate = make_plate(layout)
    set_conc(plate, "C3", 30.0)
    set_conc(plate, "E3", 170.0)
    run = process(plate, layout)
    r = rule(run, "CONTROLS")
    assert r.passed is False  # 50 % at each level is fine, 2/4 overall is below 2/3
    assert r.wells == ["C3", "E3"]
    assert "50% of control wells pass" in r.detail
    run = process(plate, layout, control_min_share=0.5)
    assert rule(run, "CONTROLS").passed is True


def test_per_level_control_rule_fails_alone_with_three_levels():
    wells = [
        ctl("C1", "low", 20.0, 30.0),
        ctl("C2", "low", 20.0, 12.0),
        ctl("C3", "mid", 60.0, 60.0),
        ctl("C4", "mid", 60.0, 61.0),
        ctl("C5", "high", 120.0, 118.0),
        ctl("C6", "high", 120.0, 125.0),
    ]
    r = evaluate_controls(wells, DEFAULTS)
    assert r.passed is False  # 4/6 = 2/3 overall passes; the low level has 0 %
    assert r.wells == ["C1", "C2"]
    assert "67% of control wells pass" in r.detail


def test_two_thirds_of_controls_at_three_levels_pass():
    wells = [
        ctl("C1", "low", 20.0, 30.0),
        ctl("C2", "low", 20.0, 20.0),
        ctl("C3", "mid", 60.0, 90.0),
        ctl("C4", "mid", 60.0, 61.0),
        ctl("C5", "high", 120.0, 118.0),
        ctl("C6", "high", 120.0, 125.0),
    ]
    r = evaluate_controls(wells, DEFAULTS)
    assert r.passed is True
    assert r.wells == ["C1", "C3"]
    assert wells[0].recovery_pct == pytest.approx(150.0)


def test_control_range_bounds_are_inclusive_and_no_concentration_fails():
    wells = [
        ctl("C1", "low", 20.0, 16.0),
        ctl("C2", "low", 20.0, 24.0),
        ctl("C3", "low", 20.0, None),
    ]
    evaluate_controls(wells, DEFAULTS)
    assert [w.passed for w in wells] == [True, True, False]
    assert "CONTROL_FAILED" in wells[2].flags


def test_layout_without_controls_does_not_evaluate_the_control_rule(layout):
    no_controls = dataclasses.replace(
        layout, wells={k: v for k, v in layout.wells.items() if v.role != "control"}
    )
    run = process(make_plate(layout), no_controls)
    r = rule(run, "CONTROLS")
    assert r.passed is None
    assert "not evaluated" in r.detail
    assert run.accepted
    assert evaluate_controls([], DEFAULTS).passed is None


# --- CURVE_FIT ----------------------------------------------------------------------------


def test_curve_fit_rule_passes_on_a_good_plate(layout):
    run = process(make_plate(layout), layout)
    r = rule(run, "CURVE_FIT")
    assert r.passed is True
    assert r.detail.startswith("converged")
    assert run.curve.params["c"] == pytest.approx(220.0, rel=0.02)
    assert [x.id for x in run.rules] == [
        "CURVE_FIT",
        "QUANTIFICATION_RANGE",
        "STANDARD_LEVELS",
        "STANDARD_SHARE",
        "CONTROLS",
    ]
    assert all(x.source for x in run.rules)


def test_curve_fit_rule_fails_on_flat_standards(layout):
    plate = make_plate(layout)
    for name, spec in layout.wells.items():
        if spec.role == "standard":
            set_od(plate, name, 0.8)
    run = process(plate, layout)
    r = rule(run, "CURVE_FIT")
    assert r.passed is False
    assert "equal" in r.detail
    assert {"CURVE_FIT", "STANDARD_LEVELS", "STANDARD_SHARE"} <= {x.id for x in run.failed_rules}
    # Every standard well is named as failing: none could be back-calculated.
    assert len(rule(run, "STANDARD_LEVELS").wells) == 14


# --- cv_pct ---------------------------------------------------------------------------------


def test_cv_pct_is_sample_sd_over_mean():
    assert cv_pct([1.0, 1.0]) == 0.0
    assert cv_pct([0.9, 1.1]) == pytest.approx(100 * (0.2 / 2**0.5) / 1.0)
    assert cv_pct([1.0]) is None
    assert cv_pct([]) is None
    assert cv_pct([-1.0, 1.0]) is None  # zero mean
    assert cv_pct([-0.9, -1.1]) == pytest.approx(cv_pct([0.9, 1.1]))


def test_a_wild_standard_well_is_marked_suspect_outlier_not_removed():
    """Over 40 simulated plates (5 % CV): a replicate 60 % off is found almost always,
    while clean plates rarely get a hint (measured: 195/200 found, 14/200 clean plates
    with a hint)."""
    from il6assay.curve.fit import fit_curve
    from il6assay.curve.outliers import suspect_outliers

    conc = [
        300,
        300,
        150,
        150,
        75,
        75,
        37.5,
        37.5,
        18.75,
        18.75,
        9.375,
        9.375,
        4.6875,
        4.6875,
        0,
        0,
    ]
    found = clean_hints = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        od = [
            float(four_pl(c, 0.06, 1.1, 220.0, 3.1)) * (1 + rng.normal(0, 0.05))
            + rng.normal(0, 0.005)
            for c in conc
        ]
        clean_hints += bool(suspect_outliers(conc, od, fit_curve(conc, od, weighting="1/y^2")))
        od[6] *= 1.6  # one S4 replicate pipetted wrong
        fit = fit_curve(conc, od, weighting="1/y^2")
        found += 6 in suspect_outliers(conc, od, fit)
        assert fit.n == 16  # still in the fit: the reviewer decides
    assert found >= 36
    assert clean_hints <= 6
