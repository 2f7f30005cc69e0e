"""Time of one standard-curve fit: ``fit_curve`` against a plain SciPy call.

One plate's 16 standard wells (the shipped layout's 8 levels in duplicate,
simulated with il6assay.simulate's curve and noise) are fitted by
``il6assay.curve.fit.fit_curve`` (4PL, start search included; weighting "none",
"1/y", "1/y^2" and "1/(k^2+y^2)" with DNase's k), and, side by side, by a bare
``scipy.optimize.least_squares`` 4PL fit with a numeric Jacobian from the
same self-start. Each is timed with ``timeit`` (many repeats); medians are
printed in ms, over several simulated plates. Goal: fit_curve under 1 ms,
never above 5 ms.

Usage: python benchmarks/bench_fit.py [--plates 5] [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from il6assay.curve.fit import fit_curve, logistic, self_start
from il6assay.curve.noise import DNASE_K
from il6assay.plate.layout import load_layout
from il6assay.simulate import simulate_plate

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = ROOT / "plate_layouts" / "il6_96_standard.toml"
GOAL_MS, LIMIT_MS = 1.0, 5.0
WEIGHTINGS = ("none", "1/y", "1/y^2", "1/(k^2+y^2)")
K = {"1/(k^2+y^2)": DNASE_K}  # a plate's own k is measured before the fit (il6assay.curve.noise)


def plate_standards(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Nominal concentrations and corrected ODs (450 - 570) of one simulated plate's standards."""
    layout = load_layout(LAYOUT)
    sim = simulate_plate(layout, np.random.default_rng(seed))
    reads = sim.plate.reads
    specs = layout.standards()
    conc = np.array([float(s.nominal or 0.0) for s in specs])
    od = np.array([float(reads["450"][s.well]) - float(reads["570"][s.well]) for s in specs])
    return conc, od


def scipy_fit(conc: np.ndarray, od: np.ndarray) -> np.ndarray:
    """A bare 4PL least-squares fit: numeric Jacobian, from the self-start, no start search."""
    a, b, lnc, d = self_start(conc, od)

    def resid(theta: np.ndarray) -> np.ndarray:
        return logistic(conc, theta[0], theta[1], np.exp(theta[2]), theta[3]) - od

    return least_squares(resid, np.array([a, b, lnc, d]), method="lm").x


def median_ms(call, repeat: int) -> float:
    """Median wall time of one call, in ms, over ``repeat`` timeit runs of a few calls each."""
    number = 5
    call()  # warm imports and caches
    times = timeit.repeat(call, number=number, repeat=repeat)
    return 1000.0 * statistics.median(times) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    rows = []
    for seed in range(args.plates):
        conc, od = plate_standards(seed)
        row = {"plate": seed}
        for weighting in WEIGHTINGS:
            fit = fit_curve(conc, od, weighting=weighting, k=K.get(weighting))
            assert fit.success, fit.message
            row[weighting] = median_ms(
                lambda conc=conc, od=od, w=weighting: fit_curve(conc, od, weighting=w, k=K.get(w)),
                args.repeat,
            )
            row[f"{weighting} method"] = f"{fit.method}, {fit.reweight_iterations} reweights"
        row["scipy"] = median_ms(lambda conc=conc, od=od: scipy_fit(conc, od), args.repeat)
        rows.append(row)
    print(f"one fit of {conc.size} standard wells, median ms over {args.repeat} x 5 calls")
    print(f"{'plate':>5}" + "".join(f"  {'fit ' + w:>16}" for w in WEIGHTINGS) + "   scipy lm")
    for r in rows:
        print(
            f"{r['plate']:>5}"
            + "".join(f"  {r[w]:16.3f}" for w in WEIGHTINGS)
            + f"  {r['scipy']:9.3f}   "
            + "; ".join(f"{w}: {r[w + ' method']}" for w in WEIGHTINGS)
        )
    overall = {k: statistics.median(r[k] for r in rows) for k in (*WEIGHTINGS, "scipy")}
    print(
        "median"
        + "".join(f"  {overall[w]:16.3f}" for w in WEIGHTINGS)
        + f"  {overall['scipy']:9.3f}   (goal < {GOAL_MS:g} ms, limit {LIMIT_MS:g} ms)"
    )
    for key in WEIGHTINGS:
        verdict = (
            "meets the goal"
            if overall[key] < GOAL_MS
            else "within the limit"
            if overall[key] <= LIMIT_MS
            else "ABOVE THE LIMIT"
        )
        print(f"fit_curve weighting {key!r}: {overall[key]:.3f} ms, {verdict}")


if __name__ == "__main__":
    main()
