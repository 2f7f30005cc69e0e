"""Method validation across accepted runs: precision, accuracy, range, parallelism and the rest.

``validate_runs(paths, plan)`` reads accepted run folders (each checked by
``il6assay.record.folder.open_run``: every file as recorded, the audit chain
whole, the review as the log says), takes each validation well's
back-calculated concentration from the run's own wells.csv and its role from
the run's own layout copy, and judges the method against ICH M10 (docs/validation.md):

- **precision and accuracy** per QC level (role ``qc``): each QC well is one
  QC replicate; a run's reportable value of a level is the mean of its wells.
  A one-way random-effects ANOVA with runs as groups
  (``il6assay.study.precision.variance_components``, CLSI EP05) gives the
  within-run, between-run and total CVs; bias is against the nominal; total
  error = |bias| + total CV. A level whose reportable value is censored on a
  run (a well not invertible, or the mean outside that run's LLOQ-ULOQ) fails
  on that run, and that run's wells give no number;
- the **precision profile** (total CV by nominal) and the validated
  **LLOQ/ULOQ**: the longest unbroken series of QC levels (by nominal) that pass;
- **parallelism** per sample run at several dilutions (role ``sample``):
  the CV of the dilution-corrected results over its dilutions in range, and
  the slope of log on-plate result on log dilution (-1 when parallel);
- **dilution linearity**: each dilution factor's results within ±20 % of
  their sample's mean over its dilutions; the validated range of factors;
- **spike recovery** per pool (role ``pool``): (spiked - unspiked) / spike;
- **selectivity** (role ``selectivity``): at each spike, the share of the
  individual sources whose spike is recovered within limits;
- **stability** (role ``stability``): each condition's mean against the same
  level at 0 hours.

Each criterion carries its source; too few runs, levels, dilutions or
sources is said (``pass`` null and a ``reason``), never guessed.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.plate.export import MASKED, MISSING, SATURATED
from il6assay.plate.hashing import sha256_file
from il6assay.plate.layout import WellSpec
from il6assay.study.precision import variance_components
from il6assay.study.validation_plan import CRITERIA, Plan

# ICH M10 (2022) for ligand-binding assays; the biomarker guidance (FDA 2025) starts from it.
MIN_RUNS = 6  # §4.2.4: at least 6 independent runs over at least 2 days
MIN_LEVELS = 5  # §4.2.4: LLOQ, low, mid, high and ULOQ QCs
MIN_DILUTIONS = 3  # §7.2: a sample diluted at least three times
MIN_SOURCES = 10  # §4.2.3: at least 10 individual matrices
LIMITS = {
    "bias_pct": 20.0,  # §4.2.4: accuracy within ±20 % of nominal
    "bias_pct_edge": 25.0,  # ±25 % at the LLOQ and ULOQ
    "cv_pct": 20.0,  # within- and between-run (total) precision
    "cv_pct_edge": 25.0,
    "total_error_pct": 30.0,  # |bias| + CV
    "total_error_pct_edge": 40.0,
    "parallelism_cv_pct": 30.0,  # §7.2
    "dilution_pct": 20.0,  # §4.2.6: each dilution within ±20 %
    "selectivity_pct": 20.0,  # §4.2.3: within ±20 % (±25 % at the LLOQ)
    "selectivity_pct_lloq": 25.0,
    "selectivity_share": 0.8,  # in at least 80 % of the sources
    "stability_pct": 20.0,  # §4.2.7: within ±20 % of the reference
}
SOURCES = {
    "precision_accuracy": "ICH M10 §4.2.4 (LBA accuracy and precision: bias within ±20 %, "
    "±25 % at the LLOQ and ULOQ; CV at most 20 %, 25 %; total error at most 30 %, 40 %; "
    "at least 6 runs), CLSI EP05-A3 (variance components)",
    "precision_profile": "ICH M10 §4.2.4 (total CV by QC level)",
    "lloq": "ICH M10 §4.2.1, §4.2.4: the lowest QC level of the passing series",
    "uloq": "ICH M10 §4.2.1, §4.2.4: the highest QC level of the passing series",
    "parallelism": "ICH M10 §7.2 (CV of the dilution-corrected results at most 30 %)",
    "recovery": "ICH M10 §7.3 (spike recovery; limits from the plan, default 80-120 %)",
    "selectivity": "ICH M10 §4.2.3 (at least 10 sources; at least 80 % within ±20 %, "
    "±25 % at the LLOQ)",
    "dilution_range": "ICH M10 §4.2.6 (dilution linearity: each dilution within ±20 %), "
    "§7.4 (minimum required dilution)",
    "stability": "ICH M10 §4.2.7 (mean within ±20 % of the same level at 0 hours)",
}


# The criteria, each a pure judgement at its limit (tests flip each one there)
# ===========================================================================


def level_passes(bias_pct: float, cv_within_pct: float, cv_total_pct: float, edge: bool) -> bool:
    """A QC level meets M10 §4.2.4: bias, within-run and total CV, total error in limits."""
    bias_lim = LIMITS["bias_pct_edge" if edge else "bias_pct"]
    cv_lim = LIMITS["cv_pct_edge" if edge else "cv_pct"]
    te_lim = LIMITS["total_error_pct_edge" if edge else "total_error_pct"]
    return (
        abs(bias_pct) <= bias_lim
        and cv_within_pct <= cv_lim
        and cv_total_pct <= cv_lim
        and abs(bias_pct) + cv_total_pct <= te_lim
    )


def parallelism_passes(cv_pct: float) -> bool:
    """M10 §7.2: the CV over a sample's dilutions at most 30 %."""
    return cv_pct <= LIMITS["parallelism_cv_pct"]


