"""Reading the study database back: current results (long or wide), dilutions, and history."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from il6assay.db.engine import require_current, unreachable
from il6assay.db.models import CURRENT, DbAudit, DbDilution, DbResult, DbRun
from il6assay.errors import InputError

RESULT_COLUMNS = [
    "study_id",
    "visit",
    "result",
    "conc_pg_ml",
    "ci_low_pg_ml",
    "ci_high_pg_ml",
    "lloq_pg_ml",
    "uloq_pg_ml",
    "flags",
    "sample",
    "dilution",
    "run_id",
    "plate_id",
    "export_sha256",
    "reviewed_by",
    "pushed_utc",
    "dilutions",
    "source_runs",
]
# One row per current dilution of a specimen (--dilutions): what the results combine.
DILUTION_COLUMNS = [
    "study_id",
    "visit",
    "dilution",
    "result",
    "conc_pg_ml",
    "ci_low_pg_ml",
    "ci_high_pg_ml",
    "lloq_pg_ml",
    "uloq_pg_ml",
    "flags",
    "advice",
    "od_mean",
    "conc_cv_pct",
    "sample",
    "wells",
    "status",
    "run_id",
    "plate_id",
    "export_sha256",
    "reviewed_by",
    "pushed_utc",
]
WIDE_VALUES = ("result", "conc_pg_ml", "flags", "run_id")
FORMATS = ("csv", "xlsx", "json")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _current(engine: Engine, model: Any, study_id: str | None, *order: Any) -> list[Any]:
    """The current rows of ``model`` (results or dilutions), each paired with its run."""
    query = (
        select(model, DbRun)
        .join(DbRun, model.run_pk == DbRun.id)
        .where(model.status == CURRENT)
        .order_by(*order)
    )
    if study_id is not None:
        query = query.where(model.study_id == study_id)
    try:
        with Session(engine) as session:
            require_current(session.connection(), str(engine.url))
            return list(session.execute(query).all())
    except DBAPIError as err:
        raise unreachable(err, engine) from None


def current_results(engine: Engine, study_id: str | None = None) -> list[dict[str, Any]]:
    """Current results, one row per study ID and visit, each with its run and input hash."""
    rows = _current(engine, DbResult, study_id, DbResult.study_id, DbResult.visit)
    out = []
    for res, run in rows:
        out.append(
            {
                "study_id": res.study_id,
                "visit": res.visit,
                "result": res.result,
                "conc_pg_ml": res.conc_pg_ml,
                "ci_low_pg_ml": res.ci_low_pg_ml,
                "ci_high_pg_ml": res.ci_high_pg_ml,
                "lloq_pg_ml": res.lloq_pg_ml,
                "uloq_pg_ml": res.uloq_pg_ml,
                "flags": res.flags,
                "sample": res.sample,
                "dilution": res.dilution,
                "run_id": run.run_id,
                "plate_id": run.plate_id,
                "export_sha256": run.export_sha256,
                "reviewed_by": run.reviewed_by,
                "pushed_utc": run.pushed_utc,
                "dilutions": res.dilutions,
                "source_runs": res.source_runs,
            }
        )
    return out


def current_dilutions(engine: Engine, study_id: str | None = None) -> list[dict[str, Any]]:
    """Current dilution rows, one per study ID, visit and dilution, each with its run."""
    order = (DbDilution.study_id, DbDilution.visit, DbDilution.dilution)
    rows = _current(engine, DbDilution, study_id, *order)
    return [
        {
            "study_id": d.study_id,
            "visit": d.visit,
            "dilution": int(d.dilution) if d.dilution.is_integer() else d.dilution,
            "result": d.result,
            "conc_pg_ml": d.conc_pg_ml,
            "ci_low_pg_ml": d.ci_low_pg_ml,
            "ci_high_pg_ml": d.ci_high_pg_ml,
            "lloq_pg_ml": d.lloq_pg_ml,
            "uloq_pg_ml": d.uloq_pg_ml,
            "flags": d.flags,
            "advice": d.advice,
            "od_mean": d.od_mean,
            "conc_cv_pct": d.conc_cv_pct,
            "sample": d.sample,
            "wells": d.wells,
            "status": d.status,
            "run_id": run.run_id,
            "plate_id": run.plate_id,
            "export_sha256": run.export_sha256,
            "reviewed_by": run.reviewed_by,
            "pushed_utc": run.pushed_utc,
        }
        for d, run in rows
    ]


def widen(rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per study ID, ``<visit>_result``, ``<visit>_conc_pg_ml``, ... per visit."""
    visits = list(dict.fromkeys(r["visit"] for r in rows))
    columns = ["study_id"] + [f"{v}_{name}" for v in visits for name in WIDE_VALUES]
    wide: dict[str, dict[str, Any]] = {}
    for r in rows:
        target = wide.setdefault(r["study_id"], {"study_id": r["study_id"]})
        for name in WIDE_VALUES:
            target[f"{r['visit']}_{name}"] = r[name]
    return columns, list(wide.values())


