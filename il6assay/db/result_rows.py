"""A run's results as study-database rows: specimens, dilutions, combined across plates.

The rows ``push`` (``il6assay.db.push``) writes from results.csv and
dilutions.csv, a specimen's dilutions from several plates combined by the rules
of ``il6assay.qc.dilutions``, and the replacements of a current result that lose
information (and so need ``--supersede``).
"""

from __future__ import annotations

import json
from typing import Any

from il6assay.db.models import CURRENT, DbDilution, DbResult
from il6assay.plate.samples import spelling_key
from il6assay.qc.dilutions import combine_rows
from il6assay.qc.results import SampleResult
from il6assay.record.schema import RunRecord


def number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def integer(text: str | None) -> int | None:
    value = number(text)
    return int(value) if value is not None else None


def audit_value(row: DbResult | dict[str, Any]) -> dict[str, Any]:
    """A result's value as the audit table records it."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    return {
        "result": get("result"),
        "conc_pg_ml": get("conc_pg_ml"),
        "flags": get("flags"),
        "ci_low_pg_ml": get("ci_low_pg_ml"),
        "ci_high_pg_ml": get("ci_high_pg_ml"),
        "dilution": get("dilution"),
        "dilutions": get("dilutions"),
        "source_runs": get("source_runs"),
    }


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _shared_fields(row: dict[str, str], run_pk: int) -> dict[str, Any]:
    """The columns results.csv and dilutions.csv rows give sample_results and dilution_results."""
    return {
        "run_pk": run_pk,
        "study_id": row["study_id"],
        "visit": row.get("visit", ""),
        "sample": row.get("sample") or None,
        "result": row.get("result", ""),
        "od_mean": number(row.get("od_mean")),
        **{
            name: number(row.get(name))
            for name in (
                "conc_pg_ml",
                "ci_low_pg_ml",
                "ci_high_pg_ml",
                "lloq_pg_ml",
                "uloq_pg_ml",
                "conc_cv_pct",
            )
        },
        "flags": row.get("flags", ""),
        "advice": row.get("advice") or None,
        "wells": row.get("wells") or None,
        "status": CURRENT,
    }


def result_from_row(row: dict[str, str], run_pk: int) -> DbResult:
    """One results.csv row as a current sample_results row."""
    return DbResult(
        **_shared_fields(row, run_pk),
        study_key=spelling_key(row["study_id"]),
        dilution=row.get("dilution") or None,
        n_wells=integer(row.get("n_wells")),
        dilutions=row.get("dilutions") or None,
    )


def dilution_from_row(row: dict[str, str], run_pk: int) -> DbDilution:
    """One dilutions.csv row as a current dilution_results row."""
    return DbDilution(**_shared_fields(row, run_pk), dilution=number(row.get("dilution")))


def stored_sample(row: DbDilution) -> SampleResult:
    """A stored dilution row as the SampleResult the dilution rules work on."""
    return SampleResult.from_row({c.name: getattr(row, c.name) for c in row.__table__.columns})


def combined_result(parts: list[DbDilution], run_ids: dict[int, str], run_pk: int) -> DbResult:
    """A specimen's current dilution rows from several runs as one sample_results row.

    The result, CI, flags and advice come from ``il6assay.qc.dilutions`` (the
    rules results.csv follows on one plate). LLOQ and ULOQ are those of the
    row whose dilution the combination carries: the dilution used, or for a
    mean the specimen's lowest dilution, as on one plate (each row's limits are
    its own run's, times its dilution). Wells are named with their run
    (``RUN_ID:B6``) since well names repeat across plates.
    """
    parts = sorted(parts, key=lambda d: (d.run_pk, d.dilution))
    combined = combine_rows([stored_sample(d) for d in parts])
    limits = next(d for d in parts if d.dilution == combined.dilution)
    row = combined.row(run_ids[run_pk], None, None)
    new = result_from_row({k: "" if v is None else str(v) for k, v in row.items()}, run_pk)
    new.lloq_pg_ml, new.uloq_pg_ml = limits.lloq_pg_ml, limits.uloq_pg_ml
    new.wells = " ".join(f"{run_ids[d.run_pk]}:{w}" for d in parts for w in (d.wells or "").split())
    new.source_runs = " ".join(dict.fromkeys(run_ids[d.run_pk] for d in parts))
    return new


def dilution_list(rows: list[DbDilution]) -> str:
    return ", ".join(f"{d.dilution:g}" for d in sorted(rows, key=lambda d: d.dilution))


NUMBER_TO_CENSORED = "reported number(s) replaced by a censored result"
NUMBER_TO_EMPTY = "reported number(s) replaced by no result"
OVERRIDE_PLATE = "result(s) replaced by those of a plate accepted only by override"


def accepted_by_override(record: RunRecord) -> bool:
    """Whether the run's plate failed the acceptance rules and was accepted by override."""
    return not record.accepted or record.review.override


def loss_case(old: DbResult, new: DbResult, override: bool) -> str | None:
    """The way replacing ``old`` by ``new`` loses information, or None when it does not.

    A reported number replaced by a censored (``<4.69``) or empty result, or any
    result replaced by those of a plate accepted only by override: such a push
    needs ``--supersede`` and says so, in its message and in the audit.
    """
    if override:
        return OVERRIDE_PLATE
    if old.conc_pg_ml is not None and new.conc_pg_ml is None:
        censored = (new.result or "").startswith(("<", ">"))
        return NUMBER_TO_CENSORED if censored else NUMBER_TO_EMPTY
    return None
