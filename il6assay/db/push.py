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
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

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
    DbQcRun,
    DbResult,
    DbRun,
    DbWell,
)
from il6assay.db.verified import StudyMemory, add_verification
from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_bytes
from il6assay.plate.samples import clean_label, spelling_key
from il6assay.qc.dilutions import combine_rows
from il6assay.qc.results import SampleResult
from il6assay.qc.rules import STUDY_REJECT, STUDY_RULES
from il6assay.record.audit import now_utc, os_account
from il6assay.record.folder import RunFolder
from il6assay.record.verify import Memory, verified_run

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


@dataclass
class RunData:
    """A checked run folder read for the database."""

    folder: RunFolder
    content_sha256: str
    results: list[dict[str, str]]
    dilutions: list[dict[str, str]]
    wells: list[dict[str, str]]
    curve: dict[str, Any]
    verification: dict[str, str] | None = None  # to record with the run (il6assay.db.verified)

    @property
    def run_id(self) -> str:
        """The run's id (its folder name)."""
        return str(self.folder.record.get("run_id") or self.folder.path.name)


def _cell(value: str | None) -> str:
    """A CSV cell as written, without the apostrophe that guards formula-like text."""
    text = value or ""
    if text.startswith("'") and text[1:2] in _FORMULA_PREFIXES and text[1:2] != "":
        return text[1:]
    return text


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [{k: _cell(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def load_run(run_dir: str | Path, memory: Memory | None = None) -> RunData:
    """A run folder ready to push: hashes verified, review accepted, study IDs spelled one way.

    ``memory``: where verifications are remembered (the study database), so that a run
    verified before is not processed again (``il6assay.record.verify``).
    """
    # Hashes, audit chain, review, and recomputed from inputs/ (unless verified before).
    folder = verified_run(run_dir, memory)
    review = folder.record.get("review") or {}
    status = review.get("status", "unreviewed")
    if status != "accepted":
        raise InputError(
            f"run is not accepted by review (review status: {status}); only accepted runs "
            "are pushed (il6assay review RUN_DIR --accept --by NAME --reason TEXT)",
            path=folder.path,
        )
    results = _read_csv(folder.path / "results.csv")
    check_normal_form(results, folder.path)
    check_spellings([r["study_id"] for r in results if r.get("study_id")], folder.path)
    if not (folder.path / "dilutions.csv").is_file():
        raise InputError("dilutions.csv is missing from the run folder", path=folder.path)
    dilutions = _read_csv(folder.path / "dilutions.csv")
    with_id = [r for r in dilutions if r.get("study_id")]
    if {_key(r) for r in results if r.get("study_id")} != {_key(r) for r in with_id} or any(
        _float(r.get("dilution")) is None for r in with_id
    ):
        raise InputError(
            "dilutions.csv does not match results.csv (specimens or dilutions); "
            "process the plate again",
            path=folder.path,
        )
    outputs = folder.record.get("outputs_sha256") or {}
    content = sha256_bytes(json.dumps(outputs, sort_keys=True))
    return RunData(
        folder=folder,
        content_sha256=content,
        results=results,
        dilutions=dilutions,
        wells=_read_csv(folder.path / "wells.csv"),
        curve=json.loads((folder.path / "curve.json").read_text(encoding="utf-8")),
    )


def _key(row: dict[str, str]) -> tuple[str, str]:
    """A CSV row's specimen: study ID and visit."""
    return (row["study_id"], row.get("visit", ""))


def check_normal_form(results: list[dict[str, str]], path: Path | None = None) -> None:
    """Refuse a study ID, visit or sample label not in its one normal form (NFKC, trimmed, clean).

    A run processed by this il6assay always passes (the sample sheet is read so);
    a run folder from before, or one carrying an invisible character, does not.
    """
    for line, row in enumerate(results, start=2):
        for column in ("study_id", "visit", "sample"):
            value = row.get(column) or ""
            where = f"results.csv line {line}"
            try:
                normal = clean_label(value, column, where)
            except InputError as err:
                raise err.at(path) from None
            if normal != value:
                raise InputError(
                    f"{column} {value!a} is not in its normal form (NFKC, trimmed); "
                    "process the plate again with this il6assay",
                    path=path,
                    where=where,
                )


def check_spellings(study_ids: list[str], path: Path | None = None) -> None:
    """Refuse study IDs that differ only by case, spaces, width or dashes ("AML-001", "aml-001")."""
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
            check_run_profile(engine, run.folder.record, run.folder.path)
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
        "dilution": get("dilution"),
        "dilutions": get("dilutions"),
        "source_runs": get("source_runs"),
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _shared_fields(row: dict[str, str], run_pk: int) -> dict[str, Any]:
    """The columns results.csv and dilutions.csv rows give sample_results and dilution_results."""
    return {
        "run_pk": run_pk,
        "study_id": row["study_id"],
        "visit": row.get("visit", ""),
        "sample": row.get("sample") or None,
        "result": row.get("result", ""),
        "od_mean": _float(row.get("od_mean")),
        **{
            name: _float(row.get(name))
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
        n_wells=_int(row.get("n_wells")),
        dilutions=row.get("dilutions") or None,
    )


def dilution_from_row(row: dict[str, str], run_pk: int) -> DbDilution:
    """One dilutions.csv row as a current dilution_results row."""
    return DbDilution(**_shared_fields(row, run_pk), dilution=_float(row.get("dilution")))


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


def _dilution_list(rows: list[DbDilution]) -> str:
    return ", ".join(f"{d.dilution:g}" for d in sorted(rows, key=lambda d: d.dilution))


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


NUMBER_TO_CENSORED = "reported number(s) replaced by a censored result"
NUMBER_TO_EMPTY = "reported number(s) replaced by no result"
OVERRIDE_PLATE = "result(s) replaced by those of a plate accepted only by override"


def accepted_by_override(record: dict[str, Any]) -> bool:
    """Whether the run's plate failed the acceptance rules and was accepted by override."""
    review = record.get("review") or {}
    return not record.get("accepted") or bool(review.get("override", False))


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


def export_sha256_of(record: dict[str, Any]) -> str | None:
    """The SHA-256 of the run's raw export, as run.json records it (and the run id hashes)."""
    return (((record.get("inputs") or {}).get("export") or [{}])[0]).get("sha256")


def westgard_rejected(row: DbQcRun) -> bool:
    """Whether a recorded run's Westgard check rejected it."""
    try:
        texts = json.loads(row.westgard or "[]")
    except json.JSONDecodeError:
        texts = [row.westgard]
    return any(str(t).startswith(STUDY_REJECT) for t in texts)


def _check_study_judgement(session: Session, run: RunData) -> None:
    """Every Westgard verdict the study recorded for this export binds this run.

    Recomputation from ``inputs/`` cannot check a verdict that came from the study's
    control history, so the database's own record (``qc_runs``, written by ``process``)
    is consulted for every push: a recorded rejection of the same export (by its
    SHA-256, or of the same run id) refuses a run that does not carry it (the export
    processed again where no study database was configured); a run judged against a
    study database must be one this database recorded, with the same verdict.
    """
    record = run.folder.record
    curve = json.loads((run.folder.path / "curve.json").read_text(encoding="utf-8"))
    judged = [
        r
        for r in curve.get("rules") or []
        if r.get("id") in STUDY_RULES and r.get("passed") is not None
    ]
    export = export_sha256_of(record)
    about = DbQcRun.run_id == run.run_id
    if export:
        about = or_(about, DbQcRun.export_sha256 == export)
    recorded = session.scalars(select(DbQcRun).where(about).order_by(DbQcRun.id)).all()
    rejection = next((r for r in recorded if westgard_rejected(r)), None)
    if rejection is not None and not any(r.get("passed") is False for r in judged):
        raise InputError(
            f"the study recorded a Westgard rejection of this export (run {rejection.run_id}, "
            f"processed {rejection.processed_utc}), and this run does not carry it (processed "
            "without the study database?): the rejection binds every run of the export"
        )
    stored = next((r for r in recorded if r.run_id == run.run_id), None)
    if judged and stored is None:
        raise InputError(
            "the run was judged by the Westgard rules against a study database that has no "
            "record of it: push it to the study database it was processed with"
        )
    if stored is not None and bool(stored.accepted_by_rules) != bool(record["accepted"]):
        said = "accepted" if stored.accepted_by_rules else "rejected"
        raise InputError(
            f"the run's verdict is not the one this study database recorded when it was "
            f"processed ({said} by the rules, Westgard included): the run folder was changed"
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
    _check_study_judgement(session, run)
    return authorise_push(
        session,
        run_id=run.run_id,
        export_sha256=export_sha256_of(run.folder.record),
        content_sha256=run.content_sha256,
        processed_by=run.folder.record.get("processed_by"),
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
    sheet = sheet_rows(run.folder)  # purpose (isr) and collection date of each sample label
    isr_rows = [r for r in rows if _purpose(sheet, r) == "isr"]
    rows = [r for r in rows if _purpose(sheet, r) != "isr"]
    _check_against_database(session, rows)
    keys = [_key(r) for r in rows]
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
            brought.setdefault(_key(d), []).append(d)
    # A dilution already current is a re-assay of it; a result pushed before dilution
    # rows were kept (migration 0003) cannot be combined: both need --supersede.
    reassayed: dict[tuple[str, str], list[DbDilution]] = {}
    for key in keys:
        again = {_float(d.get("dilution")) for d in brought.get(key, [])}
        hit = [d for d in held.get(key, []) if d.dilution in again]
        if hit:
            reassayed[key] = hit
    needs = [k for k in keys if k in reassayed or (k in current and not held.get(k))]
    if needs and not supersede:
        raise InputError(_refusal(session, needs, reassayed, current), path=run.folder.path)

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
        **authority.review_fields(review),  # who decided: the database's signature if any
        tool_version=record.get("version"),
        created_utc=record.get("created_utc"),
        pushed_utc=when,
        pushed_os_account=account,
        pushed_by=by,
        run_json=_dumps(record),
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
    override = accepted_by_override(record)
    for row in rows:
        key = _key(row)
        old = current.get(key)
        again = reassayed.get(key, [])
        kept = [d for d in held.get(key, []) if d not in again]
        new_dilutions = [dilution_from_row(d, db_run.id) for d in brought.get(key, [])]
        action = "add" if old is None else ("supersede" if key in needs else "combine")
        combine_reason = (
            f"combined with dilution {_dilution_list(new_dilutions)} from run {run.run_id} "
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
                f" combines its dilution {_dilution_list(new_dilutions)} with dilution "
                f"{_dilution_list(kept)} of run {others}"
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
        session.add(
            DbAudit(
                time_utc=when,
                os_account=account,
                by_name=by,
                action=action,
                run_id=run.run_id,
                study_id=key[0],
                visit=key[1],
                what=what,
                reason=combine_reason if action == "combine" else (user_reason or None),
                old_value=_dumps(_value(old)) if old is not None else None,
                new_value=_dumps({**_value(new), **({"loses": case} if case else {})}),
            )
        )
    session.flush()  # a new specimen's rows are written together, in one flush
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


def _purpose(sheet: dict[str, Any], row: dict[str, str]) -> str:
    """The sheet's purpose of a results row's specimen ("isr": an incurred-sample repeat)."""
    entries = [e for e in sheet.values() if (e.study_id, e.visit) == _key(row)]
    return "isr" if any(e.purpose == "isr" for e in entries) else ""


def _collection_date(sheet: dict[str, Any], row: dict[str, str]) -> str | None:
    """The sheet's collection date of a results row's specimen, if it gives one."""
    dates = [e.collection_date for e in sheet.values() if (e.study_id, e.visit) == _key(row)]
    return next((d for d in dates if d), None)


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