def _safe(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def render(
    rows: list[dict[str, Any]], columns: list[str], fmt: str, out: Path | None
) -> str | None:
    """Write ``rows`` as csv, xlsx or json to ``out``; without ``out``, return the csv/json text."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "xlsx":
        if out is None:
            raise InputError("--format xlsx needs --out FILE")
        from il6assay.record.outputs import write_xlsx

        write_xlsx(out, {"results": (columns, rows)})
        return None
    if fmt == "json":
        text = json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([_safe(c) for c in columns])  # --wide headers carry visit labels
        for r in rows:
            writer.writerow([_safe(r.get(c)) for c in columns])
        text = buffer.getvalue()
    if out is None:
        return text
    out.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    return None


def history(engine: Engine, study_id: str) -> list[dict[str, Any]]:
    """Every value the study ID's specimens have had, oldest first, with why each changed."""
    try:
        with Session(engine) as session:
            require_current(session.connection(), str(engine.url))
            rows = session.execute(
                select(DbResult, DbRun)
                .join(DbRun, DbResult.run_pk == DbRun.id)
                .where(DbResult.study_id == study_id)
                .order_by(DbResult.visit, DbResult.id)
            ).all()
            audit = session.scalars(
                select(DbAudit).where(DbAudit.study_id == study_id).order_by(DbAudit.id)
            ).all()
    except DBAPIError as err:
        raise unreachable(err, engine) from None
    pushed = {(a.run_id, a.visit): a for a in audit}
    out = []
    for res, run in rows:
        entry = pushed.get((run.run_id, res.visit))
        out.append(
            {
                "study_id": res.study_id,
                "visit": res.visit,
                "result": res.result,
                "conc_pg_ml": res.conc_pg_ml,
                "flags": res.flags,
                "dilution": res.dilution,
                "dilutions": res.dilutions,
                "source_runs": res.source_runs,
                "status": res.status,
                "run_id": run.run_id,
                "pushed_utc": run.pushed_utc,
                "pushed_by": run.pushed_by or run.pushed_os_account,
                "reviewed_by": run.reviewed_by,
                "superseded_by_result": res.superseded_by,
                "supersede_reason": res.supersede_reason,
                "superseded_utc": res.superseded_utc,
                "result_id": res.id,
                "action": entry.action if entry is not None else None,
                "audit": entry.what if entry is not None else None,
            }
        )
    return out


def history_text(entries: list[dict[str, Any]]) -> str:
    """The history as lines a person reads: value, status, run, and why it changed."""
    lines = []
    for e in entries:
        line = (
            f"{e['study_id']} {e['visit']}: {e['result']} [{e['flags'] or 'no flags'}] "
            f"{e['status']}, run {e['run_id']}, pushed {e['pushed_utc']} by {e['pushed_by']}"
        )
        runs = (e.get("source_runs") or "").split()
        if len(runs) > 1:
            line += f"; combined from {e['dilutions']} (runs {', '.join(runs)})"
        if e["status"] != CURRENT:
            line += (
                f"; superseded {e['superseded_utc']} by result #{e['superseded_by_result']}: "
                f"{e['supersede_reason']}"
            )
        lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")


def unknown_study_id_message(engine: Engine, study_id: str) -> str | None:
    """For a study ID the database has never stored: 'no results for ...', naming the nearest.

    None when the ID is stored (current or superseded). The nearest stored ID
    is found as sample labels are (``il6assay.plate.labels``): case, spaces,
    a digit off.
    """
    from il6assay.plate.labels import did_you_mean

    try:
        with Session(engine) as session:
            require_current(session.connection(), str(engine.url))
            stored = session.scalars(select(DbResult.study_id).distinct()).all()
    except DBAPIError as err:
        raise unreachable(err, engine) from None
    if study_id in stored:
        return None
    return f"no results for study ID '{study_id}' in the database" + did_you_mean(
        study_id, sorted(stored)
    )
