"""Every sample and well flag, on the side that raises it and the side that does not.

Plates are simulated in memory without noise from a known 4PL (a = 0.06,
b = 1.1, c = 220 pg/mL, d = 3.1), so that each case is one deliberate change
to an otherwise perfect plate: a token in a well, a replicate moved along the
true curve, a standard pair pulled apart around its true OD (which leaves the
fitted curve where it was: the pair's residuals cancel), a control moved off
its nominal.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from il6assay.plate.export import MASKED, MISSING, SATURATED, Export, Plate, Token
from il6assay.plate.layout import Layout, load_layout
from il6assay.plate.samples import load_samples
from il6assay.qc.results import FLAGS, REASSAY_HINT, SampleResult, format_sig
from il6assay.run import Run, process_plate
from il6assay.settings import Settings
from tests.conftest import KIT_LAYOUT
from tests.plates import make_plate, set_conc, set_od, true_od

SAMPLE_WELLS = {"P01": ("A4", "A5"), "P02": ("B4", "B5"), "P03": ("C4", "C5"), "P04": ("D4", "D5")}


@pytest.fixture(scope="module")
def layout() -> Layout:
    return load_layout(KIT_LAYOUT)


def pull_apart(plate: Plate, layout: Layout, level: str, factor: float) -> tuple[str, str]:
    """Put a standard level's first well at ``factor`` x nominal and its second the same OD below.

    The pair's mean OD stays on the true curve, so the fitted curve does not move.
    """
    first, second = [
        w for w, s in layout.wells.items() if s.role == "standard" and s.level == level
    ]
    nominal = float(layout.wells[first].nominal or 0.0)
    set_conc(plate, first, factor * nominal)
    set_od(plate, second, 2 * true_od(nominal) - true_od(factor * nominal))
    return first, second


def process(plate: Plate, layout: Layout, samples=None, **settings) -> Run:
    export = Export(format="test", path=Path("x.sim"), plates=[plate])
    return process_plate(
        export, layout, samples, Settings(**{"rules": "kit", **settings}), allow_unmatched=True
    )


def sample(run: Run, label: str) -> SampleResult:
    return next(s for s in run.samples if s.sample == label)


def well(run: Run, name: str):
    return next(w for w in run.wells if w.name == name)


def sheet(tmp_path: Path, dilutions: dict[str, str]):
    """A sample sheet for P01..P36, with the given dilutions."""
    lines = ["sample,study_id,visit,dilution"]
    for i in range(1, 37):
        label = f"P{i:02d}"
        lines.append(f"{label},AML-{i:03d},D0,{dilutions.get(label, '')}")
    path = tmp_path / "samples.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_samples(path)


def assert_censored(s: SampleResult) -> None:
    """A censored result carries no concentration: not in the object, not in the results row."""
    assert s.conc_pg_ml is None
    assert s.result[0] in "<>"
    row = s.row("run", 4.6875, 300.0)
    assert row["conc_pg_ml"] is None
    numbers = {k: v for k, v in row.items() if isinstance(v, float)}
    allowed = {"od_mean", "od_cv_pct", "conc_cv_pct", "lloq_pg_ml", "uloq_pg_ml", "dilution"}
    assert set(numbers) <= allowed, f"unexpected numbers in a censored row: {numbers}"


# --- the baseline -------------------------------------------------------------


def test_clean_plate_is_accepted_and_in_range_sample_has_its_number(layout):
    run = process(make_plate(layout), layout)
    assert run.accepted
    assert (run.lloq, run.uloq) == (4.6875, 300.0)
    s = sample(run, "P01")
    assert s.conc_pg_ml == pytest.approx(50.0, rel=0.01)
    assert s.result == format_sig(s.conc_pg_ml)
    assert s.flags == ["NO_STUDY_ID"]


def test_every_documented_flag_is_listed_in_FLAGS():
    documented = {
        "BELOW_LLOQ",
        "ABOVE_ULOQ",
        "BELOW_CURVE",
        "ABOVE_CURVE",
        "HIGH_CV",
        "SATURATED",
        "MISSING_REPLICATE",
        "STANDARD_FAILED",
        "CONTROL_FAILED",
        "FIT_FAILED",
        "PLATE_REJECTED",
    }
    assert documented <= set(FLAGS)


# --- BELOW_LLOQ / ABOVE_ULOQ ------------------------------------------------------


def test_sample_below_lloq_is_reported_as_less_than_lloq_without_a_number(layout):
    run = process(make_plate(layout, {"P01": 2.0}), layout)
    s = sample(run, "P01")
    assert "BELOW_LLOQ" in s.flags
    assert "BELOW_CURVE" not in s.flags  # the OD is above a: invertible, just under the LLOQ
    assert s.result == "<4.69"
    assert s.advice == ""
    assert_censored(s)


def test_sample_just_above_lloq_is_a_number_not_censored(layout):
    run = process(make_plate(layout, {"P01": 5.5}), layout)
    s = sample(run, "P01")
    assert "BELOW_LLOQ" not in s.flags
    assert s.conc_pg_ml == pytest.approx(5.5, rel=0.03)


def near_limits_plate(layout: Layout):
    """Samples a hair inside each limit (exact ODs: a reader's 3 decimals would blur them)."""
    plate = make_plate(layout, {"P02": 50.0})
    for label, x in (("P01", 4.70), ("P03", 299.0)):
        for spec in layout.wells.values():
            if spec.role == "sample" and spec.sample == label:
                set_conc(plate, spec.well, x)
    return plate


def test_number_whose_interval_reaches_past_a_limit_is_flagged_near_it(layout):
    run = process(near_limits_plate(layout), layout)
    low, mid, high = (sample(run, label) for label in ("P01", "P02", "P03"))
    assert low.conc_pg_ml is not None and low.ci_low_pg_ml < run.lloq
    assert "NEAR_LLOQ" in low.flags and "NEAR_ULOQ" not in low.flags
    assert high.conc_pg_ml is not None and high.ci_high_pg_ml > run.uloq
    assert "NEAR_ULOQ" in high.flags and "NEAR_LLOQ" not in high.flags
    assert mid.ci_low_pg_ml > run.lloq and mid.ci_high_pg_ml < run.uloq
    assert not {"NEAR_LLOQ", "NEAR_ULOQ"} & set(mid.flags)


def test_near_lloq_compares_the_interval_with_the_limit_times_the_dilution(layout, tmp_path):
    run = process(near_limits_plate(layout), layout, sheet(tmp_path, {"P01": "1:10"}))
    s = sample(run, "P01")
    assert s.ci_low_pg_ml < 10 * run.lloq < s.conc_pg_ml and "NEAR_LLOQ" in s.flags


def test_below_lloq_text_is_multiplied_by_the_sheet_dilution(layout, tmp_path):
    run = process(make_plate(layout, {"P01": 2.0}), layout, sheet(tmp_path, {"P01": "1:10"}))
    s = sample(run, "P01")
    assert s.dilution == 10
    assert s.result == "<46.9"
    assert "BELOW_LLOQ" in s.flags
    assert_censored(s)
    assert s.row(run.run_id, run.lloq, run.uloq)["lloq_pg_ml"] == pytest.approx(46.875)


def test_sample_above_uloq_is_reported_as_greater_than_uloq_with_reassay_advice(layout):
    run = process(make_plate(layout, {"P01": 500.0}), layout)
    s = sample(run, "P01")
    assert "ABOVE_ULOQ" in s.flags
    assert "ABOVE_CURVE" not in s.flags  # below d: invertible, just over the ULOQ
    assert s.result == ">300"
    assert s.advice == REASSAY_HINT
    assert "higher dilution" in s.advice
    assert_censored(s)


def test_above_uloq_text_is_multiplied_by_the_sheet_dilution(layout, tmp_path):
    run = process(make_plate(layout, {"P01": 500.0}), layout, sheet(tmp_path, {"P01": "10"}))
    s = sample(run, "P01")
    assert s.result == ">3000"
    assert "ABOVE_ULOQ" in s.flags
    assert "re-assay at a higher dilution" in s.advice
    assert_censored(s)


def test_in_range_sample_at_1_to_10_is_dilution_corrected(layout, tmp_path):
    run = process(make_plate(layout, {"P01": 50.0}), layout, sheet(tmp_path, {"P01": "10"}))
    s = sample(run, "P01")
    assert s.conc_on_plate == pytest.approx(50.0, rel=0.01)
    assert s.conc_pg_ml == pytest.approx(500.0, rel=0.01)
    assert not {"BELOW_LLOQ", "ABOVE_ULOQ"} & set(s.flags)


def test_sample_just_below_uloq_is_a_number_not_censored(layout):
    run = process(make_plate(layout, {"P01": 280.0}), layout)
    s = sample(run, "P01")
    assert "ABOVE_ULOQ" not in s.flags
    assert s.conc_pg_ml == pytest.approx(280.0, rel=0.01)
    assert s.advice == ""


def test_sample_wells_concentration_uses_the_sheet_dilution_like_the_sample(layout, tmp_path):
    run = process(make_plate(layout, {"P01": 50.0}), layout, sheet(tmp_path, {"P01": "10"}))
    s = sample(run, "P01")
    for w in s.wells:
        assert w.conc == pytest.approx(10 * w.conc_on_plate)


# --- BELOW_CURVE / ABOVE_CURVE -------------------------------------------------------


def test_od_below_the_curve_bottom_is_not_inverted_and_reported_below_lloq(layout):
    plate = make_plate(layout)
    for w in SAMPLE_WELLS["P01"]:
        set_od(plate, w, 0.03)  # a = 0.06
    run = process(plate, layout)
    s = sample(run, "P01")
    assert s.od_mean < run.curve.params["a"]
    assert {"BELOW_CURVE", "BELOW_LLOQ"} <= set(s.flags)
    assert s.result == "<4.69"
    assert s.conc_on_plate is None
    assert_censored(s)
    for name in SAMPLE_WELLS["P01"]:
        w = well(run, name)
        assert "BELOW_CURVE" in w.flags
        assert w.conc is None and w.conc_on_plate is None


def test_od_above_the_curve_top_is_not_inverted_and_reported_above_uloq(layout):
    plate = make_plate(layout)
    for w in SAMPLE_WELLS["P01"]:
        set_od(plate, w, 3.4)  # d = 3.1
    run = process(plate, layout)
    s = sample(run, "P01")
    assert s.od_mean > run.curve.params["d"]
    assert {"ABOVE_CURVE", "ABOVE_ULOQ"} <= set(s.flags)
    assert s.result == ">300"
    assert s.advice == REASSAY_HINT
    assert s.conc_on_plate is None
    assert_censored(s)
    for name in SAMPLE_WELLS["P01"]:
        w = well(run, name)
        assert "ABOVE_CURVE" in w.flags
        assert w.conc is None


def test_od_just_inside_the_asymptotes_is_not_flagged_off_curve(layout):
    plate = make_plate(layout, {"P01": 1.0, "P02": 5000.0})
    run = process(plate, layout)
    low, high = sample(run, "P01"), sample(run, "P02")
    assert "BELOW_CURVE" not in low.flags and "BELOW_LLOQ" in low.flags
    assert "ABOVE_CURVE" not in high.flags and "ABOVE_ULOQ" in high.flags


# --- HIGH_CV ------------------------------------------------------------------------


def replicates_with_cv(plate: Plate, label: str, mean: float, cv_pct: float) -> None:
    """Two replicate wells whose back-calculated concentrations have the given CV."""
    k = cv_pct / 100.0 / math.sqrt(2.0)
    first, second = SAMPLE_WELLS[label]
    set_conc(plate, first, mean * (1 - k))
    set_conc(plate, second, mean * (1 + k))


def test_replicates_far_apart_are_flagged_high_cv(layout):
    plate = make_plate(layout)
    replicates_with_cv(plate, "P01", 50.0, 35.0)
    s = sample(process(plate, layout), "P01")
    assert s.conc_cv_pct == pytest.approx(35.0, abs=0.5)
    assert "HIGH_CV" in s.flags
    assert s.conc_pg_ml is not None  # flagged, still reported


def test_replicates_close_together_are_not_flagged(layout):
    plate = make_plate(layout)
    replicates_with_cv(plate, "P01", 50.0, 8.0)
    s = sample(process(plate, layout), "P01")
    assert s.conc_cv_pct == pytest.approx(8.0, abs=0.5)
    assert "HIGH_CV" not in s.flags


def test_cv_of_22_percent_is_high_in_mid_range(layout):
    plate = make_plate(layout)
    replicates_with_cv(plate, "P01", 50.0, 22.0)
    s = sample(process(plate, layout), "P01")
    assert s.conc_cv_pct == pytest.approx(22.0, abs=0.5)
    assert "HIGH_CV" in s.flags


def test_cv_of_22_percent_is_accepted_near_the_lloq_where_the_limit_is_25(layout):
    plate = make_plate(layout)
    replicates_with_cv(plate, "P01", 6.5, 22.0)  # between the LLOQ (4.69) and the next level (9.38)
    s = sample(process(plate, layout), "P01")
    assert 4.6875 < s.conc_on_plate < 9.375
    assert s.conc_cv_pct == pytest.approx(22.0, abs=1.0)
    assert "HIGH_CV" not in s.flags
    assert s.conc_pg_ml is not None


def test_cv_of_30_percent_is_high_even_near_the_lloq(layout):
    plate = make_plate(layout)
    replicates_with_cv(plate, "P01", 6.5, 30.0)
    s = sample(process(plate, layout), "P01")
    assert s.conc_cv_pct == pytest.approx(30.0, abs=1.0)
    assert "HIGH_CV" in s.flags


# --- SATURATED ------------------------------------------------------------------------


def test_saturated_sample_well_is_kept_and_reported_above_uloq(layout):
    plate = make_plate(layout, {"P01": 50.0})
    plate.reads["450"]["A4"] = Token(SATURATED, "OVRFLW")
    run = process(plate, layout)
    w = well(run, "A4")
    assert w.status == SATURATED
    assert w.raw["450"] == Token(SATURATED, "OVRFLW")
    assert w.od is None and w.od_corrected is None
    assert w.conc is None and w.conc_on_plate is None
    assert "SATURATED" in w.flags
    s = sample(run, "P01")
    assert [x.name for x in s.wells] == ["A4", "A5"]
    assert {"SATURATED", "ABOVE_ULOQ"} <= set(s.flags)
    assert "MISSING_REPLICATE" not in s.flags  # saturated is not missing
    assert s.result == ">300"
    assert s.advice == REASSAY_HINT
    assert_censored(s)


def test_saturated_sample_at_1_to_10_is_reported_above_the_diluted_uloq(layout, tmp_path):
    plate = make_plate(layout)
    for name in SAMPLE_WELLS["P01"]:
        plate.reads["450"][name] = Token(SATURATED, "OVRFLW")
    run = process(plate, layout, sheet(tmp_path, {"P01": "10"}))
    s = sample(run, "P01")
    assert s.result == ">3000"
    assert s.od_mean is None
    assert_censored(s)


def test_unsaturated_sample_has_no_saturated_flag(layout):
    s = sample(process(make_plate(layout), layout), "P01")
    assert "SATURATED" not in s.flags
    assert all(w.status == "OK" for w in s.wells)


def test_saturated_standard_well_is_left_out_of_the_fit_and_fails_its_replicate(layout):
    plate = make_plate(layout)
    plate.reads["450"]["A1"] = Token(SATURATED, "OVRFLW")
    run = process(plate, layout)
    assert run.curve.n == 15  # 16 standard wells, one saturated
    a1 = well(run, "A1")
    assert a1.status == SATURATED and a1.od is None
    assert a1.passed is False
    assert {"SATURATED", "STANDARD_FAILED"} <= set(a1.flags)
    s1 = next(lv for lv in run.levels if lv.level == "S1")
    assert s1.passed  # the other replicate carries the level (>= 50 %)
    assert run.uloq == 300.0
    assert run.accepted
    assert "A1" in next(r for r in run.rules if r.id == "STANDARD_LEVELS").wells


# --- MISSING_REPLICATE ------------------------------------------------------------------


@pytest.mark.parametrize(
    "reading",
    [Token(MISSING, "MISSED"), None, Token(MASKED, "MASKED")],
    ids=["token", "none", "masked"],
)
def test_missing_replicate_is_flagged_and_the_other_replicate_gives_the_result(layout, reading):
    plate = make_plate(layout, {"P01": 50.0})
    set_conc(plate, "A5", 60.0)
    plate.reads["450"]["A4"] = reading
    run = process(plate, layout)
    w = well(run, "A4")
    assert w.od is None and w.conc is None
    s = sample(run, "P01")
    assert "MISSING_REPLICATE" in s.flags
    assert "SATURATED" not in s.flags
    assert s.od_cv_pct is None
    assert "HIGH_CV" not in s.flags
    assert s.conc_pg_ml == pytest.approx(60.0, rel=0.01)


def test_complete_replicates_have_no_missing_flag(layout):
    s = sample(process(make_plate(layout), layout), "P01")
    assert "MISSING_REPLICATE" not in s.flags
    assert s.od_cv_pct is not None


def test_missing_reference_read_makes_the_well_missing(layout):
    plate = make_plate(layout)
    plate.reads["570"]["A4"] = Token(MISSING, "MISSED")
    run = process(plate, layout)
    assert well(run, "A4").status == MISSING
    assert "MISSING_REPLICATE" in sample(run, "P01").flags


# --- STANDARD_FAILED ------------------------------------------------------------------


def test_standard_well_off_by_40_percent_is_flagged_failed(layout):
    plate = make_plate(layout)
    first, second = pull_apart(plate, layout, "S4", 1.4)
    run = process(plate, layout)
    for name in (first, second):
        w = well(run, name)
        assert w.passed is False
        assert "STANDARD_FAILED" in w.flags
    assert well(run, first).recovery_pct == pytest.approx(140.0, abs=1.0)


def test_standard_wells_within_tolerance_are_not_flagged(layout):
    run = process(make_plate(layout), layout)
    for w in run.wells:
        if w.spec.role == "standard" and w.spec.nominal:
            assert w.passed is True
            assert w.recovery_pct == pytest.approx(100.0, abs=1.5)
            assert "STANDARD_FAILED" not in w.flags


def test_one_failed_standard_replicate_flags_the_well_but_not_the_plate(layout):
    plate = make_plate(layout)
    set_conc(plate, "D1", 1.4 * 37.5)
    run = process(plate, layout)
    assert "STANDARD_FAILED" in well(run, "D1").flags
    assert "STANDARD_FAILED" not in well(run, "D2").flags
    assert run.accepted
    assert all("PLATE_REJECTED" not in s.flags for s in run.samples)


# --- CONTROL_FAILED ------------------------------------------------------------------


def test_control_well_outside_its_range_is_flagged_failed(layout):
    plate = make_plate(layout)
    set_conc(plate, "C3", 30.0)  # low control: 20 pg/mL, 16..24
    run = process(plate, layout)
    c3 = well(run, "C3")
    assert c3.passed is False
    assert "CONTROL_FAILED" in c3.flags
    assert c3.recovery_pct == pytest.approx(150.0, abs=1.0)


def test_control_well_inside_its_range_is_not_flagged(layout):
    plate = make_plate(layout)
    set_conc(plate, "C3", 23.0)
    set_conc(plate, "E3", 100.0)
    run = process(plate, layout)
    for name in ("C3", "D3", "E3", "F3"):
        assert well(run, name).passed is True
        assert "CONTROL_FAILED" not in well(run, name).flags


def test_saturated_control_well_fails(layout):
    plate = make_plate(layout)
    plate.reads["450"]["E3"] = Token(SATURATED, "OVRFLW")
    run = process(plate, layout)
    e3 = well(run, "E3")
    assert e3.passed is False
    assert {"SATURATED", "CONTROL_FAILED"} <= set(e3.flags)


# --- PLATE_REJECTED ------------------------------------------------------------------


def test_failed_rule_marks_every_sample_rejected_but_keeps_their_numbers(layout):
    plate = make_plate(layout, {"P02": 2.0})
    for name in ("C3", "D3"):
        set_conc(plate, name, 30.0)
    run = process(plate, layout)
    assert not run.accepted
    assert [r.id for r in run.failed_rules] == ["CONTROLS"]
    assert all("PLATE_REJECTED" in s.flags for s in run.samples)
    p01 = sample(run, "P01")
    assert p01.conc_pg_ml == pytest.approx(50.0, rel=0.01)
    assert p01.result == format_sig(p01.conc_pg_ml)
    assert sample(run, "P02").result == "<4.69"  # censoring still applies


def test_accepted_plate_has_no_rejected_sample(layout):
    run = process(make_plate(layout), layout)
    assert run.accepted
    assert not any("PLATE_REJECTED" in s.flags for s in run.samples)


# --- FIT_FAILED -------------------------------------------------------------------------


def _standards(layout: Layout) -> list[str]:
    return [w for w, s in layout.wells.items() if s.role == "standard"]


@pytest.mark.parametrize(
    "junk",
    [0.5, Token(MISSING, "MISSED"), Token(SATURATED, "OVRFLW"), None],
    ids=["all-equal", "all-missed", "all-saturated", "all-empty"],
)
def test_unfittable_standards_give_no_concentrations_and_reject_the_plate(layout, junk):
    plate = make_plate(layout, {"P02": 2.0, "P03": 500.0})
    for name in _standards(layout):
        plate.reads["450"][name] = junk if not isinstance(junk, float) else junk + 0.045
    run = process(plate, layout)  # no exception
    assert run.curve.success is False
    assert not run.accepted
    assert "CURVE_FIT" in [r.id for r in run.failed_rules]
    assert run.curve.message in next(r for r in run.rules if r.id == "CURVE_FIT").detail
    assert (run.lloq, run.uloq) == (None, None)
    for s in run.samples:
        assert {"FIT_FAILED", "PLATE_REJECTED"} <= set(s.flags)
        assert s.conc_pg_ml is None and s.conc_on_plate is None
        assert not any(ch.isdigit() for ch in s.result)
    assert all(w.conc is None for w in run.wells)


def test_fitted_plate_has_no_fit_failed_flag(layout):
    run = process(make_plate(layout), layout)
    assert run.curve.success
    assert not any("FIT_FAILED" in s.flags for s in run.samples)


# --- negative blank-corrected ODs -------------------------------------------------------


def test_negative_blank_subtracted_ods_are_not_clipped(layout):
    plate = make_plate(layout)
    zero = true_od(0.0)
    set_od(plate, "A3", zero - 0.015)  # a blank a little below the zero standard
    set_od(plate, "A4", zero - 0.025)
    set_od(plate, "A5", zero - 0.02)
    run = process(plate, layout, zero_standard="subtract")
    assert well(run, "A3").od == pytest.approx(-0.015)
    assert well(run, "A3").od_corrected == pytest.approx(zero - 0.015)
    assert well(run, "B3").od == pytest.approx(0.0, abs=1e-9)
    s = sample(run, "P01")
    assert [w.od for w in s.wells] == pytest.approx([-0.025, -0.02])
    assert s.od_mean == pytest.approx(-0.0225)
    assert "BELOW_LLOQ" in s.flags
    assert_censored(s)


def test_reading_below_the_reference_gives_a_negative_od_not_zero(layout):
    plate = make_plate(layout)
    set_od(plate, "A4", -0.01)
    run = process(plate, layout)
    assert well(run, "A4").od == pytest.approx(-0.01)
    assert well(run, "A4").od_corrected == pytest.approx(-0.01)


def test_censored_sample_within_the_curve_is_judged_on_its_od_cv(layout):
    plate = make_plate(layout)
    set_od(plate, "A4", 0.065)
    set_od(plate, "A5", 0.11)  # both below the LLOQ's OD, far apart
    s = sample(process(plate, layout), "P01")
    assert "BELOW_LLOQ" in s.flags and "BELOW_CURVE" not in s.flags
    assert s.od_cv_pct > 25
    assert "HIGH_CV" in s.flags


def test_censored_sample_off_the_curve_is_still_judged_on_its_od_cv(layout):
    plate = make_plate(layout)
    set_od(plate, "A4", 0.01)
    set_od(plate, "A5", 0.09)  # mean 0.05, below a = 0.06; OD CV about 113 %
    s = sample(process(plate, layout), "P01")
    assert "BELOW_CURVE" in s.flags
    assert s.od_cv_pct > 100
    assert "HIGH_CV" in s.flags


def test_junk_standards_that_still_fit_give_no_sample_concentrations(layout):
    plate = make_plate(layout, {"P02": 2.0, "P03": 500.0})
    junk = [2.9, 0.1, 1.7, 2.2, 0.4, 1.1, 2.6, 0.8, 0.2, 1.9, 0.6, 2.4, 1.3, 0.3, 2.0, 0.9]
    for name, od in zip(_standards(layout), junk, strict=True):
        set_od(plate, name, od)
    run = process(plate, layout)
    assert not run.accepted
    assert not any(lv.passed for lv in run.levels)
    assert (run.lloq, run.uloq) == (None, None)
    for s in run.samples:
        assert "PLATE_REJECTED" in s.flags
        assert s.conc_pg_ml is None
        assert not any(ch.isdigit() for ch in s.result)
