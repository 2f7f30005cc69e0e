"""Pushing reviewed, accepted runs into the study database: once, whole, and on the record.

Rules (docs/database.md):

- when the database holds review accounts, only with an account's signed accept
  of exactly the run's content, by someone other than who processed or masked it,
  and never after a signed rejection of the same export (``il6assay.db.decisions``);
  every Westgard rejection the study recorded for the export binds the run;
- only a run whose review status is "accepted" is pushed, after ``verified_run``
  has checked every file against its recorded SHA-256, the audit chain and the
  review it records, and processed the plate again from its inputs to the same
  results, flags and verdict (``il6assay.record.verify``), unless the study
  database remembers verifying this very folder (``il6assay.db.verified``; a
  verification the push makes is written in the run's own transaction);
- one transaction per run: the run, its curve, wells, results, dilution rows
  and audit rows land together or not at all;
- a run already stored (same run id, same outputs) is a no-op that says so;
- every dilutions.csv row with a study ID is kept in ``dilution_results``,
  at most one current per specimen (study ID and visit) and dilution;
- a specimen has at most one current result. A run bringing the specimen
  at a dilution no current row has (another plate) is combined with the
  specimen's current dilution rows by the rules of ``il6assay.qc.dilutions``:
  the old result is superseded automatically ("combine" in the audit). A
  run bringing a dilution that is already current (a re-assay, or the run
  re-pushed after a mask changed it), or a specimen whose current result was
  pushed before dilution rows were kept, needs ``supersede`` and a reason:
  the old rows are kept, marked superseded, linked to the new ones, and both
  values go into the audit table;
- a study ID spelled two ways (case, spaces, width or dash style) in one run,
  or differently from the database's spelling, is refused; the comparison is
  one indexed lookup of ``sample_results.study_key`` per run (migration 0004),
  so push time does not grow with the study.

Its parts, each a module of ``il6assay.db``: ``accepted_run`` (the run folder
verified, accepted and read: ``load_run``), ``westgard_record`` (the study's
recorded Westgard verdicts that bind a run), ``result_rows`` (results as rows,
dilutions combined across plates, replacements that lose information); this
module checks every run, then writes each in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from il6assay.db.accepted_run import (  # re-exported: push's public names
    RunData,
    check_normal_form,
    check_spellings,
    key_of,
    load_run,
)
from il6assay.db.chain import note_inserted
from il6assay.db.decisions import Authority, authorise_push
from il6assay.db.engine import require_schema, unreachable, writer
from il6assay.db.intake import check_intake, sheet_rows
from il6assay.db.isr import store_isr
from il6assay.db.models import (
    CURRENT,
    SUPERSEDED,
    DbAudit,
    DbCurve,
    DbDilution,
    DbResult,
    DbRun,
    DbWell,
)
from il6assay.db.result_rows import (  # re-exported: push's public names
    NUMBER_TO_CENSORED,
    NUMBER_TO_EMPTY,
    OVERRIDE_PLATE,
    accepted_by_override,
    audit_value,
    combined_result,
    dilution_from_row,
    dilution_list,
    dumps,
    loss_case,
    number,
    result_from_row,
)
from il6assay.db.verified import StudyMemory, add_verification
from il6assay.db.westgard_record import check_study_judgement, export_sha256_of
from il6assay.errors import InputError
from il6assay.plate.samples import spelling_key
from il6assay.record.audit import now_utc, os_account

__all__ = [
    "NUMBER_TO_CENSORED",
    "NUMBER_TO_EMPTY",
    "OVERRIDE_PLATE",
    "PushOutcome",
    "RunData",
    "check_normal_form",
    "check_spellings",
    "combined_result",
    "dilution_from_row",
    "load_run",
    "push_run",
    "push_runs",
    "result_from_row",
]

ATTEMPTS = 3  # a push that lost a race (unique key taken meanwhile) is retried from scratch


@dataclass
class PushOutcome:
    """What a push did to the database for one run."""

    run_id: str
    status: str  # "pushed" or "unchanged"
    results: int = 0
    superseded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # samples without a study ID
    combined: list[str] = field(default_factory=list)  # specimens combined with other plates
    # Replacements that lose information, said out loud: (specimen, old, new, case text).
    losses: list[tuple[str, str, str, str]] = field(default_factory=list)
    authority: Authority | None = None  # the decision that let the run in
    isr: int = 0  # incurred-sample repeats stored beside their originals

    def message(self) -> str:
        """One line for the terminal."""
        if self.status == "unchanged":
            return f"{self.run_id}: already in the database; nothing changed"
        text = f"{self.run_id}: pushed {self.results} result(s)"
        if self.superseded:
            text += f", superseding {len(self.superseded)} ({', '.join(self.superseded)})"
        if self.combined:
            text += (
                f"; {len(self.combined)} specimen(s) combined across plates with dilutions "
                f"of other runs ({', '.join(self.combined)})"
            )
        if self.authority is not None:
            text += f"; {self.authority.describe()}"
        if self.isr:
            text += f"; {self.isr} incurred-sample repeat(s) stored beside their originals"
        if self.skipped:
            text += f"; not pushed, no study ID: {', '.join(self.skipped)}"
        for case in dict.fromkeys(c for *_, c in self.losses):
            hits = [f"{k} {o} -> {n or 'no result'}" for k, o, n, c in self.losses if c == case]
            text += f"; {len(hits)} {case} (--supersede): {', '.join(hits)}"
        return text


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
    require_schema(engine)
    from il6assay.db.chain_key import key_path, read_key
    from il6assay.db.method import check_run_profile

    # Nothing is checked or written without the chain's key.
    read_key(key_path(engine.url.render_as_string(False)))
    memory = StudyMemory(engine, "push", deferred=True)  # written with each run, if pushed
    runs = [load_run(d, memory) for d in run_dirs]
    for run in runs:
        run.verification = memory.pending.pop(run.folder.path, None)

    try:
        for run in runs:  # a run judged under another method profile is refused
            check_run_profile(engine, run.folder.record.raw, run.folder.path)
        with Session(engine) as session:  # every run's decision and QC record before any write
            for run in runs:
                if _stored(session, run):
                    continue  # already in the database: nothing will be written
                try:
                    _check_authority(session, run)
                except InputError as err:
                    raise err.at(run.folder.path) from None
    except DBAPIError as err:
        raise unreachable(err, engine) from None
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


def _run_name(session: Session, run_pk: int) -> str:
    run = session.get(DbRun, run_pk)
    return run.run_id if run is not None else "?"


def _refusal(
    session: Session,
    needs: list[tuple[str, str]],
    reassayed: dict[tuple[str, str], list[DbDilution]],
    current: dict[tuple[str, str], DbResult],
) -> str:
    """The one-line refusal of a re-assay pushed without ``supersede``."""
    key = needs[0]
    if key in reassayed:
        held = reassayed[key][0]
        example = (
            f"{key[0]} {key[1]} at dilution {held.dilution:g}: {held.result} "
            f"from run {_run_name(session, held.run_pk)}"
        )
    else:
        old = current[key]
        example = (
            f"{key[0]} {key[1]}: {old.result} from run {_run_name(session, old.run_pk)}, "
            "pushed before dilutions were kept"
        )
    return (
        f"{len(needs)} specimen(s) already have a current result (e.g. {example}); "
        "a re-assay replaces them only with --supersede --reason TEXT"
    )


def _stored(session: Session, run: RunData) -> bool:
    """Whether this run, with this content, is already in the database."""
    found = session.scalar(
        select(DbRun.id).where(
            DbRun.run_id == run.run_id, DbRun.content_sha256 == run.content_sha256
        )
    )
    return found is not None


def _check_authority(session: Session, run: RunData) -> Authority:
    """The study's QC record and the decision that let the run in (or an InputError)."""
    check_study_judgement(session, run)
    return authorise_push(
        session,
        run_id=run.run_id,
        export_sha256=export_sha256_of(run.folder.record),
        content_sha256=run.content_sha256,
        processed_by=run.folder.record.processed_by,
        entries=run.folder.entries,
    )


