"""The statistician's datasets: ``results --format analysis`` and ``--format sdtm-lb``.

``analysis_rows`` gives one row per current specimen result with exactly the
columns of ``ANALYSIS_COLUMNS`` (docs/analysis.md says what each holds). The
censoring is parsed from the reported text: ``<x`` is left-censored (bounds 0
and the LLOQ x dilution), ``>x`` right-censored (bounds the ULOQ x dilution and
empty), a number is uncensored (both bounds the value); a result with no text
is not reportable and has no censoring. ``value_pg_ml`` and ``log10_value`` are
empty when censored: a censored value is never given a number.

``sdtm_lb_rows`` gives the CDISC SDTM LB domain (SDTMIG 3.4) of the same rows:
LBORRES and LBSTRESC the reported text, LBSTRESN the number (empty when
censored), LBLLOQ and LBULOQ the limits x dilution; LBSTNRLO/LBSTNRHI (a
normal range) are not given: the LLOQ is no reference range. ``write_xport``
writes them as a SAS transport (XPORT version 5) file through pyreadstat.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from il6assay.db.engine import require_schema
from il6assay.db.models import CURRENT, DbCurve, DbResult, DbRun
from il6assay.errors import InputError

ANALYSIS_COLUMNS = [
    "study_id",
    "visit",
    "analyte",
    "matrix",
    "method",
    "kit_lot",
    "assay_date",
    "collection_date",
    "value_pg_ml",
    "log10_value",
    "censoring",
    "lower_bound",
    "upper_bound",
    "lloq",
    "uloq",
    "lod",
    "unit",
    "dilution",
    "ci95_low",
    "ci95_high",
    "reportable",
    "reason",
    "run_id",
    "reviewer",
    "tool_version",
]
SDTM_LB_COLUMNS = [
    "STUDYID",
    "DOMAIN",
    "USUBJID",
    "LBSEQ",
    "LBREFID",
    "LBTESTCD",
    "LBTEST",
    "LBORRES",
    "LBORRESU",
    "LBSTRESC",
    "LBSTRESN",
    "LBSTRESU",
    "LBSTAT",
    "LBREASND",
    "LBSPEC",
    "LBMETHOD",
    "LBLLOQ",
    "LBULOQ",
    "VISIT",
    "LBDTC",
]
SDTM_NUMERIC = ("LBSEQ", "LBSTRESN", "LBLLOQ", "LBULOQ")
UNIT = "pg/mL"
METHOD = "ELISA"
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?")


def censoring(result: str) -> str:
    """``left`` for "<x", ``right`` for ">x", ``none`` for a number, "" for no result."""
    text = (result or "").strip()
    if text.startswith("<"):
        return "left"
    if text.startswith(">"):
        return "right"
    return "none" if _NUMBER.fullmatch(text) else ""


def _assay_date(reader_metadata: str | None, created_utc: str | None) -> str:
    """The plate's read date (the reader's ``read_datetime``), else the day it was processed."""
    meta = json.loads(reader_metadata or "{}")
    text = str(meta.get("read_datetime") or "")
    for fmt in (None, "%m/%d/%Y %I:%M:%S %p", "%d.%m.%Y %H:%M:%S", "%Y/%m/%d %H:%M:%S"):
        try:
            when = datetime.fromisoformat(text) if fmt is None else datetime.strptime(text, fmt)
            return when.date().isoformat()
        except ValueError:
            continue
    return (created_utc or "")[:10]


def _lod(curve_json: str | None) -> float | None:
    if curve_json is None:
        return None
    detection = json.loads(curve_json or "{}").get("detection") or {}
    value = detection.get("lod_pg_ml")
    return float(value) if value is not None else None


_RESULT_COLUMNS = (
    DbResult.run_pk,
    DbResult.study_id,
    DbResult.visit,
    DbResult.result,
    DbResult.dilution,
    DbResult.conc_pg_ml,
    DbResult.lloq_pg_ml,
    DbResult.uloq_pg_ml,
    DbResult.flags,
    DbResult.ci_low_pg_ml,
    DbResult.ci_high_pg_ml,
    DbResult.collection_date,
)


def _runs(connection: Connection, run_pks: set[int]) -> dict[int, dict[str, Any]]:
    """What the analysis rows take from each run and its curve, worked out once per run."""
    out: dict[int, dict[str, Any]] = {}
    wanted = sorted(run_pks)
    for start in range(0, len(wanted), 500):
        query = (
            select(
                DbRun.id,
                DbRun.run_id,
                DbRun.kit_lot,
                DbRun.reader_metadata,
                DbRun.created_utc,
                DbRun.settings,
                DbRun.reviewed_by,
                DbRun.tool_version,
                DbCurve.curve_json,
            )
            .outerjoin(DbCurve, DbCurve.run_pk == DbRun.id)
            .where(DbRun.id.in_(wanted[start : start + 500]))
        )
        for row in connection.execute(query):
            model = json.loads(row.settings or "{}").get("model") or ""
            out[row.id] = {
                "run_id": row.run_id,
                "kit_lot": row.kit_lot,
                "assay_date": _assay_date(row.reader_metadata, row.created_utc),
                "method": f"{METHOD}, {model} calibration" if model else METHOD,
                "lod": _lod(row.curve_json),
                "reviewer": row.reviewed_by,
                "tool_version": row.tool_version,
            }
    return out


def analysis_rows(
    engine: Engine, study_id: str | None = None, *, matrix: str = ""
) -> list[dict[str, Any]]:
    """One row per current specimen result, the columns of ANALYSIS_COLUMNS in order.

    Two queries of plain columns (the results, then their runs and curves), each run's
    share (assay date, method, LoD) worked out once: 2,000 plates' results in well under
    2 s of CPU (benchmarks/bench_push_warm.py).
    """
    require_schema(engine)
    query = (
        select(*_RESULT_COLUMNS)
        .where(DbResult.status == CURRENT)
        .order_by(DbResult.study_id, DbResult.visit)
    )
    if study_id is not None:
        query = query.where(DbResult.study_id == study_id)
    out = []
    with engine.connect() as connection:  # plain rows: no ORM objects for 70,000 results
        results = connection.execute(query).all()
        runs = _runs(connection, {r.run_pk for r in results})
    for res in results:
        run = runs[res.run_pk]
        kind = censoring(res.result)
        dilution = float(res.dilution) if res.dilution not in (None, "") else 1.0
        value = res.conc_pg_ml if kind == "none" else None
        lower, upper = {
            "none": (value, value),
            "left": (0.0, res.lloq_pg_ml),
            "right": (res.uloq_pg_ml, None),
        }.get(kind, (None, None))
        lod = run["lod"]
        flags = res.flags or ""
        reason = {
            "left": "below the LLOQ x dilution",
            "right": "above the ULOQ x dilution (re-assay at a higher dilution)",
            "": f"no result ({flags or 'not quantifiable'})",
        }.get(kind, flags)
        out.append(
            {
                "study_id": res.study_id,
                "visit": res.visit,
                "analyte": "IL6",
                "matrix": matrix,
                "method": run["method"],
                "kit_lot": run["kit_lot"],
                "assay_date": run["assay_date"],
                "collection_date": res.collection_date,
                "value_pg_ml": value,
                "log10_value": math.log10(value) if value else None,
                "censoring": kind,
                "lower_bound": lower,
                "upper_bound": upper,
                "lloq": res.lloq_pg_ml,
                "uloq": res.uloq_pg_ml,
                "lod": lod * dilution if lod is not None else None,
                "unit": UNIT,
                "dilution": res.dilution,
                "ci95_low": res.ci_low_pg_ml,
                "ci95_high": res.ci_high_pg_ml,
                "reportable": "yes" if kind else "no",
                "reason": reason,
                "run_id": run["run_id"],
                "reviewer": run["reviewer"],
                "tool_version": run["tool_version"],
            }
        )
    return out


def sdtm_lb_rows(
    rows: list[dict[str, Any]], results: list[str], *, studyid: str = ""
) -> list[dict[str, Any]]:
    """The SDTM LB domain of analysis rows; ``results`` is each row's reported text."""
    out = []
    seq: dict[str, int] = {}
    for row, text in zip(rows, results, strict=True):
        subject = f"{studyid}-{row['study_id']}" if studyid else row["study_id"]
        seq[subject] = seq.get(subject, 0) + 1
        done = bool(row["censoring"])
        out.append(
            {
                "STUDYID": studyid,
                "DOMAIN": "LB",
                "USUBJID": subject,
                "LBSEQ": seq[subject],
                "LBREFID": f"{row['run_id']}:{row['study_id']}:{row['visit']}",
                "LBTESTCD": "IL6",
                "LBTEST": "Interleukin 6",
                "LBORRES": text if done else "",
                "LBORRESU": UNIT if done else "",
                "LBSTRESC": text if done else "",
                "LBSTRESN": row["value_pg_ml"],
                "LBSTRESU": UNIT if done else "",
                "LBSTAT": "" if done else "NOT DONE",
                "LBREASND": "" if done else row["reason"],
                "LBSPEC": (row["matrix"] or "").upper(),
                "LBMETHOD": METHOD,
                "LBLLOQ": row["lloq"],
                "LBULOQ": row["uloq"],
                "VISIT": row["visit"],
                "LBDTC": row["collection_date"] or "",
            }
        )
    return out


