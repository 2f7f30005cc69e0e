"""Method validation (issue 24): `il6assay validate` on a simulated validation study.

The study (tests/validation_support.py) is built once for the module: six
accepted runs over three days, five QC levels in triplicate with a known
within-run (6 %) and between-run (5 %) CV, a parallelism series, spiked
pools, ten selectivity sources and bench stability. The ANOVA, bias and total
error are computed here again from each run's wells.csv with the formulas
written out, not imported.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from il6assay.cli import main
from il6assay.study import validation as v
from tests.conftest import LAYOUTS
from tests.validation_support import LAYOUT as VALIDATION_LAYOUT
from tests.validation_support import TRUTH, build_study


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory):
    return build_study(tmp_path_factory.mktemp("validation-study"))


def run_validate(*args: str) -> tuple[int, dict | None, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    doc = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result.exit_code, doc, result.stderr


@pytest.fixture(scope="module")
def validated(study, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("validation-out") / "validation"
    code, doc, err = run_validate(*map(str, study.runs), "--out", str(out), "--json")
    assert doc is not None, err
    return code, doc, out


def qc_values(run_dir: Path) -> dict[tuple[str, float], list[float]]:
    """Each QC level's back-calculated well concentrations on one run, from wells.csv."""
    with (run_dir / "wells.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["role"] == "qc"]
    out: dict[tuple[str, float], list[float]] = {}
    for r in rows:
        out.setdefault((r["level"], float(r["nominal_pg_ml"])), []).append(float(r["conc_pg_ml"]))
    return out


def anova(groups: list[list[float]], nominal: float) -> dict[str, float]:
    """One-way random-effects ANOVA (CLSI EP05-A3), written out independently of il6assay."""
    k = len(groups)
    n_total = sum(len(g) for g in groups)
    grand = sum(sum(g) for g in groups) / n_total
    means = [sum(g) / len(g) for g in groups]
    ss_w = sum((x - m) ** 2 for g, m in zip(groups, means, strict=True) for x in g)
    ss_b = sum(len(g) * (m - grand) ** 2 for g, m in zip(groups, means, strict=True))
    ms_w = ss_w / (n_total - k)
    ms_b = ss_b / (k - 1)
    n0 = (n_total - sum(len(g) ** 2 for g in groups) / n_total) / (k - 1)
    var_b = max(0.0, (ms_b - ms_w) / n0)
    bias = 100 * (grand - nominal) / nominal
    cv_total = 100 * math.sqrt(ms_w + var_b) / grand
    return {
        "mean": grand,
        "bias_pct": bias,
        "cv_within_pct": 100 * math.sqrt(ms_w) / grand,
        "cv_between_pct": 100 * math.sqrt(var_b) / grand,
        "cv_total_pct": cv_total,
        "total_error_pct": abs(bias) + cv_total,
        "ms_w": ms_w,
        "ms_b": ms_b,
        "n0": n0,
    }


def test_validate_json_has_the_issues_keys_and_passes_the_simulated_study(validated):
    code, doc, out = validated
    for key in (
        "precision_accuracy",
        "precision_profile",
        "lloq",
        "uloq",
        "parallelism",
        "recovery",
        "selectivity",
        "dilution_range",
        "stability",
        "pass",
    ):
        assert key in doc, key
    for item in doc["precision_accuracy"]:
        assert set(item) >= {
            "level",
            "nominal",
            "n_runs",
            "n",
            "mean",
            "bias_pct",
            "cv_within_pct",
            "cv_between_pct",
            "cv_total_pct",
            "total_error_pct",
            "pass",
        }
        assert "M10 §4.2.4" in item["source"]
    assert {"sample", "cv_pct", "slope", "pass"} <= set(doc["parallelism"][0])
    assert {"sample", "recovery_pct", "pass"} <= set(doc["recovery"][0])
    assert code == 0 and doc["pass"] is True
    assert (doc["lloq"], doc["uloq"]) == (8.0, 280.0)
    assert doc["dilution_range"] == [2.0, 16.0]
    assert json.loads((out / "validation.json").read_text(encoding="utf-8")) == doc


def test_validate_recovers_the_anova_bias_and_total_error_computed_independently(study, validated):
    _, doc, _ = validated
    per_level: dict[tuple[str, float], list[list[float]]] = {}
    for run_dir in study.runs:
        for key, values in qc_values(run_dir).items():
            per_level.setdefault(key, []).append(values)
    assert len(per_level) == 5
    for item in doc["precision_accuracy"]:
        groups = per_level[item["level"], item["nominal"]]
        assert not item["censored_runs"]
        expected = anova(groups, item["nominal"])
        assert (item["n_runs"], item["n"]) == (6, 18)
        for key in ("mean", "bias_pct", "cv_within_pct", "cv_between_pct", "cv_total_pct"):
            assert item[key] == pytest.approx(expected[key], rel=1e-9), (item["level"], key)
        assert item["total_error_pct"] == pytest.approx(expected["total_error_pct"], rel=1e-9)


def test_validate_recovers_the_simulated_truth_within_its_sampling_error(study, validated):
    """99.9 % chi-square intervals for the variance components, and for the mean."""
    from scipy.stats import chi2, norm

    _, doc, _ = validated
    alpha = 0.001
    per_level: dict[str, list[list[float]]] = {}
    for run_dir in study.runs:
        for (level, _), values in qc_values(run_dir).items():
            per_level.setdefault(level, []).append(values)
    for item in doc["precision_accuracy"]:
        groups = per_level[item["level"]]
        a = anova(groups, item["nominal"])
        k, n = len(groups), sum(len(g) for g in groups)
        sw2 = (TRUTH.cv_within * item["nominal"]) ** 2  # the simulated within-run variance
        sb2 = (TRUTH.cv_between * item["nominal"]) ** 2
        df_w, df_b = n - k, k - 1
        low_w = df_w * a["ms_w"] / chi2.ppf(1 - alpha / 2, df_w)
        high_w = df_w * a["ms_w"] / chi2.ppf(alpha / 2, df_w)
        assert low_w <= sw2 <= high_w, item["level"]
        expected_ms_b = sw2 + a["n0"] * sb2
        low_b = df_b * a["ms_b"] / chi2.ppf(1 - alpha / 2, df_b)
        high_b = df_b * a["ms_b"] / chi2.ppf(alpha / 2, df_b)
        assert low_b <= expected_ms_b <= high_b, item["level"]
        se_mean = math.sqrt(sb2 / k + sw2 / n)
        assert abs(item["mean"] - item["nominal"]) <= norm.ppf(1 - alpha / 2) * se_mean


def test_parallelism_recovery_selectivity_and_stability_follow_the_simulation(validated):
    _, doc, _ = validated
    by_sample = {p["sample"]: p for p in doc["parallelism"]}
    # PAR1 (200 pg/mL neat) is in range at 1:2 to 1:16; PAR2 (1000) is above it at 1:2.
    assert by_sample["PAR1"]["in_range"] == [2.0, 4.0, 8.0, 16.0]
    assert by_sample["PAR2"]["in_range"] == [4.0, 8.0, 16.0]
    for p in by_sample.values():
        assert p["pass"] is True and p["slope"] == pytest.approx(-1.0, abs=0.05)
    for r in doc["recovery"]:
        assert r["recovery_pct"] == pytest.approx(100.0, abs=5.0) and r["pass"] is True
    (sel,) = doc["selectivity"]
    assert (sel["spike"], sel["n_sources"], sel["pass"]) == (50.0, 10, True)
    stab = {s["hours"]: s for s in doc["stability"]}
    # the simulation keeps 97 % after 24 h and 90 % after 72 h on the bench
    assert stab[24.0]["difference_pct"] == pytest.approx(-3.0, abs=6.0)
    assert stab[72.0]["difference_pct"] == pytest.approx(-10.0, abs=6.0)


def test_too_few_runs_is_said_not_guessed(study, tmp_path):
    code, doc, _ = run_validate(*map(str, study.runs[:5]), "--out", str(tmp_path / "v"), "--json")
    assert code == 3 and doc["pass"] is None
    for item in doc["precision_accuracy"]:
        assert item["pass"] is None
        assert "5 runs" in item["reason"] and "at least 6" in item["reason"]
    assert doc["lloq"] is None and "not judged" in doc["pass_reason"]


def test_a_censored_qc_fails_its_level_on_that_run_and_gives_no_number(study):
    runs = [v.load_run(p) for p in study.runs]
    runs[2].lloq = 9.0  # the LLOQ QC (8 pg/mL) is now below that run's range
    levels = {i["level"]: i for i in v.precision_accuracy(runs)}
    lloq = levels["lloq"]
    assert lloq["pass"] is False and runs[2].run_id in lloq["censored_runs"]
    assert "<LLOQ" in lloq["reason"]
    assert (lloq["n_runs"], lloq["n"]) == (6, 15)  # that run's three wells give no number
    assert levels["mid"]["pass"] is True


def test_validate_refuses_a_run_not_accepted_in_one_line(study, tmp_path):
    import shutil

    from il6assay.record.review import review_run

    folder = tmp_path / study.runs[0].name
    shutil.copytree(study.runs[0], folder)
    for p in folder.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    review_run(folder, "reject", "Lin", "curve re-checked: rejected")
    code, doc, err = run_validate(
        str(folder), *map(str, study.runs[1:]), "--out", str(tmp_path / "o")
    )
    assert code == 2 and doc is None
    assert err.strip().count("\n") == 0 and "not accepted" in err and str(folder) in err
    assert not (tmp_path / "o").exists()


def test_validate_refuses_a_changed_run_folder(study, tmp_path):
    import shutil

    folder = tmp_path / study.runs[0].name
    shutil.copytree(study.runs[0], folder)
    wells = folder / "wells.csv"
    wells.chmod(0o644)
    wells.write_text(wells.read_text(encoding="utf-8-sig").replace("8.0", "8.5"), encoding="utf-8")
    code, _, err = run_validate(str(folder), "--out", str(tmp_path / "o"))
    assert code == 2 and "wells.csv" in err and "Traceback" not in err


def test_the_report_shows_the_figures_plots_and_runs_with_their_hashes(study, validated):
    _, doc, out = validated
    page = (out / "validation.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 2
    for run in doc["runs"]:
        assert run["run_id"] in page and run["run_json_sha256"] in page
    assert "ICH M10 §7.2" in page and "ICH M10 §4.2.4" in page


def test_a_bad_plan_is_one_line_naming_the_file(study, tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text("recovery_pct = [120, 80]\n", encoding="utf-8")
    code, _, err = run_validate(
        str(study.runs[0]), "--plan", str(plan), "--out", str(tmp_path / "o")
    )
    assert code == 2 and str(plan) in err and "recovery_pct" in err


# Every criterion flips at its limit
# ==================================

eps = st.floats(min_value=1e-6, max_value=50.0)


@given(edge=st.booleans(), e=eps)
def test_a_qc_level_flips_at_each_limit(edge: bool, e: float):
    bias = v.LIMITS["bias_pct_edge" if edge else "bias_pct"]
    cv = v.LIMITS["cv_pct_edge" if edge else "cv_pct"]
    te = v.LIMITS["total_error_pct_edge" if edge else "total_error_pct"]
    assert v.level_passes(bias, 1.0, te - bias, edge)
    assert not v.level_passes(bias + e, 1.0, 1.0, edge)
    assert not v.level_passes(-(bias + e), 1.0, 1.0, edge)
    assert v.level_passes(0.0, cv, cv, edge)
    assert not v.level_passes(0.0, cv + e, 1.0, edge)
    assert not v.level_passes(0.0, 1.0, cv + e, edge)
    small = min(e, 5.0)  # total error alone: bias and CV each still inside their limits
    assert v.level_passes(te - cv, 1.0, cv, edge)
    assert not v.level_passes(te - cv + small, 1.0, cv, edge)


@given(e=eps)
def test_parallelism_dilution_and_stability_flip_at_their_limits(e: float):
    assert v.parallelism_passes(30.0) and not v.parallelism_passes(30.0 + e)
    assert v.dilution_passes(80.0) and v.dilution_passes(120.0)
    assert not v.dilution_passes(80.0 - e) and not v.dilution_passes(120.0 + e)
    assert v.stability_passes(-20.0) and v.stability_passes(20.0)
    assert not v.stability_passes(-20.0 - e) and not v.stability_passes(20.0 + e)


@given(low=st.floats(50, 99), high=st.floats(101, 150), e=eps)
def test_spike_recovery_flips_at_the_plans_limits(low: float, high: float, e: float):
    assert v.recovery_passes(low, (low, high)) and v.recovery_passes(high, (low, high))
    assert not v.recovery_passes(low - e, (low, high))
    assert not v.recovery_passes(high + e, (low, high))


@given(n=st.integers(1, 40), at_lloq=st.booleans(), e=eps)
def test_selectivity_flips_at_80_percent_of_sources_and_at_its_limit(
    n: int, at_lloq: bool, e: float
):
    need = math.ceil(0.8 * n - 1e-9)
    assert v.selectivity_passes(need, n) and not v.selectivity_passes(need - 1, n)
    limit = 25.0 if at_lloq else 20.0
    assert v.source_within(100.0 + limit, at_lloq) and v.source_within(100.0 - limit, at_lloq)
    assert not v.source_within(100.0 + limit + e, at_lloq)


# The validation roles in layouts
# ===============================


def test_the_validation_plate_reads_its_roles_from_toml_and_as_a_sheet(tmp_path):
    from il6assay.plate.layout import load_layout
    from il6assay.plate.layout_sheet import read_layout, write_layout_template

    layout = load_layout(VALIDATION_LAYOUT)
    specs = layout.wells
    assert (specs["C4"].role, specs["C4"].level, specs["C4"].nominal) == ("qc", "mid", 60.0)
    assert (specs["F6"].role, specs["F6"].sample, specs["F6"].spike) == ("pool", "POOL1", 50.0)
    assert (specs["A10"].role, specs["A10"].source, specs["A10"].spike) == (
        "selectivity",
        "BM01",
        0,
    )
    assert (specs["E3"].condition, specs["E3"].hours) == ("bench", 24.0)
    sheet = write_layout_template(layout, tmp_path / "validation.xlsx")
    again = read_layout(sheet)
    assert again.wells == layout.wells  # the spike, condition and hours sheets carry them


@pytest.mark.parametrize(
    ("well", "message"),
    [
        ('A4 = { role = "pool", sample = "P", spike = -5 }', "spike -5 is negative"),
        ('A4 = { role = "stability", level = "low", condition = "bench", hours = -1 }', "hours"),
        ('A4 = { role = "selectivity", spike = 50 }', "has no 'source'"),
        ('A4 = { role = "qc", level = "mid", conc = 60, spike = 5 }', "'spike' is for pool"),
    ],
)
def test_a_bad_validation_well_is_one_line_naming_the_well(tmp_path, well, message):
    from il6assay.errors import InputError
    from il6assay.plate.layout import load_layout

    path = tmp_path / "bad.layout.toml"
    lot = LAYOUTS / "kit_lots" / "il6_default_lot.toml"
    path.write_text(lot.read_text(encoding="utf-8") + f"\n[well]\n{well}\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_layout(path)
    assert message in str(err.value) and "A4" in str(err.value)


def test_layout_show_draws_the_validation_roles():
    result = CliRunner().invoke(main, ["layout", "show", str(VALIDATION_LAYOUT)])
    assert result.exit_code == 0
    assert "QCs: lloq 8, low 15, mid 60, high 200, uloq 280 pg/mL" in result.stdout
    assert "pool: 8 wells; selectivity: 20 wells; stability: 6 wells" in result.stdout


def _qc_well(name: str, level: str, conc: float | None):
    from il6assay.plate.layout import WellSpec
    from il6assay.plate.wells import Well

    spec = WellSpec(name, "qc", level=level, nominal=60.0)
    return Well(spec, {}, "OK", None, None, conc_on_plate=conc, conc=conc)


PROFILE = {
    "id": 1,
    "lloq_pg_ml": 8.0,
    "uloq_pg_ml": 280.0,
    "dilution_range": [2.0, 16.0],
    "qc_levels": {
        "low": {"target_pg_ml": 15.0, "tolerance_pct": 20.0, "required": True},
        "mid": {"target_pg_ml": 60.0, "tolerance_pct": 20.0, "required": True},
    },
}


@given(e=st.floats(min_value=1e-6, max_value=10.0), sign=st.sampled_from([-1, 1]))
def test_method_qc_flips_at_the_profiles_tolerance_and_needs_every_required_level(e, sign):
    from il6assay.qc.method import profile_rules

    edge = 60.0 * (1 + sign * 0.20)
    low = [_qc_well("A1", "low", 15.0), _qc_well("B1", "low", 15.0)]
    mid_at = [_qc_well("C1", "mid", edge), _qc_well("D1", "mid", edge)]
    off = 60.0 * (1 + sign * (0.20 + e / 100))
    mid_off = [_qc_well("C1", "mid", off), _qc_well("D1", "mid", off)]
    (rule,) = profile_rules(PROFILE, low + mid_at)
    assert rule.passed is True
    (rule,) = profile_rules(PROFILE, low + mid_off)
    assert rule.passed is False and rule.wells == ["C1", "D1"]  # half of mid must be within
    (rule,) = profile_rules(PROFILE, low)
    assert rule.passed is False and "mid" in rule.detail and "missing" in rule.detail


@given(plate_lloq=st.floats(1.0, 20.0), plate_uloq=st.floats(100.0, 400.0))
def test_the_reported_range_is_the_validated_range_within_the_plates(plate_lloq, plate_uloq):
    from il6assay.qc.method import profile_range

    assert profile_range(PROFILE, plate_lloq, plate_uloq) == (
        max(plate_lloq, 8.0),
        min(plate_uloq, 280.0),
    )
    assert profile_range(None, plate_lloq, plate_uloq) == (plate_lloq, plate_uloq)


def test_too_few_qc_levels_give_no_range_and_say_why(validated):
    _, doc, _ = validated
    three = doc["precision_accuracy"][1:4]
    low, high, reason = v.validated_range(three)
    assert (low, high) == (None, None) and reason.startswith("3 QC levels") and "5" in reason


def test_a_run_given_twice_is_refused(study, tmp_path):
    code, _, err = run_validate(
        str(study.runs[0]), str(study.runs[0]), "--out", str(tmp_path / "o")
    )
    assert code == 2 and "given twice" in err and not (tmp_path / "o").exists()


def test_the_method_qc_rule_reads_in_chinese_with_its_numbers_kept():
    import re

    from il6assay.qc.method import profile_rules
    from il6assay.record.i18n import Words

    zh = Words("zh-CN")
    wells = [_qc_well("A1", "low", 15.0), _qc_well("C1", "mid", 90.0), _qc_well("D1", "mid", 60.0)]
    for rule in (profile_rules(PROFILE, wells)[0], profile_rules(PROFILE, wells[:1])[0]):
        assert zh.source(rule.source) != rule.source
        assert zh.description(rule) != rule.description
        text = zh.detail(rule)
        assert not re.search(r"[a-z]{4,} [a-z]{4,}", text.replace("mid", "")), text
        assert sorted(re.findall(r"\d+", text)) == sorted(re.findall(r"\d+", rule.detail))
