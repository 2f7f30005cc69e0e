"""Plates with known truth through the whole pipeline (``process_plate``, as the CLI runs it).

The issue's bar, on plates with realistic noise made here: in-range samples
within ±20 % of truth in at least 98.5 % of cases, 95 % CIs covering the truth
in 93-97 % of cases, every sample whose truth is outside the standards' range
flagged, not reported as a number.

"Realistic noise" is ``il6assay.simulate.Noise()``: the noise measured in the
only real ELISA duplicates we hold (R's DNase, ../shared/reference_data), which
the first test re-measures. "In-range samples" are the samples the run reports
as numbers, i.e. whose mean OD fell inside the calibrated range: a truth just
inside the range whose OD falls below the LLOQ's is censored, as the rules
demand, and counted separately (``censored``), not as a number off by > 20 %.
The scoring (``il6assay.simulate.validate``) is printed by
``benchmarks/simulate_accuracy.py`` over more plates;
its figures are in docs/curve.md.
"""

from __future__ import annotations

import csv
from collections import defaultdict

import numpy as np
import pytest

from il6assay.curve.noise import noise_from_duplicates
from il6assay.plate.layout import load_layout
from il6assay.settings import Settings
from il6assay.simulate import Noise, Validation, validate
from tests.conftest import KIT_LAYOUT, SHARED, STANDARD_LAYOUT, needs_shared


@needs_shared
def test_simulator_default_noise_is_the_noise_measured_in_dnase_duplicates():
    pairs: dict[tuple[str, str], list[float]] = defaultdict(list)
    with (SHARED / "reference_data" / "dnase.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            pairs[(row["Run"], row["conc"])].append(float(row["density"]))
    first, second = zip(*(p for p in pairs.values() if len(p) == 2), strict=True)
    est = noise_from_duplicates(first, second)
    assert (est.pairs, est.dropped) == (86, 2)
    assert Noise().cv == pytest.approx(est.cv, abs=0.001)
    assert Noise().sd == pytest.approx(est.sd, abs=0.0002)


def test_noise_from_duplicates_recovers_a_known_noise_and_drops_gross_errors():
    rng = np.random.default_rng(3)
    true = rng.uniform(0.02, 2.5, 4000)

    def read():
        return true * (1 + rng.normal(0, 0.04, true.size)) + rng.normal(0, 0.01, true.size)

    first, second = read(), read()
    second[:5] += 1.0  # five splashed wells
    est = noise_from_duplicates(first, second)
    assert est.dropped >= 5
    assert est.cv == pytest.approx(0.04, rel=0.08)
    assert est.sd == pytest.approx(0.01, rel=0.08)


def score_plates(plates: int, seed: int, noise: Noise | None = None) -> Validation:
    """Simulated plates through ``process_plate``, scored against truth: the curve's own
    accuracy bar, as measured in 0.2 (its layout, the kit rules; the m10 rules below)."""
    layout = load_layout(KIT_LAYOUT)
    kit = Settings(rules="kit")
    return validate(layout, plates, np.random.default_rng(seed), noise=noise, settings=kit)


@pytest.mark.slow  # simulates plates through the whole pipeline
def test_m10_rules_on_the_shipped_layout_keep_accuracy_at_a_cost_in_coverage_and_reassays():
    """The same simulation under the m10 rules, on the shipped M10 layout (60 plates, seed
    7): measured 99.4 % of 877 reported within ±20 %, 92.4 % covered (the kit rules on the
    same plates: 91-95 % over seeds 7-10, docs/curve.md), 65 of 1980 samples not reportable
    (HIGH_CV, LLOQ_RAISED: 3.3 %; 5.75 % over 400 plates), no plate rejected."""
    score = validate(load_layout(STANDARD_LAYOUT), 60, np.random.default_rng(7))
    assert score.reported > 850 and score.rejected_plates <= 1
    assert score.within20 / score.reported >= 0.985
    assert 0.91 <= score.covered / score.reported <= 0.97
    assert 0.01 < score.not_reportable / score.samples < 0.08


@pytest.mark.slow  # simulates plates through the whole pipeline
def test_realistic_plates_meet_the_issue_98_5_percent_within_20_percent_and_95_percent_ci():
    """60 plates, 927 in-range results: measured 99.1 % within ±20 %, 95.9 % covered,
    and 94-98 % in each range of concentrations (the default weighting by the plate's
    own noise keeps the intervals honest across the range, docs/choices.md).

    400 plates: benchmarks/simulate_accuracy.py, figures in docs/curve.md.
    """
    score = score_plates(60, seed=7)
    detail = {k: f"{h}/{n}" for k, (n, h, _) in score.by_range.items()}
    assert score.reported > 900 and score.rejected_plates <= 1
    assert score.within20 / score.reported >= 0.985, detail
    assert 0.93 <= score.covered / score.reported <= 0.97, score.covered / score.reported
    by_range = {k: c / n for k, (n, _, c) in score.by_range.items()}
    assert all(0.90 <= share <= 0.99 for share in by_range.values()), by_range
    # Censoring of in-range truths happens only at the edges of the range, and rarely.
    assert score.censored / (score.censored + score.reported) < 0.04


@pytest.mark.slow  # simulates plates through the whole pipeline
def test_samples_outside_the_standards_range_are_flagged_not_numbers():
    """Every truth outside the range is flagged, and no number is extrapolated.

    A truth just outside the range gives an OD just outside the calibrated
    ODs, and noise can carry it inside: such a sample is then a number within
    the range, never beyond it, and its 95 % CI reaches past the limit, so it
    is flagged NEAR_LLOQ/NEAR_ULOQ (``unflagged`` counts any that is not).
    Measured here (60 plates): 14 of 1,179 truths outside came back as numbers,
    all within a factor 1.2 of a limit, all flagged. Over 400 plates
    (benchmarks/simulate_accuracy.py, docs/curve.md) 2 of 7,849 are numbers
    without the flag: their intervals are among the 5 % that miss the truth.
    """
    score = score_plates(60, seed=11)
    assert score.outside > 1000 and score.unflagged == 0
    for truth, result, lloq, uloq in score.leaked:
        assert lloq / 1.5 < truth < uloq * 1.5, (truth, result)
        assert lloq <= float(result) <= uloq
    assert len(score.leaked) / score.outside < 0.03


@pytest.mark.slow  # simulates plates through the whole pipeline
def test_a_pessimistic_plate_still_reports_mostly_accurate_numbers():
    """5 % CV + 0.005 OD (2.5 x DNase's proportional noise): measured 97.8 % within ±20 %,
    93.1 % covered on these 40 plates (400 plates: docs/curve.md)."""
    score = score_plates(40, seed=5, noise=Noise(cv=0.05))
    assert score.within20 / score.reported >= 0.97
    assert 0.90 <= score.covered / score.reported <= 0.98