def dilution_passes(recovery_pct: float) -> bool:
    """M10 §4.2.6: a dilution's result within ±20 % of its sample's mean over dilutions."""
    return abs(recovery_pct - 100.0) <= LIMITS["dilution_pct"]


def recovery_passes(recovery_pct: float, limits: tuple[float, float]) -> bool:
    """A pool's spike recovered within the plan's limits (default 80-120 %)."""
    return limits[0] <= recovery_pct <= limits[1]


def source_within(recovery_pct: float, at_lloq: bool) -> bool:
    """One selectivity source's spike recovered within ±20 % (±25 % at the LLOQ)."""
    limit = LIMITS["selectivity_pct_lloq" if at_lloq else "selectivity_pct"]
    return abs(recovery_pct - 100.0) <= limit


def selectivity_passes(n_within: int, n_sources: int) -> bool:
    """M10 §4.2.3: at least 80 % of the sources within limits."""
    return n_sources > 0 and n_within >= LIMITS["selectivity_share"] * n_sources


def stability_passes(difference_pct: float) -> bool:
    """M10 §4.2.7: the stored mean within ±20 % of the same level at 0 hours."""
    return abs(difference_pct) <= LIMITS["stability_pct"]


# Reading the runs
# ================


@dataclass
class ValidationRun:
    """One accepted run as validation reads it: its wells with their layout specs."""

    path: Path
    run_id: str
    record: dict[str, Any]
    run_json_sha256: str
    audit_sha256: str
    lloq: float | None
    uloq: float | None
    noise_k: float | None
    wells: list[tuple[WellSpec, dict[str, str]]] = field(default_factory=list)
    dilutions: list[dict[str, str]] = field(default_factory=list)


