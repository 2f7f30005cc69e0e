"""The limit for `il6assay process`: only the work a plate needs, in one plain script.

Reads the shipped example's export (python-calamine, as il6assay does), its
wellmap layout and sample sheet; takes A450 - A570; measures the replicate
noise (Var = sd^2 + (cv OD)^2, by least squares on the duplicates' squared
differences) for the 4PL's 1/(k^2 + y^2) weights; fits the 4PL by
Levenberg-Marquardt in numpy; sets LLOQ/ULOQ from the standard levels whose
mean back-calculated value recovers within ±20 % (±25 % at the ends) with a
CV of at most 20 % (25 %); back-calculates every sample, censoring outside
the range (a saturated well is above it; replicates whose concentrations
disagree by a CV over 20 % get none), times the sheet's dilution, a
specimen's dilutions in range averaged; writes results.csv and curve.json,
the SHA-256 of every input and output, and one audit line, into OUT.

No flags, no rules beyond the range, no report, no workbook, no second model,
no outlier test, no confidence intervals: what il6assay does beyond this is
what a plate costs above the limit. ``benchmarks/bench_cli.py`` times it beside
`il6assay process` in fresh processes and checks that it gives the same
LLOQ/ULOQ and every sample's result within 1 % (docs/speed.md).

Usage: python benchmarks/reference_process.py [EXPORT LAYOUT SAMPLES] OUT
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from python_calamine import CalamineWorkbook

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "fixtures" / "example"
ROWS, COLS = "ABCDEFGH", range(1, 13)
TOKENS = {"OVER": "SATURATED", "OVRFLW": "SATURATED"}


def read_grids(path: Path) -> dict[str, dict[str, object]]:
    """Each 8x12 block of the workbook, by the wavelength written above it."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    grids: dict[str, dict[str, object]] = {}
    for i, row in enumerate(rows):
        if row and str(row[0]).strip() == "A" and i >= 2:
            label = next(str(c).split()[0] for c in rows[i - 2] if str(c).strip())
            grid = {}
            for r, letter in enumerate(ROWS):
                for c in COLS:
                    value = rows[i + r][c]
                    grid[f"{letter}{c}"] = TOKENS.get(str(value).strip(), value)
            grids[str(label).removesuffix(".0")] = grid
    return grids


def _wells(spec: str, shape: tuple[int, int] | None = None) -> list[str]:
    """Wells of a wellmap key: "A3" (with a block shape WxH), a column list or range."""
    if shape is not None:
        width, height = shape
        r0, c0 = ROWS.index(spec[0]), int(spec[1:])
        return [f"{ROWS[r0 + dr]}{c0 + dc}" for dr in range(height) for dc in range(width)]
    cols: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        cols += range(int(lo), int(hi or lo) + 1)
    return [f"{r}{c}" for c in cols for r in ROWS]


def read_layout(path: Path) -> dict[str, dict]:
    """The wellmap subset the lab's layouts use: include, col, block, and single wells."""
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    wells: dict[str, dict] = {}
    include = doc.get("meta", {}).get("include")
    if include:
        wells.update(read_layout(path.parent / include))
    for spec, props in doc.get("col", {}).items():
        for w in _wells(spec):
            wells.setdefault(w, {}).update(props)
    for shape, blocks in doc.get("block", {}).items():
        width, height = (int(n) for n in shape.split("x"))
        for anchor, props in blocks.items():
            for w in _wells(anchor, (width, height)):
                wells.setdefault(w, {}).update(props)
    for key, props in doc.items():
        if len(key) <= 3 and key[0] in ROWS and key[1:].isdigit():
            wells.setdefault(key, {}).update(props)
    return wells


def four_pl(x: np.ndarray, a: float, b: float, c: float, d: float) -> np.ndarray:
    """The 4PL: a at zero dose, d at infinite dose, c the midpoint, b the slope."""
    return d + (a - d) / (1 + (np.maximum(x, 0) / c) ** b)


def fit_4pl(x: np.ndarray, y: np.ndarray, k: float) -> np.ndarray:
    """Weighted 4PL (weights 1/(k^2 + fitted^2), reweighted) by Levenberg-Marquardt in numpy."""
    theta = np.array([y.min(), 1.0, float(np.median(x[x > 0])), y.max()])
    for _ in range(6):  # reweighting passes
        w = 1 / np.sqrt(k**2 + four_pl(x, *theta) ** 2)
        lam = 1e-3
        for _ in range(200):
            a, b, c, d = theta
            u = np.maximum(x, 1e-300) / c
            p = u**b
            den = 1 + p
            r = w * (four_pl(x, *theta) - y)
            jac = (
                np.column_stack(
                    [
                        1 / den,
                        -(a - d) * p * np.log(u) / den**2,
                        (a - d) * p * b / c / den**2,
                        1 - 1 / den,
                    ]
                )
                * w[:, None]
            )
            jac[x <= 0, 1:3] = 0
            g, h = jac.T @ r, jac.T @ jac
            step = np.linalg.solve(h + lam * np.diag(np.diag(h)), -g)
            trial = theta + step
            if trial[2] > 0 and np.sum((w * (four_pl(x, *trial) - y)) ** 2) < r @ r:
                done = np.all(np.abs(step) <= 1e-10 * (np.abs(theta) + 1e-12))
                theta, lam = trial, lam / 10
                if done:
                    break
            else:
                lam *= 10
                if lam > 1e12:
                    break
    return theta


