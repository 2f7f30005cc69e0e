"""Incurred-sample reanalysis (ICH M10 section 5): repeats kept beside their originals.

A sample-sheet row with ``purpose = isr`` is a repeat of a study specimen on
another run. ``push`` stores it in ``isr_results``, linked to the specimen's
current result, which it never replaces; a repeat of a specimen with no current
result is refused (there is nothing to compare it with). ``isr_pairs`` reads
each repeat with its original for the report (``il6assay.study.isr``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from il6assay.db.engine import require_schema
from il6assay.db.models import CURRENT, DbAudit, DbIsr, DbResult, DbRun
from il6assay.errors import InputError


def store_isr(
    session: Session,
    run_pk: int,
    run_id: str,
    rows: list[dict[str, str]],
    *,
    when: str,
    account: str,
    by: str | None,
) -> int:
    """Store the run's ISR rows beside the specimens' current results; returns how many."""
    for row in rows:
        key = (row["study_id"], row.get("visit", ""))
        original = session.scalar(
            select(DbResult).where(
                DbResult.study_id == key[0], DbResult.visit == key[1], DbResult.status == CURRENT
            )
        )
        if original is None:
            raise InputError(
                f"sample '{row.get('sample')}' is an incurred-sample repeat (purpose isr) of "
                f"{key[0]} {key[1]}, which has no result in the study to compare it with"
            )
        isr = DbIsr(
            run_pk=run_pk,
            study_id=key[0],
            visit=key[1],
            sample=row.get("sample") or None,
            dilution=row.get("dilution") or None,
            result=row.get("result", ""),
            conc_pg_ml=_float(row.get("conc_pg_ml")),
            lloq_pg_ml=_float(row.get("lloq_pg_ml")),
            uloq_pg_ml=_float(row.get("uloq_pg_ml")),
            flags=row.get("flags", ""),
            original_result_pk=original.id,
            stored_utc=when,
        )
        session.add(isr)
        session.add(
            DbAudit(
                time_utc=when,
                os_account=account,
                by_name=by,
                action="isr",
                run_id=run_id,
                study_id=key[0],
                visit=key[1],
                what=f"incurred-sample repeat of {key[0]} {key[1]} from run {run_id} stored "
                f"beside the original result (id {original.id}); the original is unchanged",
                new_value=row.get("result", ""),
            )
        )
    session.flush()
    return len(rows)


def isr_pairs(engine: Engine) -> list[dict[str, Any]]:
    """Every stored repeat with its original: specimen, both results, both runs."""
    require_schema(engine)
    with Session(engine) as session:
        out = []
        query = select(DbIsr).order_by(DbIsr.study_id, DbIsr.visit, DbIsr.id)
        for isr in session.scalars(query):
            original = session.get(DbResult, isr.original_result_pk)
            assert original is not None  # a foreign key
            out.append(
                {
                    "study_id": isr.study_id,
                    "visit": isr.visit,
                    "original_result": original.result,
                    "original_pg_ml": original.conc_pg_ml,
                    "original_run_id": _run_id(session, original.run_pk),
                    "repeat_result": isr.result,
                    "repeat_pg_ml": isr.conc_pg_ml,
                    "repeat_run_id": _run_id(session, isr.run_pk),
                }
            )
        return out


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _run_id(session: Session, run_pk: int) -> str:
    run = session.get(DbRun, run_pk)
    return run.run_id if run is not None else "?"