def load_run(path: str | Path) -> ValidationRun:
    """An accepted run folder, checked (``open_run``), with its wells and layout specs."""
    from il6assay.plate.layout_sheet import read_layout
    from il6assay.record.folder import open_run

    folder = open_run(path)
    status = folder.record["review"].get("status")
    if status != "accepted":
        raise InputError(
            f"run is {status}, not accepted: validation uses accepted runs only "
            "(il6assay review --accept)",
            path=folder.path,
        )
    layout_copy = folder.input_copy("layout")
    if layout_copy is None:
        raise InputError("run.json names no layout copy", path=folder.path)
    layout = read_layout(layout_copy)
    curve = folder.curve.raw
    noise = curve.get("noise") or {}
    run = ValidationRun(
        path=folder.path,
        run_id=folder.record["run_id"],
        record=folder.record,
        run_json_sha256=sha256_file(folder.path / "run.json"),
        audit_sha256=str(folder.entries[-1].get("content_sha256", "")),
        lloq=curve.get("lloq_pg_ml"),
        uloq=curve.get("uloq_pg_ml"),
        noise_k=noise.get("k_od") if isinstance(noise, dict) else None,
    )
    for row in map(dict, folder.wells):
        spec = layout.wells.get(row["well"])
        if spec is not None:
            run.wells.append((spec, row))
    run.dilutions = [dict(r) for r in folder.dilutions]
    return run


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def reportable(
    rows: Sequence[dict[str, str]], lloq: float | None, uloq: float | None
) -> tuple[list[float], str | None]:
    """(the wells' concentrations, None) or ([], why censored): one group of wells on one run.

    Masked and missing wells are left out; a saturated or non-invertible well,
    or a mean outside the run's LLOQ-ULOQ, censors the group (never a number).
    """
    used = [r for r in rows if r.get("status") not in (MASKED, MISSING)]
    if not used:
        return [], "no readable well"
    values = [_number(r.get("conc_pg_ml")) for r in used]
    if any(r.get("status") == SATURATED for r in used) or None in values:
        return [], "a well not invertible (outside the curve or saturated)"
    numbers = [float(v) for v in values if v is not None]
    mean = math.fsum(numbers) / len(numbers)
    if lloq is None or uloq is None:
        return [], "the run has no calibrated range"
    if mean < lloq:
        return [], f"<LLOQ (mean {mean:.4g} < {lloq:.4g})"
    if mean > uloq:
        return [], f">ULOQ (mean {mean:.4g} > {uloq:.4g})"
    return numbers, None


def _too_few(n: int, what: str, section: str, minimum: int) -> str:
    """Why a criterion is not judged: ``n`` of ``what`` where M10 asks for more ('' if enough)."""
    return f"{n} {what}: ICH M10 {section} asks for at least {minimum}" if n < minimum else ""


def _with_source(item: dict[str, Any], criterion: str, reason: str = "") -> dict[str, Any]:
    """``item`` ending with its criterion's source and its reason (the report's last columns)."""
    item.update(source=SOURCES[criterion], reason=reason)
    return item


