"""The QC figures of every run in the study database (tables ``qc_runs`` and ``qc_controls``).

``record_qc`` stores one run's ``RunQc`` (any verdict: the trends chart
rejected runs hollow); ``load_qc`` returns every run's figures in time
order: those recorded, and pushed runs that were never recorded (built from
the ``runs``/``curves`` tables' copies of run.json and curve.json), each
marked ``pushed`` when it is in the ``runs`` table. A recorded run whose
figures change (re-recorded after a well was masked) is updated, and the
old and new figures go to the audit table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from il6assay.db.engine import require_current, require_schema, unreachable, writer
from il6assay.db.models import DbAudit, DbCurve, DbQcControl, DbQcRun, DbRun
from il6assay.study.qc import ControlValue, RunQc, from_documents

_RUN_FIELDS = (
    "plate_id", "export_file", "kit_lot", "run_time", "time_source", "processed_utc",
    "accepted_by_rules", "verdict", "review_status", "top_standard_level",
    "top_standard_pg_ml", "top_standard_od", "curve_c", "lloq_pg_ml", "uloq_pg_ml",
    "export_sha256",
)  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _figures(qc: RunQc) -> dict[str, Any]:
    out = {f: getattr(qc, f) for f in _RUN_FIELDS}
    out["westgard"] = json.dumps(qc.westgard, ensure_ascii=False)
    out["controls"] = [
        [c.level, c.nominal_pg_ml, c.value_pg_ml, c.n_wells, c.n_values, " ".join(c.wells)]
        for c in qc.controls
    ]
    return out


def _stored_figures(row: DbQcRun, controls: list[DbQcControl]) -> dict[str, Any]:
    out = {f: getattr(row, f) for f in _RUN_FIELDS}
    out["westgard"] = row.westgard
    out["controls"] = [
        [c.level, c.nominal_pg_ml, c.value_pg_ml, c.n_wells, c.n_values, c.wells or ""]
        for c in sorted(controls, key=lambda c: c.id)
    ]
    return out


def record_qc(
    engine: Engine, qcs: Iterable[RunQc], *, by: str | None = None, check_schema: bool = True
) -> list[str]:
    """Store each run's QC figures (one transaction); returns recorded/unchanged/updated per run.

    ``check_schema=False`` skips checking the schema (the caller just did).
    """
    from il6assay.record.audit import os_account

    if check_schema:
        require_schema(engine)
    outcomes = []
    try:
        with Session(writer(engine)) as session, session.begin():
            for qc in qcs:
                outcomes.append(_record_one(session, qc, os_account(), by))
    except DBAPIError as err:
        raise unreachable(err, engine) from None
    return outcomes


def _record_one(session: Session, qc: RunQc, account: str, by: str | None) -> str:
    row = session.scalars(select(DbQcRun).where(DbQcRun.run_id == qc.run_id)).first()
    new = _figures(qc)
    if row is not None:
        controls = list(session.scalars(select(DbQcControl).where(DbQcControl.qc_run_pk == row.id)))
        old = _stored_figures(row, controls)
        if old == new:
            return "unchanged"
        session.add(
            DbAudit(
                time_utc=_now(), os_account=account, by_name=by, action="qc-update",
                run_id=qc.run_id, what="the run's QC figures changed (re-recorded)",
                reason="recorded again from the run (e.g. after a well was masked)",
                old_value=json.dumps(old, ensure_ascii=False),
                new_value=json.dumps(new, ensure_ascii=False),
            )
        )  # fmt: skip
        for c in controls:
            session.delete(c)
        session.flush()
        outcome = "updated"
    else:
        row = DbQcRun(run_id=qc.run_id)
        session.add(row)
        outcome = "recorded"
    for f in _RUN_FIELDS:
        setattr(row, f, getattr(qc, f))
    row.westgard = new["westgard"]
    row.recorded_utc = _now()
    row.recorded_os_account = account
    session.flush()
    for c in qc.controls:
        session.add(
            DbQcControl(
                qc_run_pk=row.id, level=c.level, nominal_pg_ml=c.nominal_pg_ml,
                value_pg_ml=c.value_pg_ml, n_wells=c.n_wells, n_values=c.n_values,
                wells=" ".join(c.wells),
            )
        )  # fmt: skip
    return outcome


def load_qc(engine: Engine) -> list[RunQc]:
    """Every run's QC figures, in time order (recorded ones, and pushed runs never recorded)."""
    try:
        with engine.connect() as connection:
            require_current(connection, str(engine.url))
        with Session(engine) as session:
            return _load(session)
    except DBAPIError as err:
        raise unreachable(err, engine) from None


def _load(session: Session) -> list[RunQc]:
    pushed: dict[str, str] = {}  # run_id -> review status of its newest pushed version
    for run_id, status in session.execute(
        select(DbRun.run_id, DbRun.review_status).order_by(DbRun.id)
    ):
        pushed[run_id] = status
    controls: dict[int, list[ControlValue]] = {}
    for c in session.scalars(select(DbQcControl).order_by(DbQcControl.id)):
        controls.setdefault(c.qc_run_pk, []).append(
            ControlValue(
                c.level, c.nominal_pg_ml, c.value_pg_ml, c.n_wells, c.n_values,
                (c.wells or "").split(),
            )
        )  # fmt: skip
    out: list[RunQc] = []
    for row in session.scalars(select(DbQcRun)):
        qc = RunQc(
            run_id=row.run_id,
            **{f: getattr(row, f) for f in _RUN_FIELDS},
            westgard=json.loads(row.westgard or "[]"),
            controls=controls.get(row.id, []),
        )
        if row.run_id in pushed:
            qc.pushed = True
            qc.review_status = pushed[row.run_id]
        out.append(qc)
    recorded = {qc.run_id for qc in out}
    missing = [r for r in pushed if r not in recorded]
    if missing:
        newest: dict[str, tuple[str, str]] = {}
        rows = session.execute(
            select(DbRun.run_id, DbRun.run_json, DbCurve.curve_json)
            .join(DbCurve, DbCurve.run_pk == DbRun.id)
            .where(DbRun.run_id.in_(missing))
            .order_by(DbRun.id)
        )
        for run_id, run_json, curve_json in rows:
            newest[run_id] = (run_json, curve_json)
        for run_id, (run_json, curve_json) in newest.items():
            qc = from_documents(json.loads(run_json), json.loads(curve_json))
            qc.pushed, qc.review_status = True, pushed[run_id]
            out.append(qc)
    return sorted(out, key=lambda q: (q.time(), q.run_id))
