"""The study as a whole: every specimen's current value, what is missing, what to re-assay.

From the study database: per study ID and visit the current result
(censored shown as such, ``<4.69`` or ``>300``), and counts per visit of
specimens *reported* (a number), *censored* (below the LLOQ or above the
ULOQ), *waiting for a re-assay* (the censored ones above the ULOQ: the
dilution to use is 10 times the highest dilution run so far, the study's
neat, 1:10, 1:100 ladder), and *without a result* (no number and no censored
bound: a failed curve, no calibrated range). Runs processed but not yet
pushed (recorded in ``qc_runs``, not rejected) are listed as unreviewed.

``worklist_rows`` is the re-assay worklist as a sample sheet for the next
plate (columns ``sample, study_id, visit, dilution, note``, samples
numbered P01, P02, ... as the standard layout's labels): the specimens above
the ULOQ, at the next dilution, and those the m10 rules left without a
result (HIGH_CV: replicate CV over the limit; LLOQ_RAISED: below an LLOQ an
excluded standard raised), at the dilution they were run at, the note naming
the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

REASSAY_FACTOR = 10.0
WORKLIST_COLUMNS = ["sample", "study_id", "visit", "dilution", "note"]
REPORTED, CENSORED_LOW, CENSORED_HIGH, NO_RESULT = "reported", "below LLOQ", "above ULOQ", "none"


def category(row: dict[str, Any]) -> str:
    """What a current result is: a number, censored below, censored above, or none."""
    if row.get("conc_pg_ml") is not None:
        return REPORTED
    result = str(row.get("result") or "")
    if result.startswith("<"):
        return CENSORED_LOW
    if result.startswith(">"):
        return CENSORED_HIGH
    return NO_RESULT


def _dilutions(row: dict[str, Any]) -> list[float]:
    """The dilutions a specimen was run at: ``dilutions`` ("P10@1 P11@10"), else ``dilution``."""
    import re

    out = []
    text = str(row.get("dilutions") or row.get("dilution") or "1")
    for part in re.split(r"[\s,;]+", text):
        value_text = part.rsplit("@", 1)[-1].removeprefix("1:")
        try:
            value = float(value_text)
        except ValueError:
            continue
        if math.isfinite(value) and value > 0:
            out.append(value)
    return sorted(set(out)) or [1.0]


# Flags of a result the m10 rules do not report (il6assay.qc.results), and why, for the worklist.
NOT_REPORTABLE = {
    "HIGH_CV": "replicate CV over the limit",
    "LLOQ_RAISED": "below an LLOQ raised by an excluded standard",
}


def not_reportable_reason(row: dict[str, Any]) -> str | None:
    """Why a result without a number or bound must be re-assayed (None: it need not be)."""
    if row.get("conc_pg_ml") is not None or str(row.get("result") or ""):
        return None
    flags = str(row.get("flags") or "").split(";")
    reasons = [f"{code}: {why}" for code, why in NOT_REPORTABLE.items() if code in flags]
    return "; ".join(reasons) or None


def next_dilution(row: dict[str, Any]) -> float:
    """The dilution to re-assay an above-ULOQ specimen at: 10 x the highest one run."""
    return REASSAY_FACTOR * max(_dilutions(row))


@dataclass
class VisitCounts:
    """Counts of one visit's specimens."""

    visit: str
    specimens: int = 0
    reported: int = 0
    censored: int = 0
    below_lloq: int = 0
    waiting_reassay: int = 0
    without_result: int = 0