def _longest_passing(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The longest unbroken series of ``items`` (in their order) whose ``pass`` is true."""
    best: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for item in items:
        current = [*current, item] if item["pass"] is True else []
        if len(current) > len(best):
            best = current
    return best


def _groups(
    runs: Sequence[ValidationRun], role: str, key: Any
) -> dict[Any, dict[str, list[dict[str, str]]]]:
    """Wells of ``role`` grouped by ``key(spec)``, then by run id (plate order kept)."""
    out: dict[Any, dict[str, list[dict[str, str]]]] = {}
    for run in runs:
        for spec, row in run.wells:
            if spec.role == role:
                out.setdefault(key(spec), {}).setdefault(run.run_id, []).append(row)
    return out


# The criteria over runs
# ======================


def precision_accuracy(runs: Sequence[ValidationRun]) -> list[dict[str, Any]]:
    """Per QC level: the ANOVA figures, bias, total error and the verdict (module docstring)."""
    by_run = {r.run_id: r for r in runs}
    groups = _groups(runs, "qc", lambda s: (s.level, s.nominal))
    nominals = sorted({nominal for _, nominal in groups})
    out = []
    for (level, nominal), per_run in sorted(groups.items(), key=lambda kv: kv[0][1]):
        values: dict[str, list[float]] = {}
        censored: dict[str, str] = {}
        for run_id, rows in per_run.items():
            run = by_run[run_id]
            numbers, why = reportable(rows, run.lloq, run.uloq)
            if why:
                censored[run_id] = why
            else:
                values[run_id] = numbers
        edge = nominal in (nominals[0], nominals[-1])
        item: dict[str, Any] = {
            "level": level,
            "nominal": nominal,
            "n_runs": len(per_run),
            "n": sum(len(v) for v in values.values()),
            "mean": None,
            "bias_pct": None,
            "cv_within_pct": None,
            "cv_between_pct": None,
            "cv_total_pct": None,
            "total_error_pct": None,
            "pass": None,
            "censored_runs": censored,
            "limits": _level_limits(edge),
            "source": SOURCES["precision_accuracy"],
            "reason": "",
        }
        if values:
            p = variance_components(values, nominal=nominal)
            item.update(
                mean=p.mean,
                bias_pct=p.bias_pct,
                cv_within_pct=p.cv_within_pct,
                cv_between_pct=p.cv_between_pct,
                cv_total_pct=p.cv_total_pct,
                total_error_pct=p.total_error_pct,
                reason=p.reason,
            )
        if censored:
            item["pass"] = False
            item["reason"] = "censored on " + "; ".join(f"{k}: {v}" for k, v in censored.items())
        elif len(per_run) < MIN_RUNS:
            item["reason"] = _too_few(len(per_run), "runs", "§4.2.4", MIN_RUNS)
        elif None in (item["bias_pct"], item["cv_within_pct"], item["cv_total_pct"]):
            item["reason"] = item["reason"] or "precision cannot be computed"
        else:
            item["pass"] = level_passes(
                item["bias_pct"], item["cv_within_pct"], item["cv_total_pct"], edge
            )
        out.append(item)
    return out


def _level_limits(edge: bool) -> dict[str, float]:
    suffix = "_edge" if edge else ""
    return {
        "bias_pct": LIMITS["bias_pct" + suffix],
        "cv_pct": LIMITS["cv_pct" + suffix],
        "total_error_pct": LIMITS["total_error_pct" + suffix],
    }


def validated_range(levels: Sequence[dict[str, Any]]) -> tuple[dict | None, dict | None, str]:
    """(LLOQ level, ULOQ level, reason): the longest unbroken series of passing QC levels."""
    if len(levels) < MIN_LEVELS:
        return None, None, f"{len(levels)} QC levels: ICH M10 §4.2.4 asks for {MIN_LEVELS}"
    best = _longest_passing(sorted(levels, key=lambda i: i["nominal"]))
    if len(best) < 2:
        return None, None, "fewer than two adjacent QC levels pass: no validated range"
    return best[0], best[-1], ""


def _series(runs: Sequence[ValidationRun]) -> dict[str, dict[float, list[float]]]:
    """Per sample label: per dilution, the in-range dilution-corrected results over runs."""
    out: dict[str, dict[float, list[float]]] = {}
    for run in runs:
        for row in run.dilutions:
            dilution = _number(row.get("dilution"))
            if dilution is None or not row.get("sample"):
                continue
            per = out.setdefault(row["sample"], {}).setdefault(dilution, [])
            value = _number(row.get("conc_pg_ml"))
            if value is not None:
                per.append(value)
    return {s: d for s, d in out.items() if len(d) >= 2}


def parallelism(runs: Sequence[ValidationRun]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(parallelism per sample, dilution linearity) from samples run at several dilutions."""
    items = []
    recoveries: dict[float, list[float]] = {}
    for sample, per_dilution in sorted(_series(runs).items()):
        means = {d: math.fsum(v) / len(v) for d, v in sorted(per_dilution.items()) if v}
        item: dict[str, Any] = {
            "sample": sample,
            "dilutions": sorted(per_dilution),
            "in_range": sorted(means),
            "results": [[d, v] for d, v in means.items()],
            "cv_pct": None,
            "slope": None,
            "pass": None,
        }
        short = _too_few(len(means), "dilutions in range", "§7.2", MIN_DILUTIONS)
        _with_source(item, "parallelism", short)
        if not short:
            values = list(means.values())
            mean = math.fsum(values) / len(values)
            item["cv_pct"] = 100.0 * statistics.stdev(values) / mean
            item["slope"] = _slope(
                [math.log10(d) for d in means], [math.log10(v / d) for d, v in means.items()]
            )
            item["pass"] = parallelism_passes(item["cv_pct"])
            for d, v in means.items():
                recoveries.setdefault(d, []).append(100.0 * v / mean)
        items.append(item)
    return items, _dilution_linearity(recoveries)


def _slope(x: list[float], y: list[float]) -> float:
    mx, my = math.fsum(x) / len(x), math.fsum(y) / len(y)
    sxx = math.fsum((a - mx) ** 2 for a in x)
    return math.fsum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / sxx


def _dilution_linearity(recoveries: dict[float, list[float]]) -> dict[str, Any]:
    """The validated dilution factors: the longest unbroken series where every result passes."""
    factors = [
        {
            "dilution": d,
            "recovery_pct": r,
            "pass": all(dilution_passes(x) for x in r),
        }
        for d, r in sorted(recoveries.items())
    ]
    best = [f["dilution"] for f in _longest_passing(factors)]
    reason = "" if best else "no sample series with dilutions in range: no validated dilutions"
    return {
        "range": [best[0], best[-1]] if best else None,
        "factors": factors,
        "source": SOURCES["dilution_range"],
        "reason": reason,
    }


def _pooled(
    runs: Sequence[ValidationRun], role: str, key: Any
) -> dict[Any, tuple[float | None, str]]:
    """Per group: the mean of its runs' reportable values, or (None, why) when censored."""
    by_run = {r.run_id: r for r in runs}
    out: dict[Any, tuple[float | None, str]] = {}
    for k, per_run in _groups(runs, role, key).items():
        means, why = [], ""
        for run_id, rows in per_run.items():
            numbers, censored = reportable(rows, by_run[run_id].lloq, by_run[run_id].uloq)
            if censored:
                why = f"{run_id}: {censored}"
                break
            means.append(math.fsum(numbers) / len(numbers))
        out[k] = (None, why) if why else (math.fsum(means) / len(means), "")
    return out


def recovery(runs: Sequence[ValidationRun], limits: tuple[float, float]) -> list[dict[str, Any]]:
    """Spike recovery per pool and spike: (spiked - unspiked) / spike, over the runs' means."""
    pooled = _pooled(runs, "pool", lambda s: (s.sample, s.spike))
    out = []
    for (sample, spike), (value, why) in sorted(pooled.items()):
        if not spike:
            continue
        base, base_why = pooled.get((sample, 0.0), (None, "no unspiked wells of the pool"))
        item: dict[str, Any] = {
            "sample": sample,
            "spike": spike,
            "unspiked": base,
            "spiked": value,
            "recovery_pct": None,
            "pass": None,
            "limits_pct": list(limits),
            "source": SOURCES["recovery"],
            "reason": "",
        }
        if value is None or base is None:
            item["pass"] = False
            item["reason"] = "censored: " + (why or base_why)
        else:
            item["recovery_pct"] = 100.0 * (value - base) / spike
            item["pass"] = recovery_passes(item["recovery_pct"], limits)
        out.append(item)
    return out


def selectivity(runs: Sequence[ValidationRun], lloq: float | None) -> list[dict[str, Any]]:
    """At each spike: each source's spike recovered (its unspiked value subtracted) within limits.

    An unspiked source below the LLOQ adds nothing (its IL-6 is below what can be
    measured); a censored spiked value is a source outside the limits.
    """
    pooled = _pooled(runs, "selectivity", lambda s: (s.source, s.spike))
    spikes = sorted({spike for _, spike in pooled if spike})
    out = []
    for spike in spikes:
        at_lloq = lloq is not None and spike <= 1.5 * lloq
        sources = []
        for (source, s), (value, why) in sorted(pooled.items()):
            if s != spike:
                continue
            base, _ = pooled.get((source, 0.0), (None, ""))
            rec = None if value is None else 100.0 * (value - (base or 0.0)) / spike
            within = rec is not None and source_within(rec, at_lloq)
            sources.append({"source": source, "recovery_pct": rec, "within": within, "note": why})
        n_within = sum(s["within"] for s in sources)
        item: dict[str, Any] = {
            "spike": spike,
            "n_sources": len(sources),
            "n_within": n_within,
            "fraction_pct": 100.0 * n_within / len(sources),
            "limit_pct": LIMITS["selectivity_pct_lloq" if at_lloq else "selectivity_pct"],
            "pass": None,
            "sources": sources,
        }
        short = _too_few(len(sources), "sources", "§4.2.3", MIN_SOURCES)
        _with_source(item, "selectivity", short)
        if not short:
            item["pass"] = selectivity_passes(n_within, len(sources))
        out.append(item)
    return out


def stability(runs: Sequence[ValidationRun]) -> list[dict[str, Any]]:
    """Per level, condition and time: the mean against the same level at 0 hours."""
    pooled = _pooled(runs, "stability", lambda s: (s.level, s.condition, s.hours))
    out = []
    for (level, condition, hours), (value, why) in sorted(pooled.items()):
        if not hours:
            continue
        refs = [v for (lv, _, h), v in pooled.items() if lv == level and not h]
        base = refs[0][0] if refs else None
        item: dict[str, Any] = {
            "level": level,
            "condition": condition,
            "hours": hours,
            "mean": value,
            "reference": base,
            "difference_pct": None,
            "pass": None,
            "source": SOURCES["stability"],
            "reason": "",
        }
        if not refs:
            item["reason"] = f"no 0-hour wells of level {level}"
        elif value is None or base is None:
            item["pass"] = False
            item["reason"] = "censored: " + (why or refs[0][1])
        else:
            item["difference_pct"] = 100.0 * (value / base - 1.0)
            item["pass"] = stability_passes(item["difference_pct"])
        out.append(item)
    return out


# The plan and the whole
# ======================


def _method(runs: Sequence[ValidationRun]) -> dict[str, Any]:
    """The processing every run shared (model, weighting, zero standard, rules, k)."""
    settings = [r.record["settings"] for r in runs]
    out: dict[str, Any] = {}
    for key in ("model", "weighting", "zero_standard"):
        seen = sorted({str(s.get(key)) for s in settings})
        if len(seen) > 1:
            raise InputError(
                f"the runs were processed with different {key} settings ({', '.join(seen)}): "
                "a method is validated under one"
            )
        out[key] = seen[0]
    out["rules"] = settings[0].get("rules")  # the rule profile, when the runs record one
    ks = [r.noise_k for r in runs if r.noise_k is not None]
    out["k"] = statistics.median(ks) if ks else None
    return out


def validate_runs(paths: Iterable[str | Path], plan: Plan | None = None) -> dict[str, Any]:
    """The validation document (``validate --json``) from accepted run folders."""
    plan = plan or Plan()
    runs = [load_run(p) for p in paths]
    if not runs:
        raise InputError("no run folders given")
    ids = [r.run_id for r in runs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"run {dupes[0]} is given twice: each run counts once")
    levels = precision_accuracy(runs)
    low, high, range_reason = validated_range(levels)
    lloq = low["nominal"] if low else None
    uloq = high["nominal"] if high else None
    series, linearity = parallelism(runs)
    doc: dict[str, Any] = {
        "precision_accuracy": levels,
        "precision_profile": [
            {"level": i["level"], "nominal": i["nominal"], "cv_total_pct": i["cv_total_pct"]}
            for i in levels
        ],
        "lloq": lloq,
        "uloq": uloq,
        "range_reason": range_reason,
        "parallelism": series,
        "recovery": recovery(runs, plan.recovery_pct),
        "selectivity": selectivity(runs, lloq),
        "dilution_range": linearity["range"],
        "dilution_linearity": linearity,
        "stability": stability(runs),
        "mrd": plan.mrd
        if plan.mrd is not None
        else (linearity["range"][0] if linearity["range"] else None),
        "method": _method(runs),
        "sources": {k: SOURCES[k] for k in ("precision_profile", "lloq", "uloq", "dilution_range")},
        "runs": [
            {
                "run_id": r.run_id,
                "path": str(r.path.resolve()),
                "run_json_sha256": r.run_json_sha256,
                "audit_sha256": r.audit_sha256,
                "kit_lot": r.record.get("kit_lot"),
                "lloq_pg_ml": r.lloq,
                "uloq_pg_ml": r.uloq,
            }
            for r in runs
        ],
        "plan": {
            "file": str(plan.path) if plan.path else None,
            "mrd": plan.mrd,
            "recovery_pct": list(plan.recovery_pct),
            "required": list(plan.required),
        },
    }
    doc["pass"], doc["pass_reason"] = whole_verdict(doc, plan.required)
    return doc


def whole_verdict(doc: dict[str, Any], required: Sequence[str]) -> tuple[bool | None, str]:
    """The whole: false if any judged criterion fails; null if a required one was not judged."""
    failed, missing = [], []
    for name in CRITERIA:
        verdicts = [i.get("pass") for i in doc[name]]
        if any(v is False for v in verdicts):
            failed.append(name)
        elif name in required and (not verdicts or any(v is None for v in verdicts)):
            missing.append(name)
    if doc["lloq"] is None:  # too few levels is unjudged; enough levels but no range fails
        levels = doc["precision_accuracy"]
        too_few = len(levels) < MIN_LEVELS or any(i["pass"] is None for i in levels)
        (missing if too_few else failed).append("validated range")
    if failed:
        return False, "fails: " + ", ".join(failed)
    if missing:
        return None, "not judged (too few data): " + ", ".join(missing)
    return True, "every judged criterion passes"


def checked_validation(folder: str | Path) -> dict[str, Any]:
    """The profile a validation folder gives, after computing it again from its runs.

    validation.json can be edited by anyone: the runs it names are validated
    again (each checked by ``open_run``) under its plan, and any difference refuses it.
    """
    from il6assay.db.method import profile_from_validation
    from il6assay.study.validation_report import HTML_FILE, JSON_FILE

    folder = Path(folder)
    doc_path, report = folder / JSON_FILE, folder / HTML_FILE
    for path in (doc_path, report):
        if not path.is_file():
            raise InputError(
                f"no {path.name}: not a validation folder (il6assay validate --out)", path=folder
            )
    try:
        doc = json.loads(doc_path.read_text(encoding="utf-8"))
        plan_doc = doc["plan"]
        plan = Plan(
            mrd=plan_doc["mrd"],
            recovery_pct=(float(plan_doc["recovery_pct"][0]), float(plan_doc["recovery_pct"][1])),
            required=tuple(plan_doc["required"]),
            path=Path(plan_doc["file"]) if plan_doc["file"] else None,
        )
        paths = [r["path"] for r in doc["runs"]]
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise InputError(f"{JSON_FILE} is not a validation document ({err})", path=folder) from None
    again = json.loads(json.dumps(validate_runs(paths, plan)))
    if again != doc:
        changed = sorted(k for k in set(doc) | set(again) if doc.get(k) != again.get(k))
        raise InputError(
            f"{JSON_FILE} is not what its runs give now (differs in {', '.join(changed)}): "
            "validate again",
            path=folder,
        )
    return profile_from_validation(doc, sha256_file(doc_path), sha256_file(report))
