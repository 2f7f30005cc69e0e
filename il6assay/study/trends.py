"""Control and standard trends across runs: the Levey-Jennings series and their Westgard verdicts.

Every run is charted in time order; each is judged as ``process`` judges a
new run: its own control values, after the accepted runs before it (a
rejected run is charted, hollow, and judged, but never becomes the history a
later run is judged after: it was re-run). Targets are the kit
certificate's where ``il6assay.toml`` gives them, else established from the
first 20 accepted runs (provisional, and said so, when fewer).

The standards are trended the same way (the top standard's mean OD, the
curve's midpoint c, the LLOQ and ULOQ), with mean and SD lines from the
same first 20 accepted runs: drift of the kit or the reader shows there
before the controls fail. They are charted, not judged.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from il6assay.study.qc import BASELINE_RUNS, RunQc, Target, established_targets, targets_for
from il6assay.study.westgard import Violation, check

HISTORY_RUNS = 40  # accepted runs before a run that its across-run rules can reach (10-x needs 10)
STANDARD_SERIES = {
    "top_standard_od": "top standard mean OD",
    "curve_c": "curve midpoint c (pg/mL)",
    "lloq_pg_ml": "LLOQ (pg/mL)",
    "uloq_pg_ml": "ULOQ (pg/mL)",
}


def judge(
    qc: RunQc,
    history: Sequence[RunQc],
    targets: Mapping[str, Target],
    *,
    provisional: bool = False,
) -> list[Violation]:
    """The Westgard violations of ``qc`` after ``history`` (earlier accepted runs, time order).

    Provisional targets judge only with ``provisional=True`` (the chart's markers).
    """
    judging = {lv: (t.mean, t.sd) for lv, t in targets.items() if t.judges or provisional}
    if not judging:
        return []
    runs = [h.values() for h in history[-HISTORY_RUNS:]] + [qc.values()]
    last = len(runs) - 1
    return [v for v in check(runs, judging) if v.run == last]


def judge_all(
    qcs: Sequence[RunQc],
    certificate: Mapping[str, Target],
    established: Mapping[str, Target] | None = None,
    *,
    provisional: bool = False,
) -> list[list[Violation]]:
    """Each run's violations, in order, each run after the accepted runs before it.

    ``provisional=True`` also judges against provisional targets (for the chart's
    markers, said so on the page); ``process`` never does.
    """
    established = established_targets(qcs) if established is None else established
    history: list[RunQc] = []
    out = []
    for qc in qcs:
        targets = targets_for(certificate, established, qc.kit_lot)
        out.append(judge(qc, history, targets, provisional=provisional))
        if qc.accepted:
            history.append(qc)
    return out


@dataclass
class Point:
    """One run on a chart."""

    run_id: str
    time: datetime
    value: float | None
    z: float | None
    accepted: bool
    kit_lot: str | None
    violations: list[str] = field(default_factory=list)  # rule texts, this level's
    reject: bool = False


@dataclass
class Series:
    """One chart: a control level (or a standard's figure) over the runs, with its target lines."""

    name: str
    unit: str
    target: Target | None
    points: list[Point]
    lot_changes: list[tuple[datetime, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        t = self.target
        return {
            "name": self.name,
            "unit": self.unit,
            "target": None
            if t is None
            else {
                "mean": t.mean,
                "sd": t.sd,
                "source": t.source,
                "n_runs": t.n_runs,
                "kit_lot": t.kit_lot,
                "description": t.describe(),
            },
            "lot_changes": [
                {"time": ts.isoformat(), "kit_lot": lot} for ts, lot in self.lot_changes
            ],
            "points": [
                {
                    "run_id": p.run_id,
                    "time": p.time.isoformat(),
                    "value": p.value,
                    "z": p.z,
                    "accepted": p.accepted,
                    "kit_lot": p.kit_lot,
                    "violations": p.violations,
                    "reject": p.reject,
                }
                for p in self.points
            ],
        }


def lot_changes(qcs: Sequence[RunQc]) -> list[tuple[datetime, str]]:
    """(time, new lot) where the kit lot differs from the run before."""
    out, last = [], None
    for qc in qcs:
        lot = qc.kit_lot or "unknown"
        if last is not None and lot != last:
            out.append((qc.time(), lot))
        last = lot
    return out


@dataclass
class Trends:
    """What the `controls` command and page show."""

    controls: list[Series]
    standards: list[Series]
    runs: int
    accepted_runs: int
    notes: list[str]
    # Issue 25: across-run precision per QC level and kit lot, and the lots' bridges.
    precision: list[dict[str, Any]] = field(default_factory=list)
    lot_bridges: list[dict[str, Any]] = field(default_factory=list)
    lot_targets: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `controls --json`."""
        return {
            "runs": self.runs,
            "accepted_runs": self.accepted_runs,
            "notes": self.notes,
            "precision": self.precision,
            "lot_bridges": self.lot_bridges,
            "lot_targets": self.lot_targets,
            "controls": [s.to_dict() for s in self.controls],
            "standards": [s.to_dict() for s in self.standards],
        }


def trends(
    qcs: Sequence[RunQc],
    certificate: Mapping[str, Target],
    *,
    level: str | None = None,
    since: datetime | None = None,
) -> Trends:
    """The control and standard series of ``qcs`` (time order), shown from ``since``.

    Targets and verdicts always use the whole history: ``since`` only narrows the view.
    """
    established = established_targets(qcs)
    verdicts = judge_all(qcs, certificate, established, provisional=True)
    shown = [
        (qc, v) for qc, v in zip(qcs, verdicts, strict=True) if since is None or qc.time() >= since
    ]
    levels = sorted(
        {c.level for qc in qcs for c in qc.controls},
        key=lambda lv: (_nominal(qcs, lv), lv),
    )
    if level is not None:
        levels = [lv for lv in levels if lv == level]
    changes = lot_changes([qc for qc, _ in shown])
    notes = []
    control_series = []
    for lv in levels:
        lot_targets = targets_for(certificate, established, None)
        target = lot_targets.get(lv)
        for qc, _ in shown[-1:]:
            target = targets_for(certificate, established, qc.kit_lot).get(lv, target)
        points = []
        for qc, violations in shown:
            value = qc.values().get(lv)
            t = targets_for(certificate, established, qc.kit_lot).get(lv)
            z = (value - t.mean) / t.sd if value is not None and t is not None else None
            mine = [v for v in violations if lv in v.levels]
            points.append(
                Point(
                    run_id=qc.run_id,
                    time=qc.time(),
                    value=value,
                    z=z,
                    accepted=qc.accepted,
                    kit_lot=qc.kit_lot,
                    violations=[v.text() for v in mine],
                    reject=any(v.reject for v in mine),
                )
            )
        control_series.append(Series(lv, "pg/mL", target, points, changes))
        if target is None:
            notes.append(f"{lv}: no targets yet (fewer than 2 accepted runs, no certificate)")
        elif target.source == "provisional":
            notes.append(
                f"{lv}: PROVISIONAL targets from {target.n_runs} accepted run(s), fewer than "
                f"{BASELINE_RUNS}: new runs are not judged against them yet"
            )
    standard_series = []
    for key, label in STANDARD_SERIES.items():
        values = [getattr(qc, key) for qc in qcs if qc.accepted and getattr(qc, key) is not None]
        base = values[:BASELINE_RUNS]
        target = None
        if len(base) >= 2 and statistics.stdev(base) > 0:
            source = "established" if len(base) >= BASELINE_RUNS else "provisional"
            target = Target(
                label, statistics.fmean(base), statistics.stdev(base), source, len(base)
            )
        points = []
        for qc, _ in shown:
            value = getattr(qc, key)
            z = (value - target.mean) / target.sd if value is not None and target else None
            points.append(Point(qc.run_id, qc.time(), value, z, qc.accepted, qc.kit_lot))
        standard_series.append(Series(label, "", target, points, changes))
    return Trends(
        controls=control_series,
        standards=standard_series,
        runs=len(shown),
        accepted_runs=sum(qc.accepted for qc, _ in shown),
        notes=notes,
    )


def _nominal(qcs: Sequence[RunQc], level: str) -> float:
    for qc in qcs:
        for c in qc.controls:
            if c.level == level and c.nominal_pg_ml is not None:
                return c.nominal_pg_ml
    return 0.0