def _push(
    session: Session, run: RunData, *, by: str | None, supersede: bool, reason: str | None
) -> PushOutcome:
    record = run.folder.record
    if _stored(session, run):
        return PushOutcome(run.run_id, "unchanged")

    authority = _check_authority(session, run)
    rows = [r for r in run.results if r.get("study_id")]
    skipped = [r.get("sample", "?") for r in run.results if not r.get("study_id")]
    check_intake(session, run.folder, run.run_id, [r["study_id"] for r in rows])
    # purpose (isr) and collection date of each specimen, from its sample-sheet rows
    sheet = _by_specimen(sheet_rows(run.folder))
    isr_rows = [r for r in rows if _purpose(sheet, r) == "isr"]
    rows = [r for r in rows if _purpose(sheet, r) != "isr"]
    _check_against_database(session, rows)
    keys = [key_of(r) for r in rows]
    wanted, study_ids = set(keys), {k[0] for k in keys}
    current = {
        (r.study_id, r.visit): r
        for r in session.scalars(
            select(DbResult).where(DbResult.status == CURRENT, DbResult.study_id.in_(study_ids))
        )
        if (r.study_id, r.visit) in wanted
    }
    # C: the specimens' current dilution rows (from other runs); D_new: this run's.
    held: dict[tuple[str, str], list[DbDilution]] = {}
    for d in session.scalars(
        select(DbDilution)
        .where(DbDilution.status == CURRENT, DbDilution.study_id.in_(study_ids))
        .order_by(DbDilution.id)
    ):
        if (d.study_id, d.visit) in wanted:
            held.setdefault((d.study_id, d.visit), []).append(d)
    brought: dict[tuple[str, str], list[dict[str, str]]] = {}
    for d in run.dilutions:
        if d.get("study_id"):
            brought.setdefault(key_of(d), []).append(d)
    # A dilution already current is a re-assay of it; a result pushed before dilution
    # rows were kept (migration 0003) cannot be combined: both need --supersede.
    reassayed: dict[tuple[str, str], list[DbDilution]] = {}
    for key in keys:
        again = {number(d.get("dilution")) for d in brought.get(key, [])}
        hit = [d for d in held.get(key, []) if d.dilution in again]
        if hit:
            reassayed[key] = hit
    needs = [k for k in keys if k in reassayed or (k in current and not held.get(k))]
    if needs and not supersede:
        raise InputError(_refusal(session, needs, reassayed, current), path=run.folder.path)

    when, account, by = now_utc(), os_account(), (by or "").strip() or None
    raw = record.raw  # run.json as stored: the database keeps its own copy
    db_run = DbRun(
        run_id=run.run_id,
        content_sha256=run.content_sha256,
        plate_id=record.export.plate_id,
        export_sha256=record.export_sha256,
        reader=record.export.format,
        reader_metadata=dumps(raw["export"]["metadata"]),
        kit_lot=record.kit_lot,
        settings=dumps(raw["settings"]),
        accepted_by_rules=record.accepted,
        verdict=record.verdict,
        review_status=record.review.status,
        **authority.review_fields(raw["review"]),  # who decided: the database's signature if any
        tool_version=record.version,
        created_utc=record.created_utc,
        pushed_utc=when,
        pushed_os_account=account,
        pushed_by=by,
        run_json=dumps(raw),
    )
    session.add(db_run)
    if run.verification is not None:
        add_verification(session, run.verification)
    session.flush()
    fit = run.curve.get("fit") or {}
    session.add(
        DbCurve(
            run_pk=db_run.id,
            model=fit.get("model"),
            weighting=fit.get("weighting"),
            params=dumps(fit.get("params")),
            stderr=dumps(fit.get("stderr")),
            covariance=dumps(fit.get("covariance")),
            lloq_pg_ml=run.curve.get("lloq_pg_ml"),
            uloq_pg_ml=run.curve.get("uloq_pg_ml"),
            curve_json=dumps(run.curve),
        )
    )
    session.flush()
    _insert_all(session, DbWell.__table__, _well_rows(db_run.id, run.wells))
    session.add(
        DbAudit(
            time_utc=when,
            os_account=account,
            by_name=by,
            action="push",
            run_id=run.run_id,
            what=f"run {run.run_id} pushed with {len(rows)} result(s)",
            reason=(reason or "").strip() or None,
            new_value=dumps(
                {
                    "content_sha256": run.content_sha256,
                    "export_sha256": db_run.export_sha256,
                    "decision": authority.describe(),
                    "signature_id": authority.signature_id,
                }
            ),
        )
    )
    run_ids = {db_run.id: run.run_id}
    for d in (d for rows_held in held.values() for d in rows_held):
        if d.run_pk not in run_ids:
            run_ids[d.run_pk] = _run_name(session, d.run_pk)
    user_reason = (reason or "").strip()
    superseded, combined = [], []
    losses: list[tuple[str, str, str, str]] = []
    audits: list[dict[str, Any]] = []  # one audit row a specimen, written together
    override = accepted_by_override(record)
    for row in rows:
        key = key_of(row)
        old = current.get(key)
        again = reassayed.get(key, [])
        kept = [d for d in held.get(key, []) if d not in again]
        new_dilutions = [dilution_from_row(d, db_run.id) for d in brought.get(key, [])]
        action = "add" if old is None else ("supersede" if key in needs else "combine")
        combine_reason = (
            f"combined with dilution {dilution_list(new_dilutions)} from run {run.run_id} "
            "(another plate)"
        )
        for d in again:
            d.status, d.supersede_reason, d.superseded_utc = SUPERSEDED, user_reason, when
        if old is not None:
            old.status = SUPERSEDED
            old.supersede_reason = combine_reason if action == "combine" else user_reason
            old.superseded_utc = when
        if old is not None or again:
            session.flush()  # the old rows stop being current before the new ones are
        session.add_all(new_dilutions)
        if again:
            session.flush()  # their ids, for superseded_by
        for d in again:
            d.superseded_by = next(n.id for n in new_dilutions if n.dilution == d.dilution)
        if kept:
            new = combined_result(kept + new_dilutions, run_ids, db_run.id)
            combined.append(f"{key[0]} {key[1]}")
        else:
            new = result_from_row(row, db_run.id)
            new.source_runs = run.run_id
        new.collection_date = _collection_date(sheet, row) or (old.collection_date if old else None)
        session.add(new)
        if old is not None:
            session.flush()  # its id, for the old row's superseded_by
        what = f"result of {key[0]} {key[1]} from run {run.run_id}"
        if kept:
            others = ", ".join(dict.fromkeys(run_ids[d.run_pk] for d in kept))
            what += (
                f" combines its dilution {dilution_list(new_dilutions)} with dilution "
                f"{dilution_list(kept)} of run {others}"
            )
        case = loss_case(old, new, override) if old is not None else None
        if old is not None:
            old.superseded_by = new.id
            what += f"; supersedes the result from run {_run_name(session, old.run_pk)}"
            if action == "supersede":
                superseded.append(f"{key[0]} {key[1]}")
        if case is not None and old is not None:
            losses.append((f"{key[0]} {key[1]}", old.result, new.result, case))
            what += f"; {case.replace('(s)', '')} ({old.result} -> {new.result or 'no result'})"
        audits.append(
            {
                "time_utc": when,
                "os_account": account,
                "by_name": by,
                "action": action,
                "run_id": run.run_id,
                "study_id": key[0],
                "visit": key[1],
                "what": what,
                "reason": combine_reason if action == "combine" else (user_reason or None),
                "old_value": dumps(audit_value(old)) if old is not None else None,
                "new_value": dumps({**audit_value(new), **({"loses": case} if case else {})}),
            }
        )
    session.flush()  # a new specimen's rows are written together, in one flush
    _insert_all(session, DbAudit.__table__, audits)  # after the push's own audit row
    store_isr(session, db_run.id, run.run_id, isr_rows, when=when, account=account, by=by)
    if losses and not supersede:
        # Nothing of this transaction is kept: raising here rolls the whole run back.
        k, o, n, case = losses[0]
        raise InputError(
            f"{len(losses)} {case} (e.g. {k}: {o} -> {n or 'no result'}); such a push needs "
            "--supersede --reason TEXT, and is then named in its message and the audit",
            path=run.folder.path,
        )
    return PushOutcome(
        run.run_id,
        "pushed",
        len(rows),
        superseded,
        skipped,
        combined,
        losses=losses,
        authority=authority,
        isr=len(isr_rows),
    )


