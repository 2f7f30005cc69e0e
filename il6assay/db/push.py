"""Pushing reviewed, accepted runs into the study database: once, whole, and on the record.

Rules (docs/database.md):

- only a run whose review status is "accepted" is pushed, after ``open_run``
  has checked every output and input copy against its recorded SHA-256;
- one transaction per run: the run, its curve, wells, results and audit rows
  land together or not at all;
- a run already stored (same run id, same outputs) is a no-op that says so;
- a specimen (study ID and visit) has at most one current result. A run that
  brings a new result for a specimen with a current one (a re-assay, or the
  run re-pushed after a mask changed it) needs ``supersede`` and a reason:
  the old row is kept, marked superseded, linked to the new one, and both
  values go into the audit table;
- a study ID spelled two ways (case or spaces) in one run, or differently
  from the database's spelling, is refused.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from il6assay.audit import now_utc, os_account
from il6assay.db.engine import ensure_schema, unreachable, writer
from il6assay.db.models import CURRENT, SUPERSEDED, DbAudit, DbCurve, DbResult, DbRun, DbWell
from il6assay.errors import InputError
from il6assay.masking import RunFolder, open_run

ATTEMPTS = 3  # a push that lost a race (unique key taken meanwhile) is retried from scratch
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class PushOutcome:
    """What a push did to the database for one run."""

    run_id: str
    status: str  # "pushed" or "unchanged"
    results: int = 0
    superseded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # samples without a study ID

    def message(self) -> str:
        """One line for the terminal."""
        if self.status == "unchanged":
            return f"{self.run_id}: already in the database; nothing changed"
        text = f"{self.run_id}: pushed {self.results} result(s)"
        if self.superseded:
            text += f", superseding {len(self.superseded)} ({', '.join(self.superseded)})"
        if self.skipped:
            text += f"; not pushed, no study ID: {', '.join(self.skipped)}"
        return text


@dataclass
class RunData:
    """A checked run folder read for the database."""

    folder: RunFolder
    content_sha256: str
    results: list[dict[str, str]]
    wells: list[dict[str, str]]
    curve: dict[str, Any]

    @property
    def run_id(self) -> str:
        """The run's id (its folder name)."""
        return str(self.folder.record.get("run_id") or self.folder.path.name)


def spelling_key(study_id: str) -> str:
    """A study ID with case and whitespace ignored: two spellings of one subject compare equal."""
    return re.sub(r"\s+", "", study_id).casefold()


