"""The database schema (SQLAlchemy 2): runs, curves, wells, results, dilutions and the audit trail.

The migrations in ``il6assay/db/migrations/versions`` create exactly this
schema (a test compares them); change both together, with a new migration.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CURRENT = "current"
SUPERSEDED = "superseded"


class Base(DeclarativeBase):
    """Declarative base of every table."""


def _skeleton_of(context: Any) -> str | None:
    """The skeleton of the study ID being inserted (a column default)."""
    from il6assay.plate.study_ids import skeleton

    study_id = context.get_current_parameters().get("study_id")
    return skeleton(study_id) if study_id else None


class DbRun(Base):
    """One pushed run (a run folder at one content version)."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("run_id", "content_sha256", name="uq_runs_run_content"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(200), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    plate_id: Mapped[str | None] = mapped_column(String(200))
    export_sha256: Mapped[str | None] = mapped_column(String(64))
    reader: Mapped[str | None] = mapped_column(String(100))
    reader_metadata: Mapped[str | None] = mapped_column(Text)
    kit_lot: Mapped[str | None] = mapped_column(String(200))
    settings: Mapped[str] = mapped_column(Text)
    accepted_by_rules: Mapped[bool] = mapped_column(Boolean)
    verdict: Mapped[str] = mapped_column(Text)
    review_status: Mapped[str] = mapped_column(String(20))
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_utc: Mapped[str | None] = mapped_column(String(40))
    review_override: Mapped[bool] = mapped_column(Boolean)
    tool_version: Mapped[str | None] = mapped_column(String(40))
    created_utc: Mapped[str | None] = mapped_column(String(40))
    pushed_utc: Mapped[str] = mapped_column(String(40))
    pushed_os_account: Mapped[str] = mapped_column(String(200))
    pushed_by: Mapped[str | None] = mapped_column(String(200))
    run_json: Mapped[str] = mapped_column(Text)


