"""Does the curve engine meet the issue's accuracy bar on realistic plates? A simulation.

Plates of the shipped layout with known truth (il6assay.simulate: noise as
measured in R's DNase duplicates, curves varying plate to plate, samples
log-uniform over 0.3-3000 pg/mL) go through ``process_plate`` with the default
settings; ``il6assay.simulate.validate`` scores them. The bar (issue 5): of the
in-range samples reported as numbers, >= 98.5 % within ±20 % of the truth and
93-97 % of 95 % CIs holding it; every truth outside the range flagged.

Each noise is run under both rule profiles (``--rules m10|kit|both``, default
both) on the same plates, so the tables show what the m10 rules cost: plates
rejected, and results not reportable (HIGH_CV, LLOQ_RAISED) that go back on
the re-assay worklist.

Usage: python benchmarks/simulate_accuracy.py [--plates 400] [--seed 1] [--rules both]
                                              [--layout plate_layouts/il6_96_standard.toml]
Figures are quoted in docs/curve.md ("Accuracy on realistic plates").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from il6assay.plate.layout import load_layout
from il6assay.settings import Settings
from il6assay.simulate import Noise, validate

LAYOUT = Path(__file__).resolve().parents[1] / "plate_layouts" / "il6_96_standard.toml"


def main() -> None:
    """Print the overall table and the per-range table for DNase-like and pessimistic noise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rules", choices=["m10", "kit", "both"], default="both")
    parser.add_argument("--layout", type=Path, default=LAYOUT)
    args = parser.parse_args()
    layout = load_layout(args.layout)
    cases = {
        "DNase-like (2 % CV + 0.005 OD, default)": Noise(),
        "pessimistic (5 % CV + 0.005 OD)": Noise(cv=0.05),
    }
    profiles = ["m10", "kit"] if args.rules == "both" else [args.rules]
    results = {
        f"{name}, {rules} rules": validate(
            layout,
            args.plates,
            np.random.default_rng(args.seed),
            noise=noise,
            settings=Settings(rules=rules),
        )
        for name, noise in cases.items()
        for rules in profiles
    }
    print(f"{args.plates} simulated plates per noise and profile, seed {args.seed}, ", end="")
    print(f"layout {args.layout.name}\n")
    print(
        "| noise | plates | reported in range | within ±20 % | 95 % CI covers | "
        "in-range truth censored | outside truth reported | outside truth unflagged |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, v in results.items():
        print(v.line(name))
    print("\nWhat goes back to the bench (re-assay), per profile:\n")
    print("| case | plates rejected | samples on accepted plates | not reportable (HIGH_CV, "
          "LLOQ_RAISED) | per 100 samples |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, v in results.items():
        per100 = 100 * v.not_reportable / max(v.samples, 1)
        print(f"| {name} | {v.rejected_plates} | {v.samples} | {v.not_reportable} | {per100:.2f} |")
    for name, v in results.items():
        print(f"\n{name}, by true concentration (pg/mL):\n")
        print("| range | reported | within ±20 % | 95 % CI covers |")
        print("|---|---|---|---|")
        for rng_name, (n, hit, cov) in v.by_range.items():
            print(f"| {rng_name} | {n} | {hit / max(n, 1):.2%} | {cov / max(n, 1):.2%} |")
        if v.leaked:
            worst = max(v.leaked, key=lambda t: max(t[2] / t[0], t[0] / t[3]))
            below = [float(r) / lo for t, r, lo, _ in v.leaked if t < lo]
            above = [float(r) / hi for t, r, _, hi in v.leaked if t > hi]
            print(
                f"\nOutside truths reported as numbers: {len(v.leaked)} ({len(below)} below the "
                f"LLOQ, read at most {max(below, default=1):.2f} x LLOQ; {len(above)} above the "
                f"ULOQ, read at least {min(above, default=1):.2f} x ULOQ); the farthest truth, "
                f"{worst[0]:.3g}, read as {worst[1]} (range {worst[2]:g}-{worst[3]:g})."
            )


if __name__ == "__main__":
    main()