def _by_specimen(sheet: dict[str, Any]) -> dict[tuple[str, str], list[Any]]:
    """The sheet's rows by specimen (study ID and visit), in the sheet's order."""
    out: dict[tuple[str, str], list[Any]] = {}
    for entry in sheet.values():
        out.setdefault((entry.study_id, entry.visit), []).append(entry)
    return out


def _insert_all(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Rows in one bulk insert, in order (no ORM object each), chained like every row."""
    if not rows:
        return
    ids = session.connection().execute(insert(table).returning(table.c.id), rows).scalars().all()
    note_inserted(session, table, list(ids))


def _well_rows(run_pk: int, wells: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The run's wells as rows of ``wells``."""
    return [
        {
            "run_pk": run_pk,
            "well": w["well"],
            "role": w.get("role") or None,
            "level": w.get("level") or None,
            "sample": w.get("sample") or None,
            "dilution": number(w.get("dilution")),
            "nominal_pg_ml": number(w.get("nominal_pg_ml")),
            "reads": dumps({k[5:]: v for k, v in w.items() if k.startswith("read_")}),
            "status": w.get("status") or None,
            "od": number(w.get("od")),
            "conc_pg_ml": number(w.get("conc_pg_ml")),
            "flags": w.get("flags") or None,
        }
        for w in wells
    ]


def _purpose(sheet: dict[tuple[str, str], list[Any]], row: dict[str, str]) -> str:
    """The sheet's purpose of a results row's specimen ("isr": an incurred-sample repeat)."""
    return "isr" if any(e.purpose == "isr" for e in sheet.get(key_of(row), ())) else ""


def _collection_date(sheet: dict[tuple[str, str], list[Any]], row: dict[str, str]) -> str | None:
    """The sheet's collection date of a results row's specimen, if it gives one."""
    return next((e.collection_date for e in sheet.get(key_of(row), ()) if e.collection_date), None)


def _check_against_database(session: Session, rows: list[dict[str, str]]) -> None:
    """Refuse a study ID the database already holds under another spelling (indexed lookup)."""
    wanted = {spelling_key(r["study_id"]): r["study_id"] for r in rows}
    if not wanted:
        return
    keys = sorted(wanted)
    for start in range(0, len(keys), 500):
        stored = session.execute(
            select(DbResult.study_key, DbResult.study_id)
            .where(DbResult.study_key.in_(keys[start : start + 500]))
            .distinct()
        ).all()
        for key, sid in stored:
            new = wanted[key]
            if new != sid:
                raise InputError(
                    f"study ID '{new}' is stored in the database as '{sid}'; "
                    "correct the sample sheet and process the plate again"
                )