class DbCurve(Base):
    """The standard curve of a pushed run."""

    __tablename__ = "curves"
    __table_args__ = (UniqueConstraint("run_pk", name="uq_curves_run"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    model: Mapped[str | None] = mapped_column(String(20))
    weighting: Mapped[str | None] = mapped_column(String(20))
    params: Mapped[str] = mapped_column(Text)
    stderr: Mapped[str | None] = mapped_column(Text)
    covariance: Mapped[str | None] = mapped_column(Text)
    lloq_pg_ml: Mapped[float | None] = mapped_column(Float)
    uloq_pg_ml: Mapped[float | None] = mapped_column(Float)
    curve_json: Mapped[str] = mapped_column(Text)


class DbWell(Base):
    """One well of a pushed run, as wells.csv has it."""

    __tablename__ = "wells"
    __table_args__ = (UniqueConstraint("run_pk", "well", name="uq_wells_run_well"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    well: Mapped[str] = mapped_column(String(10))
    role: Mapped[str | None] = mapped_column(String(20))
    level: Mapped[str | None] = mapped_column(String(40))
    sample: Mapped[str | None] = mapped_column(String(200))
    dilution: Mapped[float | None] = mapped_column(Float)
    nominal_pg_ml: Mapped[float | None] = mapped_column(Float)
    reads: Mapped[str] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(40))
    od: Mapped[float | None] = mapped_column(Float)
    conc_pg_ml: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[str | None] = mapped_column(Text)


class DbResult(Base):
    """One specimen's result (study ID and visit) from one run; at most one current per key."""

    __tablename__ = "sample_results"
    __table_args__ = (
        Index(
            "uq_results_current",
            "study_id",
            "visit",
            unique=True,
            sqlite_where=text("status = 'current'"),
            postgresql_where=text("status = 'current'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    study_id: Mapped[str] = mapped_column(String(200), index=True)
    visit: Mapped[str] = mapped_column(String(100))
    sample: Mapped[str | None] = mapped_column(String(200))
    dilution: Mapped[str | None] = mapped_column(String(40))
    n_wells: Mapped[int | None] = mapped_column(Integer)
    od_mean: Mapped[float | None] = mapped_column(Float)
    conc_pg_ml: Mapped[float | None] = mapped_column(Float)
    result: Mapped[str] = mapped_column(String(40))
    ci_low_pg_ml: Mapped[float | None] = mapped_column(Float)
    ci_high_pg_ml: Mapped[float | None] = mapped_column(Float)
    lloq_pg_ml: Mapped[float | None] = mapped_column(Float)
    uloq_pg_ml: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[str] = mapped_column(Text)
    advice: Mapped[str | None] = mapped_column(Text)
    wells: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("sample_results.id"))
    supersede_reason: Mapped[str | None] = mapped_column(Text)
    superseded_utc: Mapped[str | None] = mapped_column(String(40))
    # Added by migration 0002.
    conc_cv_pct: Mapped[float | None] = mapped_column(Float)
    dilutions: Mapped[str | None] = mapped_column(Text)
    # Added by migration 0003: the run ids (space-separated) whose dilution rows made the result.
    source_runs: Mapped[str | None] = mapped_column(Text)
    # Added by migration 0004: the study ID's spelling key (il6assay.plate.samples.spelling_key).
    study_key: Mapped[str | None] = mapped_column(String(200), index=True)
    # Added by migration 0011: the specimen's collection date, from the sample sheet when given.
    collection_date: Mapped[str | None] = mapped_column(String(40))
    # Added by migration 0012: the study ID's TR39 skeleton (il6assay.plate.study_ids.skeleton),
    # set on every insert, so the look-alike check is one indexed lookup (NULL: rows from before).
    study_skeleton: Mapped[str | None] = mapped_column(
        String(200), index=True, default=_skeleton_of
    )


class DbDilution(Base):
    """One sample label at one dilution from one run (a dilutions.csv row); one current per key.

    The key is the specimen (study ID and visit) and the dilution: a second
    plate bringing the specimen at another dilution adds a row that the
    specimen's ``sample_results`` row combines; at the same dilution it is a
    re-assay that supersedes the row.
    """

    __tablename__ = "dilution_results"
    __table_args__ = (
        Index(
            "uq_dilutions_current",
            "study_id",
            "visit",
            "dilution",
            unique=True,
            sqlite_where=text("status = 'current'"),
            postgresql_where=text("status = 'current'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    study_id: Mapped[str] = mapped_column(String(200), index=True)
    visit: Mapped[str] = mapped_column(String(100))
    sample: Mapped[str | None] = mapped_column(String(200))
    dilution: Mapped[float] = mapped_column(Float)
    result: Mapped[str] = mapped_column(String(40))
    conc_pg_ml: Mapped[float | None] = mapped_column(Float)
    ci_low_pg_ml: Mapped[float | None] = mapped_column(Float)
    ci_high_pg_ml: Mapped[float | None] = mapped_column(Float)
    od_mean: Mapped[float | None] = mapped_column(Float)
    conc_cv_pct: Mapped[float | None] = mapped_column(Float)
    lloq_pg_ml: Mapped[float | None] = mapped_column(Float)
    uloq_pg_ml: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[str] = mapped_column(Text)
    advice: Mapped[str | None] = mapped_column(Text)
    wells: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("dilution_results.id"))
    supersede_reason: Mapped[str | None] = mapped_column(Text)
    superseded_utc: Mapped[str | None] = mapped_column(String(40))


class DbAudit(Base):
    """The append-only audit trail: who, when, what, why, old and new values (never updated)."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time_utc: Mapped[str] = mapped_column(String(40))
    os_account: Mapped[str] = mapped_column(String(200))
    by_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    run_id: Mapped[str | None] = mapped_column(String(200), index=True)
    study_id: Mapped[str | None] = mapped_column(String(200), index=True)
    visit: Mapped[str | None] = mapped_column(String(100))
    what: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)


class DbQcRun(Base):
    """One processed run's QC figures, accepted or not: what the control and standard trends read.

    Added by migration 0005. Written by ``process``/``batch`` when a study database is
    configured and by ``controls --record RUN_DIR``, for every verdict (the ``runs``
    table holds pushed, accepted runs only): rejected runs are charted hollow.
    """

    __tablename__ = "qc_runs"
    __table_args__ = (UniqueConstraint("run_id", name="uq_qc_runs_run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(200))
    plate_id: Mapped[str | None] = mapped_column(String(200))
    export_file: Mapped[str | None] = mapped_column(Text)
    kit_lot: Mapped[str | None] = mapped_column(String(200))
    run_time: Mapped[str] = mapped_column(String(40), index=True)
    time_source: Mapped[str] = mapped_column(String(20))
    processed_utc: Mapped[str | None] = mapped_column(String(40))
    accepted_by_rules: Mapped[bool] = mapped_column(Boolean)
    verdict: Mapped[str] = mapped_column(Text)
    review_status: Mapped[str] = mapped_column(String(20))
    westgard: Mapped[str | None] = mapped_column(Text)
    top_standard_level: Mapped[str | None] = mapped_column(String(40))
    top_standard_pg_ml: Mapped[float | None] = mapped_column(Float)
    top_standard_od: Mapped[float | None] = mapped_column(Float)
    curve_c: Mapped[float | None] = mapped_column(Float)
    lloq_pg_ml: Mapped[float | None] = mapped_column(Float)
    uloq_pg_ml: Mapped[float | None] = mapped_column(Float)
    recorded_utc: Mapped[str] = mapped_column(String(40))
    recorded_os_account: Mapped[str] = mapped_column(String(200))
    # Added by migration 0008: the raw export's SHA-256, so a verdict binds every run of it.
    export_sha256: Mapped[str | None] = mapped_column(String(64), index=True)


class DbQcControl(Base):
    """One control level of one run in ``qc_runs``: the mean of its wells' concentrations."""

    __tablename__ = "qc_controls"
    __table_args__ = (UniqueConstraint("qc_run_pk", "level", name="uq_qc_controls_run_level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    qc_run_pk: Mapped[int] = mapped_column(ForeignKey("qc_runs.id"), index=True)
    level: Mapped[str] = mapped_column(String(40))
    nominal_pg_ml: Mapped[float | None] = mapped_column(Float)
    value_pg_ml: Mapped[float | None] = mapped_column(Float)
    n_wells: Mapped[int] = mapped_column(Integer)
    n_values: Mapped[int] = mapped_column(Integer)
    wells: Mapped[str | None] = mapped_column(Text)


# Added by migration 0006: the web review's accounts, sessions, signatures and settings.


class DbAccount(Base):
    """A named account of the review app: one role, an argon2 password hash, lockout state."""

    __tablename__ = "web_accounts"
    __table_args__ = (UniqueConstraint("username", name="uq_web_accounts_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    printed_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean)
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until_utc: Mapped[str | None] = mapped_column(String(40))
    created_utc: Mapped[str] = mapped_column(String(40))
    password_changed_utc: Mapped[str] = mapped_column(String(40))
    # Added by migration 0014: the review app's language the person chose (None: the site's).
    language: Mapped[str | None] = mapped_column(String(16))


class DbSession(Base):
    """A signed-in browser session: only the SHA-256 of its cookie is stored."""

    __tablename__ = "web_sessions"
    __table_args__ = (UniqueConstraint("token_sha256", name="uq_web_sessions_token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("web_accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_utc: Mapped[str] = mapped_column(String(40))
    last_seen_utc: Mapped[str] = mapped_column(String(40))
    ended_utc: Mapped[str | None] = mapped_column(String(40))


class DbRunState(Base):
    """A run's change counter: each mask, unmask or signature moves it on by one, atomically."""

    __tablename__ = "web_run_state"
    __table_args__ = (UniqueConstraint("run_id", name="uq_web_run_state_run"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    updated_utc: Mapped[str] = mapped_column(String(40))


class DbSignature(Base):
    """An electronic signature on a review decision (21 CFR 11.50): never updated or deleted."""

    __tablename__ = "web_signatures"
    __table_args__ = (UniqueConstraint("run_id", "run_version", name="uq_web_signatures_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(200), index=True)
    run_version: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("web_accounts.id"))
    username: Mapped[str] = mapped_column(String(100))
    printed_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    decision: Mapped[str] = mapped_column(String(20))
    meaning: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    override: Mapped[bool] = mapped_column(Boolean)
    signed_utc: Mapped[str] = mapped_column(String(40))
    signed_local: Mapped[str] = mapped_column(String(40))
    separation: Mapped[str] = mapped_column(Text)
    audit_entry: Mapped[str] = mapped_column(Text)
    # Added by migration 0008: the raw export's SHA-256, so a rejection binds every run of it.
    export_sha256: Mapped[str | None] = mapped_column(String(64), index=True)


class DbWebSetting(Base):
    """A setting of the review app (the separation-of-duties policy); changes are audited."""

    __tablename__ = "web_settings"
    __table_args__ = (UniqueConstraint("name", name="uq_web_settings_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(Text)
    changed_utc: Mapped[str] = mapped_column(String(40))
    changed_by: Mapped[str] = mapped_column(String(200))


class DbMethodProfile(Base):
    """A validated method profile adopted by an account (issue 24): superseded, never changed.

    ``profile`` is the canonical JSON of what processing enforces; ``sha256`` its hash.
    """

    __tablename__ = "method_profiles"
    __table_args__ = (UniqueConstraint("sha256", name="uq_method_profiles_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(Text)
    validation_sha256: Mapped[str] = mapped_column(String(64))
    report_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # current or superseded
    adopted_by: Mapped[str] = mapped_column(String(100))
    printed_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    adopted_utc: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    superseded_by: Mapped[int | None] = mapped_column(Integer)
    superseded_utc: Mapped[str | None] = mapped_column(String(40))


# Added by migration 0009: the database's own chain (il6assay.db.chain).


class DbChainEntry(Base):
    """One entry of the row chain: a row of a chained table as written, keyed to the one before.

    ``chain_hash`` is HMAC-SHA256, under a key kept outside the database, of the entry's
    fields and ``chain_prev`` (the previous entry's hash). Append-only (triggers).
    """

    __tablename__ = "row_chain"
    __table_args__ = (Index("ix_row_chain_row", "table_name", "row_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    row_sha256: Mapped[str] = mapped_column(String(64))
    time_utc: Mapped[str] = mapped_column(String(40))
    chain_prev: Mapped[str] = mapped_column(String(64))
    chain_hash: Mapped[str] = mapped_column(String(64))


# Added by migration 0011: the study roster, incurred-sample reanalysis and kit-lot bridges.


class DbSubject(Base):
    """An enrolled study subject (``il6assay subjects import``); rows are added, never dropped."""

    __tablename__ = "study_subjects"
    __table_args__ = (UniqueConstraint("study_id", name="uq_study_subjects_study_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(String(200))
    skeleton: Mapped[str] = mapped_column(String(200), index=True)
    site: Mapped[str | None] = mapped_column(String(200))
    enrolled_date: Mapped[str | None] = mapped_column(String(40))
    imported_utc: Mapped[str] = mapped_column(String(40))
    imported_os_account: Mapped[str] = mapped_column(String(200))
    imported_by: Mapped[str | None] = mapped_column(String(200))
    source_sha256: Mapped[str] = mapped_column(String(64))


class DbIsr(Base):
    """An incurred-sample repeat (sheet ``purpose = isr``), stored beside its original result."""

    __tablename__ = "isr_results"
    __table_args__ = (UniqueConstraint("run_pk", "study_id", "visit", name="uq_isr_run_specimen"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    study_id: Mapped[str] = mapped_column(String(200), index=True)
    visit: Mapped[str] = mapped_column(String(100))
    sample: Mapped[str | None] = mapped_column(String(200))
    dilution: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(40))
    conc_pg_ml: Mapped[float | None] = mapped_column(Float)
    lloq_pg_ml: Mapped[float | None] = mapped_column(Float)
    uloq_pg_ml: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[str] = mapped_column(Text)
    original_result_pk: Mapped[int] = mapped_column(ForeignKey("sample_results.id"))
    stored_utc: Mapped[str] = mapped_column(String(40))


class DbLotBridge(Base):
    """A kit-lot bridging decision: new/old ratio, its 90 % interval, verdict, who signed it."""

    __tablename__ = "lot_bridges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    old_lot: Mapped[str] = mapped_column(String(200), index=True)
    new_lot: Mapped[str] = mapped_column(String(200), index=True)
    old_run_id: Mapped[str] = mapped_column(String(200))
    new_run_id: Mapped[str] = mapped_column(String(200))
    n_pairs: Mapped[int] = mapped_column(Integer)
    ratio: Mapped[float] = mapped_column(Float)
    ci90_low: Mapped[float] = mapped_column(Float)
    ci90_high: Mapped[float] = mapped_column(Float)
    limit_low: Mapped[float] = mapped_column(Float)
    limit_high: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    pairs: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("web_accounts.id"))
    signed_by: Mapped[str] = mapped_column(String(200))
    signed_utc: Mapped[str] = mapped_column(String(40))
    signed_os_account: Mapped[str] = mapped_column(String(200))


# Added by migration 0012: what push and verify --db verified, so no run is processed twice.


class DbVerifiedRun(Base):
    """A run folder verified by recomputation: its inputs, settings and tools, and the outputs.

    ``key_sha256`` hashes what processing depends on (the input copies' hashes, the
    settings and masked wells, run.json's tool and library versions, the report's
    options) and the il6assay and library versions that verified it; ``outputs_sha256``
    and ``record_sha256`` are the outputs and the processing fields of run.json found
    to be what those inputs give (``il6assay.record.verify``). Rows are only added.
    """

    __tablename__ = "verified_runs"
    __table_args__ = (UniqueConstraint("key_sha256", "record_sha256", name="uq_verified_runs"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_sha256: Mapped[str] = mapped_column(String(64), index=True)
    record_sha256: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(200), index=True)
    outputs_sha256: Mapped[str] = mapped_column(Text)
    verified_by_version: Mapped[str] = mapped_column(String(40))
    verified_utc: Mapped[str] = mapped_column(String(40))
    verified_os_account: Mapped[str] = mapped_column(String(200))
    verified_for: Mapped[str] = mapped_column(String(20))  # "push" or "verify"


class DbRunIndex(Base):
    """A run folder's queue row, copied from its run.json: what the review app lists and filters.

    Derived, never the record (the run folder is): rewritten whenever run.json changes
    (its size, time or inode: ``stamp``), so the queue never reads the folders.
    """

    __tablename__ = "web_run_index"
    __table_args__ = (
        UniqueConstraint("run_id", name="uq_web_run_index_run"),
        Index("ix_web_run_index_queue", "root", "review", "queue_rank", "created_utc", "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(200))
    root: Mapped[str] = mapped_column(Text)
    folder: Mapped[str] = mapped_column(Text)
    stamp: Mapped[str] = mapped_column(String(100))
    created_utc: Mapped[str] = mapped_column(String(40))
    plate_id: Mapped[str] = mapped_column(String(200))
    kit_lot: Mapped[str] = mapped_column(String(200))
    accepted: Mapped[bool] = mapped_column(Boolean)
    failed: Mapped[str] = mapped_column(Text)
    warning: Mapped[str] = mapped_column(Text)
    review: Mapped[str] = mapped_column(String(40))
    processed_by: Mapped[str] = mapped_column(String(200))
    # The queue's order: 2 rejected by the rules, 1 a Westgard warning, 0 the rest.
    queue_rank: Mapped[int] = mapped_column(Integer)
    indexed_utc: Mapped[str] = mapped_column(String(40))
