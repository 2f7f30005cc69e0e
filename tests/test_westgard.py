"""The Westgard rules through ``check``: per rule a history that breaks it and one that just misses.

Targets: low 20 ± 2 pg/mL, high 100 ± 10 pg/mL, so a z of +2.1 is low 24.2 or high 121.
"""

from __future__ import annotations

import doctest

import pytest

from il6assay.study import westgard
from il6assay.study.westgard import Violation, check

TARGETS = {"low": (20.0, 2.0), "high": (100.0, 10.0)}


def runs(*zs: tuple[float | None, float | None]) -> list[dict[str, float | None]]:
    """Runs given as (z low, z high); None: no value for that level."""
    out = []
    for z_low, z_high in zs:
        run: dict[str, float | None] = {}
        if z_low is not None:
            run["low"] = 20.0 + 2.0 * z_low
        if z_high is not None:
            run["high"] = 100.0 + 10.0 * z_high
        out.append(run)
    return out


def rules(history: list[dict[str, float | None]], rule: str) -> list[Violation]:
    return [v for v in check(history, TARGETS) if v.rule == rule]


def test_in_control_history_breaks_no_rule():
    history = runs(*[(0.5, -0.5), (-0.4, 0.8), (1.2, -1.1), (0.1, 0.3)] * 5)
    assert check(history, TARGETS) == []


def test_one_value_beyond_2sd_is_a_1_2s_warning_not_a_rejection():
    found = check(runs((0.2, 0.1), (2.1, 0.3)), TARGETS)
    assert found == [Violation(run=1, rule="1-2s", levels=("low",), reject=False)]


def test_value_just_inside_2sd_is_no_1_2s():
    assert rules(runs((1.99, 0.0)), "1-2s") == []


def test_one_value_beyond_3sd_rejects_by_1_3s():
    assert rules(runs((0.0, -3.1)), "1-3s") == [
        Violation(run=0, rule="1-3s", levels=("high",), reject=True)
    ]


def test_value_just_inside_3sd_is_no_1_3s():
    assert rules(runs((2.99, 0.0)), "1-3s") == []


def test_two_levels_beyond_the_same_2sd_limit_in_one_run_reject_by_2_2s():
    assert rules(runs((2.1, 2.2)), "2-2s") == [
        Violation(run=0, rule="2-2s", levels=("high", "low"), reject=True)
    ]


def test_one_level_beyond_the_same_2sd_limit_in_two_consecutive_runs_rejects_by_2_2s():
    assert rules(runs((-2.1, 0.0), (-2.3, 0.5)), "2-2s") == [
        Violation(run=1, rule="2-2s", levels=("low",), reject=True)
    ]


def test_2_2s_just_missed_opposite_limits_or_a_run_between_or_one_inside():
    assert rules(runs((2.1, 0.0), (-2.1, 0.0)), "2-2s") == []  # opposite limits
    assert rules(runs((2.1, 0.0), (1.0, 0.0), (2.1, 0.0)), "2-2s") == []  # not consecutive
    assert rules(runs((2.1, 1.95)), "2-2s") == []  # the other level just inside
    assert rules(runs((2.1, -2.1)), "2-2s") == []  # opposite limits in one run (that is R-4s)


def test_levels_beyond_opposite_2sd_limits_in_one_run_reject_by_r_4s():
    assert rules(runs((2.1, -2.05)), "R-4s") == [
        Violation(run=0, rule="R-4s", levels=("low", "high"), reject=True)
    ]


def test_r_4s_is_not_applied_across_runs_and_needs_both_beyond_2sd():
    assert rules(runs((2.5, 0.0), (-2.5, 0.0)), "R-4s") == []  # across runs: never R-4s
    assert rules(runs((2.5, -1.99)), "R-4s") == []  # a range of 4.49 SD, one inside 2 SD


def test_one_level_beyond_1sd_in_four_consecutive_runs_rejects_by_4_1s():
    history = runs((1.1, 0.0), (1.5, -0.5), (1.2, 0.3), (1.05, 0.0))
    assert rules(history, "4-1s") == [Violation(run=3, rule="4-1s", levels=("low",), reject=True)]


def test_4_1s_just_missed_with_three_runs_or_one_value_inside_1sd():
    assert rules(runs((1.1, 0.0), (1.5, 0.0), (1.2, 0.0)), "4-1s") == []
    assert rules(runs((1.1, 0.0), (1.5, 0.0), (0.99, 0.0), (1.2, 0.0)), "4-1s") == []
    assert rules(runs((1.1, 0.0), (1.5, 0.0), (-1.2, 0.0), (1.2, 0.0)), "4-1s") == []


def test_two_levels_beyond_1sd_across_two_runs_reject_by_4_1s():
    history = runs((0.0, 0.0), (-1.2, -1.1), (-1.3, -1.4))
    assert rules(history, "4-1s") == [
        Violation(run=2, rule="4-1s", levels=("high", "low"), reject=True)
    ]


def test_4_1s_across_levels_just_missed_when_one_of_the_four_values_is_inside_1sd():
    assert rules(runs((-1.2, -1.1), (-1.3, -0.95)), "4-1s") == []


def test_one_level_on_one_side_of_the_mean_in_ten_consecutive_runs_rejects_by_10_x():
    history = runs(*[(0.3, 0.2 * (-1) ** k) for k in range(10)])
    assert rules(history, "10-x") == [Violation(run=9, rule="10-x", levels=("low",), reject=True)]


def test_10_x_just_missed_with_nine_runs_or_one_value_across_the_mean():
    assert rules(runs(*[(0.3, -0.3 * (-1) ** k) for k in range(9)]), "10-x") == []
    ten = [(0.3, 0.2 * (-1) ** k) for k in range(10)]
    ten[4] = (-0.01, ten[4][1])
    assert rules(runs(*ten), "10-x") == []


def test_two_levels_on_one_side_of_the_mean_over_five_runs_reject_by_10_x():
    history = runs((-0.5, 0.5), *[(0.4, 0.6)] * 5)
    assert rules(history, "10-x") == [
        Violation(run=5, rule="10-x", levels=("high", "low"), reject=True)
    ]


def test_10_x_across_levels_just_missed_over_four_runs_and_a_half():
    # whole runs: 8 values on one side, then a run whose high crosses the mean
    history = runs((0.4, -0.5), *[(0.4, 0.6)] * 4)
    assert rules(history, "10-x") == []


def test_a_run_without_a_value_for_a_level_is_skipped_not_a_break():
    history = runs((-2.1, 0.0), (None, 0.0), (-2.2, 0.0))
    assert rules(history, "2-2s") == [Violation(run=2, rule="2-2s", levels=("low",), reject=True)]


def test_a_level_without_a_target_is_not_judged():
    assert check([{"low": 20.0, "mid": 1e6}], TARGETS) == []


def test_a_target_sd_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="positive"):
        check(runs((0.0, 0.0)), {"low": (20.0, 0.0)})


def test_every_rule_is_reported_on_every_run_a_1_3s_value_also_breaks_1_2s():
    found = {v.rule for v in check(runs((3.5, 0.0)), TARGETS)}
    assert found == {"1-2s", "1-3s"}


def test_module_example_runs():
    assert doctest.testmod(westgard).failed == 0