def inverse(y: float, a: float, b: float, c: float, d: float) -> float | None:
    """Concentration at OD y, or None outside the curve's asymptotes."""
    ratio = (a - d) / (y - d) - 1
    return float(c * ratio ** (1 / b)) if ratio > 0 else None


def _conc_cv(values: list, theta: np.ndarray) -> float:
    """CV (%) of the replicates' back-calculated concentrations (0 when not all have one)."""
    backs = [inverse(v, *theta) for v in values]
    if len(backs) < 2 or any(b is None for b in backs):
        return 0.0
    return float(np.std(backs, ddof=1) / np.mean(backs) * 100)


def main(export: Path, layout_path: Path, samples_path: Path, out: Path) -> dict:
    """Process one plate into ``out``; return what was written (for the comparison)."""
    grids = read_grids(export)
    layout = read_layout(layout_path)
    with samples_path.open(encoding="utf-8-sig", newline="") as fh:
        sheet = {row["sample"]: row for row in csv.DictReader(fh)}
    od: dict[str, float | str] = {}
    for well in layout:
        raw, ref = grids["450"][well], grids["570"][well]
        od[well] = raw if isinstance(raw, str) else float(raw) - float(ref)
    groups: dict[tuple, list[str]] = {}
    for well, spec in layout.items():
        if spec.get("role") in ("standard", "blank", "qc", "control", "sample"):
            key = (spec["role"], spec.get("level"), spec.get("sample"))
            groups.setdefault(key, []).append(well)
    pairs = [
        (od[ws[0]], od[ws[1]])
        for ws in groups.values()
        if len(ws) >= 2 and all(isinstance(od[w], float) for w in ws[:2])
    ]
    m = np.array([(p + q) / 2 for p, q in pairs])
    d2 = np.array([(p - q) ** 2 / 2 for p, q in pairs])  # estimates 2 Var(mean) = Var(OD)
    design = np.column_stack([np.ones_like(m), m**2])
    sd2, cv2 = 1e-4, 1e-3
    for _ in range(20):  # weighted by 1/Var^2: the Gaussian likelihood's own weights
        w = 1 / (sd2 + cv2 * m**2)
        sd2, cv2 = np.maximum(np.linalg.lstsq(design * w[:, None], d2 * w, rcond=None)[0], 1e-8)
    k = float(np.sqrt(sd2 / cv2))
    std = [w for w, s in layout.items() if s.get("role") == "standard" and isinstance(od[w], float)]
    x = np.array([float(layout[w]["conc"]) for w in std])
    y = np.array([od[w] for w in std])
    theta = fit_4pl(x, y, k)
    passing = []
    levels = sorted({float(layout[w]["conc"]) for w in std if layout[w]["conc"] > 0})
    for i, nominal in enumerate(levels):
        backs = [inverse(od[w], *theta) for w in std if layout[w]["conc"] == nominal]
        backs = [b for b in backs if b is not None]
        if not backs:
            continue
        mean = float(np.mean(backs))
        cv = float(np.std(backs, ddof=1) / mean * 100) if len(backs) > 1 else 0.0
        edge = i in (0, len(levels) - 1)
        if abs(mean / nominal * 100 - 100) <= (25 if edge else 20) and cv <= (25 if edge else 20):
            passing.append(nominal)
    lloq, uloq = min(passing), max(passing)
    specimens: dict[tuple, list[tuple[float | None, str]]] = {}
    for (role, _, label), ws in groups.items():
        if role != "sample":
            continue
        values = [od[w] for w in ws]
        row = sheet.get(label, {})
        dilution = float(row.get("dilution") or 1)
        low, high = lloq * dilution, uloq * dilution
        if any(isinstance(v, str) for v in values):
            found: tuple[float | None, str] = (None, f">{high:.3g}")
        else:
            conc = inverse(float(np.mean(values)), *theta)
            if conc is None or conc * dilution < low:
                found = (None, f"<{low:.3g}")
            elif conc * dilution > high:
                found = (None, f">{high:.3g}")
            elif _conc_cv(values, theta) > 20:
                found = (None, "")  # replicates disagree: no result
            else:
                found = (conc * dilution, f"{conc * dilution:.3g}")
        specimens.setdefault((row.get("study_id"), row.get("visit")), []).append(found)
    results = []
    for (study_id, visit), found in specimens.items():
        numbers = [c for c, _ in found if c is not None]  # a specimen's dilutions in range
        conc = float(np.mean(numbers)) if numbers else None
        text = f"{conc:.3g}" if conc is not None else found[0][1]
        results.append({"study_id": study_id, "visit": visit, "conc_pg_ml": conc, "result": text})
    out.mkdir(parents=True)
    with (out / "results.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(results[0]))
        writer.writeheader()
        writer.writerows(results)
    curve = {"params": dict(zip("abcd", map(float, theta), strict=True)), "k_od": k,
             "lloq_pg_ml": lloq, "uloq_pg_ml": uloq}  # fmt: skip
    (out / "curve.json").write_text(json.dumps(curve, indent=2), encoding="utf-8")

    def sha(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    record = {
        "inputs": {str(p): sha(p) for p in (export, layout_path, samples_path)},
        "outputs": {p.name: sha(p) for p in sorted(out.iterdir())},
        "time_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    with (out / "audit.jsonl").open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"action": "process", **record}) + "\n")
    return {"lloq": lloq, "uloq": uloq, "results": results}


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    if len(args) == 1:
        args = [EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.layout.toml",
                EXAMPLE / "plate_001.samples.csv", args[0]]  # fmt: skip
    if len(args) != 4:
        raise SystemExit(__doc__.strip().splitlines()[-1])
    print(json.dumps(main(*args)))
