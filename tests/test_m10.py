"""The m10 rule profile (il6assay.qc.m10): ICH M10's judgement of a run, beside the kit profile.

Plates are noiseless simulations of a known 4PL on the shipped standard layout
(tests/plates.py): three QC levels (low 12, mid 60, high 240 pg/mL) in C3-H3
before the samples and C12-H12 after them. A test moves individual wells'
ODs to make its case, and processes the same plate under both profiles where
the kit profile's answer is today's.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from il6assay.cli import main
from il6assay.plate.export import Export, Plate
from il6assay.plate.layout import Layout, WellSpec, load_layout
from il6assay.plate.samples import load_samples
from il6assay.plate.wells import Well
from il6assay.qc import m10
from il6assay.qc.dilutions import combine_rows
from il6assay.qc.results import SampleResult
from il6assay.run import Run, process_plate
from il6assay.settings import Settings
from il6assay.simulate import grid_text
from il6assay.study.summary import build_overview
from tests.conftest import EXAMPLE, STANDARD_LAYOUT, run_dirs
from tests.plates import make_plate, set_conc, set_od, true_od

S7 = 4.6875
SHEET = EXAMPLE / "plate_001.samples.csv"  # P01-P33, the standard layout's labels


@pytest.fixture(scope="module")
def layout() -> Layout:
    return load_layout(STANDARD_LAYOUT)


def process(plate: Plate, layout: Layout, **options) -> Run:
    export = Export(format="test", path=Path("x.sim"), plates=[plate])
    return process_plate(export, layout, load_samples(SHEET), Settings(**options))


def rule(run: Run, rule_id: str):
    return next(r for r in run.rules if r.id == rule_id)


def level(run: Run, name: str):
    return next(lv for lv in run.levels if lv.level == name)


def sample(run: Run, label: str) -> SampleResult:
    return next(s for s in run.samples if s.sample == label)


def s7_apart(plate: Plate) -> None:
    """S7's wells at 156.6 % and 107.1 % of nominal: the reviewer's example."""
    set_conc(plate, "G1", 1.566 * S7)
    set_conc(plate, "G2", 1.071 * S7)


def without(layout: Layout, wells: set[str]) -> Layout:
    return replace(layout, wells={k: v for k, v in layout.wells.items() if k not in wells})


# --- standards on their reportable values, refitted once without a failed level -------------


def test_s7_at_157_and_107_percent_fails_is_refitted_out_and_the_lloq_moves_to_s6(layout):
    plate = make_plate(layout, {"P01": 7.0})
    s7_apart(plate)
    run = process(plate, layout)
    s7 = level(run, "S7")
    assert s7.excluded and not s7.passed
    # On the fitted curve (which the two high wells pull up) the mean is within ±25 %,
    # the wells' CV is not: the level fails on its precision.
    assert s7.cv_pct > 25 and "CV" in s7.reason
    assert run.first_curve is not None and run.first_curve.n == 16 and run.curve.n == 14
    assert (run.lloq, run.uloq) == (9.375, 300.0)
    assert run.accepted  # 6 of 7 levels pass, the QCs lie in 9.375-300
    assert "excluded and refitted without: S7" in rule(run, "STANDARD_LEVELS").detail
    # Under the kit rules one passing well of two passes the level, as before.
    kit = process(plate, layout, rules="kit")
    assert level(kit, "S7").passed and kit.lloq == S7 and kit.first_curve is None


def test_raised_lloq_makes_a_below_lloq_result_not_reportable_and_puts_it_on_the_worklist(
    layout,
):
    plate = make_plate(layout, {"P01": 7.0})
    s7_apart(plate)
    run = process(plate, layout)
    p01 = sample(run, "P01")
    assert {"BELOW_LLOQ", "LLOQ_RAISED"} <= set(p01.flags)
    assert p01.result == "" and p01.conc_pg_ml is None and "re-assay" in p01.advice
    (entry,) = [w for w in build_overview(run.result_rows()).worklist if w["study_id"] == "AML-001"]
    assert entry["dilution"] == "1" and "LLOQ_RAISED" in entry["note"]
    kit = process(plate, layout, rules="kit")
    assert sample(kit, "P01").conc_pg_ml == pytest.approx(7.0, rel=0.1)  # in range there


def test_refit_is_recorded_in_curve_json_and_the_audit_log(layout, tmp_path):
    plate = make_plate(layout)
    s7_apart(plate)
    export = tmp_path / "plate.csv"
    export.write_text(grid_text(plate))
    result = CliRunner().invoke(
        main,
        ["process", str(export), "--layout", str(STANDARD_LAYOUT), "--samples", str(SHEET),
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (folder,) = run_dirs(tmp_path / "out")
    curve = json.loads((folder / "curve.json").read_text())
    assert [x["level"] for x in curve["excluded_levels"]] == ["S7"]
    assert curve["first_fit"]["params"] != curve["fit"]["params"]
    first = json.loads((folder / "audit.jsonl").read_text().splitlines()[0])
    assert first["excluded_standards"][0].startswith("S7 (4.6875 pg/mL)")
    assert "4.3.2" in first["reason"]
    assert "Refitted without" in (folder / "report.html").read_text()
    verified = CliRunner().invoke(main, ["verify", str(folder)])  # the refit is reproducible
    assert verified.exit_code == 0, verified.output


def test_a_failing_top_level_shrinks_the_range_past_the_high_qc_and_rejects(layout):
    plate = make_plate(layout)
    set_conc(plate, "A1", 1.45 * 300)  # S1's wells 45 % apart around the true OD: CV over 25 %
    set_od(plate, "A2", 2 * true_od(300) - true_od(1.45 * 300))
    run = process(plate, layout)
    assert level(run, "S1").excluded and run.uloq == 150.0
    assert [r.id for r in run.failed_rules] == ["QC_RANGE"]
    assert "QCs 12-240 pg/mL" in rule(run, "QC_RANGE").detail
    assert set(rule(run, "QC_RANGE").wells) == {"G3", "H3", "G12", "H12"}
    assert process(plate, layout, rules="kit").accepted


# --- QCs: three levels, two sets bracketing the samples, judged on reportable values ------


QC_SET_AFTER = {f"{r}12" for r in "CDEFGH"}
QC_SET_BEFORE = {f"{r}3" for r in "CDEFGH"}
HIGH_QCS = {"G3", "H3", "G12", "H12"}


@pytest.mark.parametrize(
    ("removed", "says"),
    [
        (QC_SET_BEFORE | QC_SET_AFTER, "the layout has no QCs"),
        (HIGH_QCS, "2 QC level(s) (low, mid); at least 3"),
        (QC_SET_AFTER, "no full QC set after the samples in reading order"),
    ],
    ids=["no QCs", "two QC levels", "all QCs before the samples"],
)
def test_a_plate_without_m10_qc_design_is_rejected_under_m10_and_judged_as_before_under_kit(
    layout, removed, says
):
    plan = without(layout, removed)
    plate = make_plate(plan)
    run = process(plate, plan)
    assert [r.id for r in run.failed_rules] == ["QC_DESIGN"]
    assert says in rule(run, "QC_DESIGN").detail
    kit = process(plate, plan, rules="kit")
    assert kit.accepted
    assert rule(kit, "CONTROLS").passed is (
        None if removed == QC_SET_BEFORE | QC_SET_AFTER else True
    )


def test_a_qc_is_judged_on_its_mean_not_well_by_well(layout):
    plate = make_plate(layout)
    set_conc(plate, "C3", 12 * 1.3)  # one low-QC well 30 % high, its partner 5 % low: mean +12.5 %
    set_conc(plate, "D3", 12 * 0.95)
    run = process(plate, layout)
    assert rule(run, "CONTROLS").passed
    assert all("CONTROL_FAILED" not in w.flags for w in run.wells if w.name in ("C3", "D3"))
    kit = process(plate, layout, rules="kit")
    assert "CONTROL_FAILED" in next(w for w in kit.wells if w.name == "C3").flags


def test_both_low_qcs_failing_fail_half_of_a_level_rule(layout):
    plate = make_plate(layout)
    for name in ("C3", "D3", "C12", "D12"):
        set_conc(plate, name, 12 * 1.5)
    run = process(plate, layout)
    controls = rule(run, "CONTROLS")
    assert controls.passed is False and "low 0%" in controls.detail
    assert set(controls.wells) == {"C3", "D3", "C12", "D12"}


# --- doubtful results are not numbers --------------------------------------------------------


def test_high_cv_sample_has_no_number_and_is_on_the_worklist(layout):
    plate = make_plate(layout)
    set_conc(plate, "E4", 50.0)  # P05's wells at 50 and 80 pg/mL
    set_conc(plate, "E5", 80.0)
    run = process(plate, layout)
    p05 = sample(run, "P05")
    assert "HIGH_CV" in p05.flags
    assert p05.result == "" and p05.conc_pg_ml is None and p05.ci_low_pg_ml is None
    assert "re-assay" in p05.advice
    (entry,) = [w for w in build_overview(run.result_rows()).worklist if w["study_id"] == "AML-005"]
    assert "HIGH_CV" in entry["note"] and entry["dilution"] == "1"
    kit = sample(process(plate, layout, rules="kit"), "P05")
    assert "HIGH_CV" in kit.flags and kit.conc_pg_ml is not None  # reported, as before


def test_censored_results_carry_no_cv(layout):
    plate = make_plate(layout, {"P02": 1.0})
    set_od(plate, "B4", true_od(1.0) * 1.02)
    run = process(plate, layout)
    p02 = sample(run, "P02")
    assert p02.result.startswith("<") and p02.conc_cv_pct is None
    assert sample(process(plate, layout, rules="kit"), "P02").conc_cv_pct is not None


# --- dilutions ---------------------------------------------------------------------------------


def row(label: str, dilution: float, conc: float | None, result: str, flags=()) -> SampleResult:
    s = SampleResult(sample=label, dilution=dilution, wells=[], study_id="AML-1", visit="D0")
    s.conc_pg_ml, s.result, s.flags = conc, result, list(flags)
    if conc is not None:
        s.ci_low_pg_ml, s.ci_high_pg_ml = 0.9 * conc, 1.1 * conc
    return s


def test_dilutions_80_and_120_disagree_by_their_cv_under_m10_and_agree_under_kit():
    rows = [row("P1", 1, 80.0, "80.0"), row("P2", 10, 120.0, "120")]
    combined = combine_rows(rows)
    assert "DILUTION_DISAGREE" in combined.flags and combined.result == "120"
    assert "CV 28.3 %" in combined.advice
    kit = combine_rows(rows, "kit")
    assert "DILUTION_DISAGREE" not in kit.flags and kit.result == "100"


def test_a_neat_above_uloq_contradicted_by_a_lower_diluted_value_disagrees():
    rows = [row("P1", 1, None, ">300", ["ABOVE_ULOQ"]), row("P2", 10, 76.8, "76.8")]
    assert "DILUTION_DISAGREE" in combine_rows(rows).flags
    assert "DILUTION_DISAGREE" not in combine_rows(rows, "kit").flags


def test_agreeing_dilutions_combine_with_their_cv_and_an_interval():
    combined = combine_rows([row("P1", 1, 100.0, "100"), row("P2", 10, 110.0, "110")])
    assert combined.conc_pg_ml == pytest.approx(105.0)
    assert combined.conc_cv_pct == pytest.approx(100 * math.sqrt(50) / 105)
    assert (combined.ci_low_pg_ml, combined.ci_high_pg_ml) == pytest.approx((94.5, 115.5))


# --- the weighting comes from the method, not the samples -------------------------------------


def test_changing_one_sample_well_leaves_every_other_specimen_unchanged(layout):
    from il6assay.simulate import Noise, TrueCurve, simulate_plate
    from tests.plates import TRUE

    a, b, c, d = TRUE
    sim = simulate_plate(
        layout,
        __import__("numpy").random.default_rng(5),
        curve=TrueCurve(a=(a, a), b=(b, b), c=(c, c), d=(d, d)),
        noise=Noise(cv=0.04),
    )
    plate = sim.plate
    before = process(plate, layout)
    for name in ("A4", "A5"):  # P01's wells 12 % higher
        plate.reads["450"][name] = round(float(plate.reads["450"][name]) * 1.12, 3)
    after = process(plate, layout)

    def others(run: Run) -> dict:
        return {
            s.sample: (s.result, s.ci_low_pg_ml, s.ci_high_pg_ml)
            for s in run.samples
            if s.sample != "P01"
        }

    assert others(after) == others(before)
    assert after.noise == before.noise
    kit_before = process(sim.plate, layout, rules="kit")  # the kit rules' k uses samples too
    for name in ("A4", "A5"):
        plate.reads["450"][name] = round(float(plate.reads["450"][name]) * 1.12, 3)
    assert others(process(plate, layout, rules="kit")) != others(kit_before)


def test_a_fixed_k_in_the_settings_is_used_and_recorded(layout):
    run = process(make_plate(layout), layout, k_od=0.25)
    assert run.noise == {"k_od": 0.25, "source": "fixed in the settings (k_od)"}


# --- fitting level means, zero standard excluded ---------------------------------------------


def test_fit_standards_means_fits_one_point_per_level_leaving_masked_wells_out(layout):
    plate = make_plate(layout)
    set_od(plate, "C1", true_od(75.0) * 1.5)  # S3's first well far off, then masked
    run = process(plate, layout, fit_standards="means", masked=("C1",))
    assert run.curve.n == 8
    assert level(run, "S3").mean_recovery_pct == pytest.approx(100.0, abs=0.5)
    assert process(plate, layout, fit_standards="wells", masked=("C1",)).curve.n == 15


def test_zero_standard_exclude_neither_fits_nor_subtracts_it(layout):
    plate = make_plate(layout)
    run = process(plate, layout, zero_standard="exclude")
    assert run.curve.n == 14
    h1 = next(w for w in run.wells if w.name == "H1")
    assert h1.od == pytest.approx(true_od(0.0), abs=1e-3)  # not subtracted


# --- profiles chosen on the command line and in il6assay.toml ---------------------------------


def test_rules_option_and_project_setting_choose_the_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    export = EXAMPLE / "plate_001.xlsx"
    result = CliRunner().invoke(main, ["process", str(export), "--rules", "kit", "--out", "a"])
    assert result.exit_code == 0, result.output
    (folder,) = run_dirs(tmp_path / "a")
    curve = json.loads((folder / "curve.json").read_text())
    # Under kit, curve.json keeps 0.2's shape (runs made before verify); run.json and the
    # report name the profile.
    assert "rules_profile" not in curve and all("profile" not in r for r in curve["rules"])
    assert json.loads((folder / "run.json").read_text())["settings"]["rules"] == "kit"
    assert "(ICH M10 4.3.2; rules kit)" in (folder / "report.html").read_text()
    (tmp_path / "il6assay.toml").write_text('rules = "kit"\nfit_standards = "means"\n')
    result = CliRunner().invoke(main, ["process", str(export), "--out", "b"])
    assert result.exit_code == 0, result.output
    (folder,) = run_dirs(tmp_path / "b")
    settings_used = json.loads((folder / "run.json").read_text())["settings"]
    assert settings_used["rules"] == "kit" and settings_used["fit_standards"] == "means"
    (tmp_path / "il6assay.toml").write_text('rules = "fda"\n')
    result = CliRunner().invoke(main, ["process", str(export), "--out", "c"])
    assert result.exit_code == 2 and "unknown rules 'fda'" in result.stderr


def test_a_run_recorded_before_profiles_is_judged_again_by_the_kit_rules():
    recorded = {k: v for k, v in Settings().to_dict().items() if k != "rules"}
    assert Settings.from_dict(recorded).rules == "kit"


def test_the_example_plate_is_accepted_under_m10_with_its_qcs_on_reportable_values():
    run = process_plate(
        EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.layout.toml", SHEET, Settings()
    )
    assert run.accepted
    assert rule(run, "QC_DESIGN").detail == "3 QC levels in 2 sets bracketing the samples"
    assert {(q["level"], q["side"]) for q in run.qcs} == {
        (lv, side) for lv in ("low", "mid", "high") for side in ("before", "after")
    }
    with (EXAMPLE / "plate_001.samples.csv").open(encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 33


# --- each M10 limit flips the verdict exactly at its boundary ---------------------------------


def std_well(name: str, nominal: float, conc: float) -> Well:
    spec = WellSpec(well=name, role="standard", level=f"L{nominal:g}", nominal=nominal)
    return Well(spec=spec, raw={}, status="OK", od_corrected=1.0, od=1.0, conc_on_plate=conc)


def judged(nominal: float, concs: list[float], end: bool = False) -> bool:
    """The middle level (±20 %, CV 20 %) of three, the ends' levels at 100 %; or (``end``)
    the lowest level (±25 %, CV 25 %), with two levels above it at 100 %."""
    others = (1000.0, 2000.0) if end else (1.0, 1000.0)
    wells = [std_well(f"A{i}", x, x) for i, x in enumerate(others, start=1)]
    wells += [std_well(f"B{i}", nominal, c) for i, c in enumerate(concs, start=1)]
    levels = m10.evaluate_standards(wells, Settings())
    return next(lv for lv in levels if lv.nominal == nominal).passed


EPS = 1e-6


@settings(max_examples=60, deadline=None)
@given(
    nominal=st.floats(2.0, 900.0),
    sign=st.sampled_from([-1.0, 1.0]),
    side=st.sampled_from([-1.0, 1.0]),
)
def test_each_m10_limit_flips_the_verdict_at_its_boundary(nominal, sign, side):
    # Accuracy: identical replicates (CV 0) at 100 % ± 20 % pass just inside, fail just outside.
    edge = nominal * (1 + sign * 0.20)
    assert judged(nominal, [edge * (1 - side * sign * EPS)] * 2) is (side > 0)
    # Precision: two replicates around nominal with CV just under / over 20 %.
    half = 0.20 * nominal / math.sqrt(2) * (1 - side * EPS)
    assert judged(nominal, [nominal - half, nominal + half]) is (side > 0)
    # The LLOQ level: ±25 % and CV 25 %.
    edge_end = nominal * (1 + sign * 0.25)
    assert judged(nominal, [edge_end * (1 - side * sign * EPS)] * 2, end=True) is (side > 0)
    half_end = 0.25 * nominal / math.sqrt(2) * (1 - side * EPS)
    assert judged(nominal, [nominal - half_end, nominal + half_end], end=True) is (side > 0)
    # QCs: each QC's mean against ±20 %; 2/3 of the QCs; half of each level.
    low = edge * (1 - side * sign * EPS) / nominal  # both low QCs there: the level's share flips
    assert qc_verdict([low, 1.0, 1.0], low) is (side > 0)


def qc_verdict(means: list[float], low_second: float) -> bool:
    """Six QCs (low, mid, high before and after): recoveries ``means`` before, and the low
    QC after at ``low_second``, the others at 100 %; the CONTROLS rule's verdict."""
    wells = []
    for col, recoveries in ((3, means), (12, [low_second, 1.0, 1.0])):
        levels = zip(("low", "mid", "high"), recoveries, strict=True)
        for r, (lv, rec) in zip("CEG", levels, strict=True):
            nominal = {"low": 12.0, "mid": 60.0, "high": 240.0}[lv]
            spec = WellSpec(
                well=f"{r}{col}", role="qc", level=lv, nominal=nominal,
                low=0.8 * nominal, high=1.2 * nominal,
            )  # fmt: skip
            wells.append(
                Well(spec=spec, raw={}, status="OK", od_corrected=1.0, od=1.0,
                     conc_on_plate=rec * nominal, conc=rec * nominal)
            )  # fmt: skip
    wells.append(Well(spec=WellSpec("A4", "sample", sample="P01"), raw={}, status="OK",
                      od_corrected=1.0, od=1.0))  # fmt: skip
    return bool(m10.evaluate_qcs(wells, Settings())[0].passed)


def test_qc_shares_flip_at_two_thirds_and_half_of_a_level():
    # 6 QCs, one failing (low after): 5/6 pass, low 50 %: passes.
    assert qc_verdict([1.0, 1.0, 1.0], 1.5)
    # Both lows failing: 4/6 = 2/3 overall passes, but low 0 % fails.
    assert not qc_verdict([1.5, 1.0, 1.0], 1.5)
    # Two levels half failing: 4/6 passes overall and 50 % per level.
    assert qc_verdict([1.0, 1.5, 1.0], 1.5)
    # Three of six failing: 50 % < 2/3.
    assert not qc_verdict([1.0, 1.5, 1.5], 1.5)
