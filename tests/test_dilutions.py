"""A specimen at several dilutions is one result; every dilution keeps its row."""

from __future__ import annotations

import pytest

from il6assay.qc.dilutions import combine
from il6assay.qc.results import SampleResult


def row(sample, dilution, conc=None, result=None, flags=(), study="AML-001", visit="D0"):
    s = SampleResult(sample=sample, dilution=dilution, wells=[], study_id=study, visit=visit)
    s.conc_pg_ml = conc
    s.result = result if result is not None else (f"{conc:g}" if conc is not None else "")
    for f in flags:
        s.flag(f)
    return s


def only(rows):
    (specimen,) = combine(rows)
    return specimen.combined


def test_single_dilution_is_its_own_result():
    r = row("P01", 1, conc=50.0)
    assert only([r]) is r


def test_agreeing_in_range_dilutions_are_averaged():
    c = only([row("P01", 1, conc=100.0), row("P02", 10, conc=110.0)])
    assert c.conc_pg_ml == pytest.approx(105.0)
    assert c.dilution_label == "1;10"
    assert "DILUTION_DISAGREE" not in c.flags and "HOOK_SUSPECTED" not in c.flags
    assert c.sample == "P01+P02" and c.combined_from == ["P01@1", "P02@10"]


def test_disagreeing_dilutions_are_flagged_and_the_highest_dilution_reported():
    c = only([row("P01", 1, conc=100.0), row("P02", 10, conc=60.0)])
    assert "DILUTION_DISAGREE" in c.flags
    assert c.conc_pg_ml == 60.0 and c.dilution == 10
    assert "HOOK_SUSPECTED" not in c.flags  # falls with dilution: matrix, not hook


def test_result_rising_with_dilution_is_a_suspected_hook():
    c = only([row("P01", 1, conc=100.0), row("P02", 10, conc=400.0)])
    assert {"DILUTION_DISAGREE", "HOOK_SUSPECTED"} <= set(c.flags)


def test_neat_below_range_but_diluted_in_range_above_that_bound_is_a_suspected_hook():
    c = only([row("P01", 1, result="<4.69", flags=["BELOW_LLOQ"]), row("P02", 10, conc=250.0)])
    assert {"DILUTION_DISAGREE", "HOOK_SUSPECTED"} <= set(c.flags)


def test_neat_above_range_and_diluted_in_range_takes_the_diluted_result():
    c = only([row("P01", 1, result=">300", flags=["ABOVE_ULOQ"]), row("P02", 10, conc=900.0)])
    assert c.conc_pg_ml == 900.0 and c.dilution == 10
    assert "ABOVE_ULOQ" not in c.flags and "DILUTION_DISAGREE" not in c.flags


def test_all_above_range_reports_the_bound_of_the_highest_dilution():
    c = only(
        [
            row("P01", 1, result=">300", flags=["ABOVE_ULOQ"]),
            row("P02", 10, result=">3000", flags=["ABOVE_ULOQ"]),
        ]
    )
    assert c.result == ">3000" and c.conc_pg_ml is None and "ABOVE_ULOQ" in c.flags


def test_all_below_range_reports_the_bound_of_the_lowest_dilution():
    c = only(
        [
            row("P01", 1, result="<4.69", flags=["BELOW_LLOQ"]),
            row("P02", 10, result="<46.9", flags=["BELOW_LLOQ"]),
        ]
    )
    assert c.result == "<4.69" and c.conc_pg_ml is None


def test_different_specimens_are_never_combined():
    specimens = combine([row("P01", 1, conc=5.0), row("P02", 1, conc=6.0, study="AML-002")])
    assert len(specimens) == 2


def test_plate_rejection_carries_to_the_combined_result():
    c = only([row("P01", 1, conc=100.0, flags=["PLATE_REJECTED"]), row("P02", 10, conc=105.0)])
    assert "PLATE_REJECTED" in c.flags
