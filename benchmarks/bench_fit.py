"""Time of one standard-curve fit: ``fit_curve`` against a plain SciPy call.

One plate's 16 standard wells (the shipped layout's 8 levels in duplicate,
simulated with il6assay.simulate's curve and noise) are fitted by
``il6assay.curve.fit.fit_curve`` (4PL, start search included; weighting "none",
"1/y", "1/y^2" and "1/(k^2+y^2)" with DNase's k), and, side by side, by a bare
``scipy.optimize.least_squares`` 4PL fit with a numeric Jacobian from the
same self-start. Each is timed with ``timeit`` (many repeats); medians are
printed in ms, over several simulated plates. Goal: fit_curve under 1 ms,
never above 5 ms.

Then bounded effort (issue 13): the CPU time of every fit (4PL, 5PL and the
log-log line, every weighting) of every reference data set, R's DNase runs
1-11, NIST Rat42 and Rat43 (as dose-response sets), the drc hard cases, and
the generated curve families of tests/test_fit_families.py (3 plates each):
median, worst, the worst's ratio to the median (goal: at most 10), and the
slowest fits.

Usage: python benchmarks/bench_fit.py [--plates 5] [--repeat 200] [--effort-repeat 3]
       python benchmarks/bench_fit.py --effort-only
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
import time
import timeit
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from il6assay.curve.fit import fit_curve, logistic, self_start
from il6assay.curve.noise import DNASE_K
from il6assay.plate.layout import load_layout
from il6assay.simulate import simulate_plate

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "reference_data"
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


def reference_sets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """DNase runs, NIST Rat42/43, the drc hard cases (../shared) and the generated families."""
    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with (SHARED / "dnase.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    for run in range(1, 12):
        pts = [(float(r["conc"]), float(r["density"])) for r in rows if int(r["Run"]) == run]
        sets[f"DNase run {run}"] = (np.array([c for c, _ in pts]), np.array([o for _, o in pts]))
    for name in ("Rat42", "Rat43"):
        text = (SHARED / f"nist_{name}.dat").read_text()
        data = text[re.search(r"^Data:\s+y\s+x\s*$", text, re.M).end() :].split()
        y, x = np.array(data[0::2], float), np.array(data[1::2], float)
        sets[f"NIST {name}"] = (x, y)
    for k in range(1, 5):
        with (SHARED / "hard_cases" / f"drc_error_{k}.csv").open() as fh:
            hard = list(csv.DictReader(fh))
        sets[f"drc hard case {k}"] = (
            np.array([float(r["Dose"]) for r in hard]),
            np.array([float(r["Response"]) for r in hard]),
        )
    sys.path.insert(0, str(ROOT))
    from tests.test_fit_families import FAMILIES, generated_plate

    for family in FAMILIES:
        for seed in range(3):
            sets[f"{family} #{seed}"] = generated_plate(family, seed)
    return sets


def effort(repeat: int) -> None:
    """CPU time of every fit of every reference set: median, worst, ratio, the slowest."""
    sets = reference_sets()
    fits = []
    fit_curve(*sets["DNase run 1"])  # warm imports
    for name, (x, y) in sets.items():
        for model in ("4pl", "5pl", "loglog"):
            for weighting in WEIGHTINGS:
                k = K.get(weighting)
                start = time.process_time()
                for _ in range(repeat):
                    fit = fit_curve(x, y, model, weighting, k=k)
                ms = 1000.0 * (time.process_time() - start) / repeat
                fits.append((ms, name, model, weighting, fit.success, fit.message))
    times = [f[0] for f in fits]
    median, worst = statistics.median(times), max(times)
    print(
        f"\nbounded effort: {len(fits)} fits ({len(sets)} data sets x 3 models x "
        f"{len(WEIGHTINGS)} weightings), CPU ms per fit, mean of {repeat}"
    )
    print(f"median {median:.2f} ms, worst {worst:.2f} ms, worst / median {worst / median:.1f}")
    groups: dict[str, list[float]] = {}
    for ms, name, *_ in fits:
        groups.setdefault(name.split(" #")[0].rsplit(" run", 1)[0], []).append(ms)
    print("| data | fits | median ms | worst ms |\n|---|---|---|---|")
    for group, values in groups.items():
        print(f"| {group} | {len(values)} | {statistics.median(values):.2f} | {max(values):.2f} |")
    print("slowest:")
    for ms, name, model, weighting, ok, message in sorted(fits, reverse=True)[:8]:
        print(f"  {ms:7.2f} ms  {name}, {model}, {weighting}: {'ok' if ok else message[:70]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--effort-repeat", type=int, default=3)
    parser.add_argument("--effort-only", action="store_true")
    args = parser.parse_args()
    if args.effort_only:
        effort(args.effort_repeat)
        return
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
    effort(args.effort_repeat)


if __name__ == "__main__":
    main()