@dataclass
class Overview:
    """What the `summary` command and page show."""

    specimens: list[dict[str, Any]]
    visits: list[VisitCounts]
    totals: VisitCounts
    worklist: list[dict[str, Any]]
    unreviewed_runs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `summary --json`."""
        return {
            "totals": self.totals.__dict__,
            "visits": [v.__dict__ for v in self.visits],
            "specimens": self.specimens,
            "worklist": self.worklist,
            "unreviewed_runs": self.unreviewed_runs,
        }


def overview(engine: Engine) -> Overview:
    """The study overview from the database (current results and the runs recorded for QC)."""
    from il6assay.db.read import current_results
    from il6assay.study.store import load_qc

    rows = current_results(engine)
    qcs = load_qc(engine)
    return build_overview(rows, qcs)


def build_overview(rows: Sequence[dict[str, Any]], qcs: Sequence[Any] = ()) -> Overview:
    """The overview of current result rows (``db.read.current_results``) and recorded runs."""
    specimens = []
    visits: dict[str, VisitCounts] = {}
    totals = VisitCounts("all")
    for row in rows:
        kind = category(row)
        entry = {
            "study_id": row["study_id"],
            "visit": row["visit"],
            "result": row.get("result"),
            "conc_pg_ml": row.get("conc_pg_ml"),
            "lloq_pg_ml": row.get("lloq_pg_ml"),
            "uloq_pg_ml": row.get("uloq_pg_ml"),
            "category": kind,
            "flags": row.get("flags") or "",
            "dilutions": ", ".join(f"{d:g}" for d in _dilutions(row)),
            "run_id": row.get("run_id"),
            "reassay_dilution": next_dilution(row) if kind == CENSORED_HIGH else None,
            "reassay_reason": not_reportable_reason(row),
        }
        if entry["reassay_reason"]:
            entry["reassay_dilution"] = min(_dilutions(row))
        specimens.append(entry)
        for counts in (
            visits.setdefault(str(row["visit"]), VisitCounts(str(row["visit"]))),
            totals,
        ):
            counts.specimens += 1
            counts.reported += kind == REPORTED
            counts.censored += kind in (CENSORED_LOW, CENSORED_HIGH)
            counts.below_lloq += kind == CENSORED_LOW
            counts.waiting_reassay += kind == CENSORED_HIGH
            counts.without_result += kind == NO_RESULT
    worklist = [
        {
            "sample": f"P{i:02d}",
            "study_id": s["study_id"],
            "visit": s["visit"],
            "dilution": f"{s['reassay_dilution']:g}",
            "note": (
                f"re-assay: {s['reassay_reason']} at dilution(s) {s['dilutions']} "
                f"(run {s['run_id']})"
                if s["reassay_reason"]
                else f"re-assay: {s['result']} at dilution(s) {s['dilutions']} (run {s['run_id']})"
            ),
        }
        for i, s in enumerate(
            (s for s in specimens if s["category"] == CENSORED_HIGH or s["reassay_reason"]),
            start=1,
        )
    ]
    unreviewed = [
        {
            "run_id": qc.run_id,
            "run_time": qc.run_time,
            "verdict": qc.verdict,
            "review_status": qc.review_status,
        }
        for qc in qcs
        if not qc.pushed and qc.review_status != "rejected"
    ]
    return Overview(
        specimens=specimens,
        visits=[visits[v] for v in sorted(visits)],
        totals=totals,
        worklist=worklist,
        unreviewed_runs=unreviewed,
    )


def fit_worklist(
    rows: Sequence[dict[str, Any]], labels: Sequence[str]
) -> list[list[dict[str, Any]]]:
    """The worklist cut into sample sheets of one plate each: at most ``len(labels)`` rows, the
    ``sample`` column the layout's sample labels in plate order (issue 25)."""
    if not labels:
        from il6assay.errors import InputError

        raise InputError("the layout has no sample wells to put re-assays on")
    sheets = []
    for start in range(0, len(rows), len(labels)):
        chunk = rows[start : start + len(labels)]
        sheets.append([{**r, "sample": label} for r, label in zip(chunk, labels, strict=False)])
    return sheets


def worklist_paths(path: Any, n: int) -> list[Any]:
    """``path`` for one sheet; ``stem_1.csv``, ``stem_2.csv``, ... for several."""
    from pathlib import Path

    path = Path(path)
    if n <= 1:
        return [path]
    return [path.with_name(f"{path.stem}_{i}{path.suffix}") for i in range(1, n + 1)]


def write_worklist(path: Any, rows: Sequence[dict[str, Any]]) -> None:
    """The worklist as a sample-sheet CSV (formula-safe, written whole or not at all)."""
    import os
    import tempfile
    from pathlib import Path

    from il6assay.record.outputs import write_csv

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    os.close(fd)
    try:
        write_csv(Path(tmp), WORKLIST_COLUMNS, list(rows))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