def _cell(value: str | None) -> str:
    """A CSV cell as written, without the apostrophe that guards formula-like text."""
    text = value or ""
    if text.startswith("'") and text[1:2] in _FORMULA_PREFIXES and text[1:2] != "":
        return text[1:]
    return text


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [{k: _cell(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def load_run(run_dir: str | Path) -> RunData:
    """A run folder ready to push: hashes verified, review accepted, study IDs spelled one way."""
    folder = open_run(run_dir)
    review = folder.record.get("review") or {}
    status = review.get("status", "unreviewed")
    if status != "accepted":
        raise InputError(
            f"run is not accepted by review (review status: {status}); only accepted runs "
            "are pushed (il6assay review RUN_DIR --accept --by NAME --reason TEXT)",
            path=folder.path,
        )
    results = _read_csv(folder.path / "results.csv")
    check_spellings([r["study_id"] for r in results if r.get("study_id")], folder.path)
    outputs = folder.record.get("outputs_sha256") or {}
    content = hashlib.sha256(json.dumps(outputs, sort_keys=True).encode()).hexdigest()
    return RunData(
        folder=folder,
        content_sha256=content,
        results=results,
        wells=_read_csv(folder.path / "wells.csv"),
        curve=json.loads((folder.path / "curve.json").read_text(encoding="utf-8")),
    )


def check_spellings(study_ids: list[str], path: Path | None = None) -> None:
    """Refuse study IDs that differ only by case or spaces ("AML-001" and "aml-001")."""
    seen: dict[str, str] = {}
    for sid in study_ids:
        key = spelling_key(sid)
        if key in seen and seen[key] != sid:
            raise InputError(
                f"study ID spelled two ways in the sample sheet: '{seen[key]}' and '{sid}'; "
                "correct the sheet and process the plate again",
                path=path,
            )
        seen.setdefault(key, sid)


def push_runs(
    engine: Engine,
    run_dirs: list[Path],
    *,
    by: str | None = None,
    supersede: bool = False,
    reason: str | None = None,
    report: Callable[[PushOutcome], None] | None = None,
) -> list[PushOutcome]:
    """Check every run folder first, then push each in its own transaction."""
    if supersede and not (reason and reason.strip()):
        raise InputError("--supersede needs a reason (--reason TEXT)")
    runs = [load_run(d) for d in run_dirs]
    ensure_schema(engine)
    outcomes = []
    for run in runs:
        try:
            outcome = push_run(engine, run, by=by, supersede=supersede, reason=reason)
        except InputError as err:
            raise err.at(run.folder.path) from None
        outcomes.append(outcome)
        if report is not None:
            report(outcome)
    return outcomes


def push_run(
    engine: Engine,
    run: RunData,
    *,
    by: str | None = None,
    supersede: bool = False,
    reason: str | None = None,
) -> PushOutcome:
    """Push one checked run in one transaction (retried if a concurrent push took a key)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with Session(writer(engine)) as session, session.begin():
                return _push(session, run, by=by, supersede=supersede, reason=reason)
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise
        except DBAPIError as err:
            if isinstance(err.orig, Exception) and _is_connect_failure(err):
                raise unreachable(err, engine) from None
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _is_connect_failure(err: DBAPIError) -> bool:
    from sqlalchemy.exc import OperationalError

    return isinstance(err, OperationalError)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    value = _float(text)
    return int(value) if value is not None else None


def _value(row: DbResult | dict[str, Any]) -> dict[str, Any]:
    """A result's value as the audit table records it."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    return {
        "result": get("result"),
        "conc_pg_ml": get("conc_pg_ml"),
        "flags": get("flags"),
        "ci_low_pg_ml": get("ci_low_pg_ml"),
        "ci_high_pg_ml": get("ci_high_pg_ml"),
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def result_from_row(row: dict[str, str], run_pk: int) -> DbResult:
    """One results.csv row as a current sample_results row."""
    return DbResult(
        run_pk=run_pk,
        study_id=row["study_id"],
        visit=row.get("visit", ""),
        sample=row.get("sample") or None,
        dilution=row.get("dilution") or None,
        n_wells=_int(row.get("n_wells")),
        od_mean=_float(row.get("od_mean")),
        conc_pg_ml=_float(row.get("conc_pg_ml")),
        result=row.get("result", ""),
        ci_low_pg_ml=_float(row.get("ci_low_pg_ml")),
        ci_high_pg_ml=_float(row.get("ci_high_pg_ml")),
        lloq_pg_ml=_float(row.get("lloq_pg_ml")),
        uloq_pg_ml=_float(row.get("uloq_pg_ml")),
        flags=row.get("flags", ""),
        advice=row.get("advice") or None,
        wells=row.get("wells") or None,
        status=CURRENT,
        conc_cv_pct=_float(row.get("conc_cv_pct")),
        dilutions=row.get("dilutions") or None,
    )


def _push(
    session: Session, run: RunData, *, by: str | None, supersede: bool, reason: str | None
) -> PushOutcome:
    record = run.folder.record
    existing = session.scalar(
        select(DbRun).where(DbRun.run_id == run.run_id, DbRun.content_sha256 == run.content_sha256)
    )
    if existing is not None:
        return PushOutcome(run.run_id, "unchanged")

    rows = [r for r in run.results if r.get("study_id")]
    skipped = [r.get("sample", "?") for r in run.results if not r.get("study_id")]
    _check_against_database(session, rows)
    keys = [(r["study_id"], r.get("visit", "")) for r in rows]
    current = {
        (r.study_id, r.visit): r
        for r in session.scalars(
            select(DbResult).where(
                DbResult.status == CURRENT,
                DbResult.study_id.in_({k[0] for k in keys}),
            )
        )
        if (r.study_id, r.visit) in set(keys)
    }
    if current and not supersede:
        first = next(iter(current.values()))
        old_run = session.get(DbRun, first.run_pk)
        raise InputError(
            f"{len(current)} specimen(s) already have a current result (e.g. {first.study_id} "
            f"{first.visit}: {first.result} from run {old_run.run_id if old_run else '?'}); "
            "a re-assay replaces them only with --supersede --reason TEXT",
            path=run.folder.path,
        )

    when, account, by = now_utc(), os_account(), (by or "").strip() or None
    review = record.get("review") or {}
    export = record.get("export") or {}
    export_inputs = (record.get("inputs") or {}).get("export") or [{}]
    db_run = DbRun(
        run_id=run.run_id,
        content_sha256=run.content_sha256,
        plate_id=export.get("plate_id"),
        export_sha256=export_inputs[0].get("sha256"),
        reader=export.get("format"),
        reader_metadata=_dumps(export.get("metadata") or {}),
        kit_lot=record.get("kit_lot"),
        settings=_dumps(record.get("settings") or {}),
        accepted_by_rules=bool(record.get("accepted")),
        verdict=str(record.get("verdict", "")),
        review_status=review.get("status", "unreviewed"),
        reviewed_by=review.get("by"),
        review_reason=review.get("reason"),
        reviewed_utc=review.get("time_utc"),
        review_override=bool(review.get("override", False)),
        tool_version=record.get("version"),
        created_utc=record.get("created_utc"),
        pushed_utc=when,
        pushed_os_account=account,
        pushed_by=by,
        run_json=_dumps(record),
    )
    session.add(db_run)
    session.flush()
    fit = run.curve.get("fit") or {}
    session.add(
        DbCurve(
            run_pk=db_run.id,
            model=fit.get("model"),
            weighting=fit.get("weighting"),
            params=_dumps(fit.get("params")),
            stderr=_dumps(fit.get("stderr")),
            covariance=_dumps(fit.get("covariance")),
            lloq_pg_ml=run.curve.get("lloq_pg_ml"),
            uloq_pg_ml=run.curve.get("uloq_pg_ml"),
            curve_json=_dumps(run.curve),
        )
    )
    for w in run.wells:
        session.add(
            DbWell(
                run_pk=db_run.id,
                well=w["well"],
                role=w.get("role") or None,
                level=w.get("level") or None,
                sample=w.get("sample") or None,
                dilution=_float(w.get("dilution")),
                nominal_pg_ml=_float(w.get("nominal_pg_ml")),
                reads=_dumps({k[5:]: v for k, v in w.items() if k.startswith("read_")}),
                status=w.get("status") or None,
                od=_float(w.get("od")),
                conc_pg_ml=_float(w.get("conc_pg_ml")),
                flags=w.get("flags") or None,
            )
        )
    session.flush()
    session.add(
        DbAudit(
            time_utc=when,
            os_account=account,
            by_name=by,
            action="push",
            run_id=run.run_id,
            what=f"run {run.run_id} pushed with {len(rows)} result(s)",
            reason=(reason or "").strip() or None,
            new_value=_dumps(
                {"content_sha256": run.content_sha256, "export_sha256": db_run.export_sha256}
            ),
        )
    )
    superseded = []
    for row in rows:
        key = (row["study_id"], row.get("visit", ""))
        old = current.get(key)
        if old is not None:
            old.status = SUPERSEDED
            old.supersede_reason = (reason or "").strip()
            old.superseded_utc = when
            session.flush()  # the old row stops being current before the new one is
        new = result_from_row(row, db_run.id)
        session.add(new)
        session.flush()
        if old is not None:
            old.superseded_by = new.id
            old_run = session.get(DbRun, old.run_pk)
            superseded.append(f"{key[0]} {key[1]}")
        session.add(
            DbAudit(
                time_utc=when,
                os_account=account,
                by_name=by,
                action="supersede" if old is not None else "add",
                run_id=run.run_id,
                study_id=key[0],
                visit=key[1],
                what=(
                    f"result of {key[0]} {key[1]} from run {run.run_id} supersedes run "
                    f"{old_run.run_id if old_run else '?'}"
                    if old is not None
                    else f"result of {key[0]} {key[1]} from run {run.run_id}"
                ),
                reason=(reason or "").strip() or None,
                old_value=_dumps(_value(old)) if old is not None else None,
                new_value=_dumps(_value(new)),
            )
        )
        session.flush()
    return PushOutcome(run.run_id, "pushed", len(rows), superseded, skipped)


def _check_against_database(session: Session, rows: list[dict[str, str]]) -> None:
    """Refuse a study ID the database already holds under another spelling."""
    wanted = {spelling_key(r["study_id"]): r["study_id"] for r in rows}
    if not wanted:
        return
    stored = session.scalars(select(DbResult.study_id).distinct()).all()
    for sid in stored:
        new = wanted.get(spelling_key(sid))
        if new is not None and new != sid:
            raise InputError(
                f"study ID '{new}' is stored in the database as '{sid}'; "
                "correct the sample sheet and process the plate again"
            )