def sdtm_lb(
    engine: Engine, study_id: str | None = None, *, matrix: str = "", studyid: str = ""
) -> list[dict[str, Any]]:
    """The SDTM LB rows of the study's current results."""
    rows = analysis_rows(engine, study_id, matrix=matrix)
    with Session(engine) as session:
        texts = {
            (r.study_id, r.visit): r.result
            for r in session.scalars(select(DbResult).where(DbResult.status == CURRENT))
        }
    return sdtm_lb_rows(rows, [texts[(r["study_id"], r["visit"])] for r in rows], studyid=studyid)


def write_xport(rows: list[dict[str, Any]], out: Path) -> Path:
    """The LB rows as a SAS XPORT (v5) file named ``out``, written whole or not at all."""
    try:
        import pandas as pd
        import pyreadstat
    except ImportError:
        raise InputError("writing SAS XPORT needs pyreadstat (pip install pyreadstat)") from None
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError("the folder to write in does not exist", path=out)
    frame = pd.DataFrame(rows, columns=SDTM_LB_COLUMNS)
    for name in SDTM_LB_COLUMNS:
        if name in SDTM_NUMERIC:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        else:
            frame[name] = frame[name].fillna("").astype(str)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    try:
        pyreadstat.write_xport(
            frame,
            str(tmp),
            file_label="IL-6 laboratory results",
            table_name="LB",
            file_format_version=5,
        )
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def write_parquet(rows: list[dict[str, Any]], columns: list[str], out: Path) -> Path:
    """The rows as Parquet (pyarrow), written whole or not at all."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InputError(
            "Parquet needs pyarrow, which is not installed (pip install pyarrow); "
            "the CSV holds the same columns"
        ) from None
    import pandas as pd

    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        pd.DataFrame(rows, columns=columns).to_parquet(tmp, index=False)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
