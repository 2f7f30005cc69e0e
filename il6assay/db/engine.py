"""Connecting to the study database, and creating or migrating its schema.

A database is named by ``--db``, else ``IL6ASSAY_DB``, else the ``db`` key of
the working folder's ``il6assay.toml`` (``~`` expanded, a relative path relative
to that file: il6assay.project's one rule); nothing named is an error, never a
file made up in the folder one stands in. A plain path is a SQLite file; ``postgresql+psycopg://user@host/db``
is a PostgreSQL server. Only ``il6assay db upgrade`` creates a database: push,
results, history and export-redcap refuse one that does not exist or has no
schema, so a typo in ``--db`` never starts a second study database. The
schema is created and migrated by the Alembic migrations shipped in
``il6assay/db/migrations`` (no alembic.ini needed); a database is migrated
forward, never dropped, and one made by a newer il6assay is refused, naming
its version.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from il6assay.db import ENV_VAR  # defined without SQLAlchemy, for study.check
from il6assay.errors import InputError

CONNECT_TIMEOUT_S = 10
SQLITE_BUSY_TIMEOUT_S = 60
MIGRATIONS = "il6assay.db:migrations"
_PG_LOCK = 7_246_001  # advisory lock serialising concurrent migrations on PostgreSQL


def locate(db: str | None, cwd: Path | None = None) -> tuple[str, str]:
    """The database URL and what named it: ``--db``, $IL6ASSAY_DB or ./il6assay.toml's ``db``."""
    from il6assay.project import PROJECT_FILE, load_project

    value, source = load_project(cwd).database(db)  # the one rule (il6assay.project)
    if value is None:
        raise InputError(
            f"no study database named: give --db URL, set ${ENV_VAR}, or write "
            f'db = "study.db" in ./{PROJECT_FILE}'
        )
    return _url(value), source


def _url(value: str) -> str:
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().absolute()}"
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def resolve_url(db: str | None) -> str:
    """The database URL (see ``locate``; a path means SQLite)."""
    return locate(db)[0]


def describe(db: str | None) -> str:
    """The line saying which database a command uses and what named it (password hidden)."""
    url, source = locate(db)
    where = url[len("sqlite:///") :] if url.startswith("sqlite:///") else shown(url)
    return f"study database: {where} (from {source})"


def shown(url: str) -> str:
    """The URL as it may be printed: the password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def make_engine(db: str | None, *, must_exist: bool = False) -> Engine:
    """An engine for ``db`` (see ``resolve_url``); SQLite writes take the lock at BEGIN.

    Every session of the process chains what it writes (``il6assay.db.chain``).
    """
    from il6assay.db.chain import watch_sessions

    watch_sessions()
    url = resolve_url(db)
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except ArgumentError:
        raise InputError(
            f"cannot parse database URL {url!r} (expected a file path or "
            "postgresql+psycopg://user@host:port/dbname)"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise InputError(
            f"unsupported database {shown(url)} (use a SQLite file path or "
            "postgresql+psycopg://...)"
        )
    if backend == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:"):
            raise InputError("a SQLite database needs a file path, not memory")
        if must_exist and not Path(path).is_file():
            raise InputError(
                f"no study database at {path}: check the name, or create it with "
                f"il6assay db upgrade --db {path}"
            )
        if not Path(path).parent.is_dir():
            raise InputError(f"cannot create database {path}: its folder does not exist")
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}
        )
        _sqlite_transactions(engine)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        return create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except NoSuchModuleError:
        raise InputError(f"no driver for {shown(url)}: use postgresql+psycopg://...") from None
    except ImportError as err:
        raise InputError(f"the driver for {shown(url)} is not installed ({err})") from None


def _sqlite_transactions(engine: Engine) -> None:
    """Foreign keys on; a writer (``writer(engine)``) takes the lock at BEGIN, so writers queue."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("il6assay_writer", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The engine for a writing transaction (on SQLite: BEGIN IMMEDIATE, waiting for the lock)."""
    return engine.execution_options(il6assay_writer=True)


def unreachable(err: DBAPIError, engine: Engine) -> InputError:
    """A connection failure as one line (the driver's first line, the URL without password)."""
    first = str(err.orig).strip().splitlines()[0] if err.orig is not None else str(err)
    return InputError(f"cannot use database {shown(str(engine.url))}: {first}")


@functools.cache
def _script() -> Any:
    """The migrations, read once per process: each read compiles every revision's file."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def _config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return config


@functools.cache
def _revisions() -> tuple[str, tuple[str, ...]]:
    """The head and every revision, oldest first: read once per process (a read compiles them)."""
    script = _script()
    known = tuple(s.revision for s in reversed(list(script.walk_revisions())))
    return str(script.get_current_head()), known


def head_revision() -> str:
    """The newest schema version this il6assay knows."""
    return _revisions()[0]


def known_revisions() -> list[str]:
    """Every schema version this il6assay knows, oldest first."""
    return list(_revisions()[1])


def current_revision(connection: Any) -> str | None:
    """The schema version stamped in the database (None when it has none)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _check_known(revision: str | None, url: str) -> None:
    if revision is not None and revision not in known_revisions():
        raise InputError(
            f"database {shown(url)} has schema version {revision}, newer than this il6assay "
            f"(which knows up to {head_revision()}): upgrade il6assay"
        )


def upgrade(
    engine: Engine, target: str = "head", notes: list[str] | None = None
) -> tuple[str | None, str]:
    """Create or migrate the schema to ``target``; returns (version before, version after).

    At the newest schema, a database whose row chain is empty gets its chain started
    (``il6assay.db.chain.start_chain``): the key created outside the database, every
    existing row chained. What that did is added to ``notes``.
    """
    from il6assay.db.chain import start_chain
    from il6assay.db.chain_key import write_anchor

    started = None

    try:
        with writer(engine).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            before = current_revision(connection)
            _check_known(before, str(engine.url))
            if before is None and _has_tables(connection):
                raise InputError(
                    f"database {shown(str(engine.url))} has tables but no il6assay schema "
                    "version: not an il6assay database, left untouched"
                )
            _migrate(connection, target)
            after = current_revision(connection)
            if after == head_revision():
                started = start_chain(connection, engine.url.render_as_string(False))
    except DBAPIError as err:
        if err.connection_invalidated or _is_connect_error(err):
            raise unreachable(err, engine) from None
        raise
    if started is not None:
        path, seq, chain_hash, when, rows = started
        write_anchor(path, seq, chain_hash, when)
        if notes is not None:
            notes.append(
                f"row chain started: {rows} existing row(s) chained; its key is {path} "
                "(keep it outside the database, back it up)"
            )
    return before, str(after)


def _migrate(connection: Any, target: str) -> None:
    """Run the migrations up to ``target`` on ``connection``, in its transaction.

    What ``alembic upgrade`` does through an env.py, here in-process on the migrations read
    once per process (``_script``): no env.py to read and compile at every call.
    """
    from alembic.runtime.environment import EnvironmentContext

    from il6assay.db.models import Base

    script = _script()

    def steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs(target, revision)

    with EnvironmentContext(_config(), script, fn=steps, destination_rev=target) as env:
        env.configure(connection=connection, target_metadata=Base.metadata)
        with env.begin_transaction():
            env.run_migrations()


def _has_tables(connection: Any) -> bool:
    return bool(inspect(connection).get_table_names())


def _is_connect_error(err: DBAPIError) -> bool:
    """Whether the database cannot be used at all: unreachable (OperationalError), or a file
    that is not a database or is damaged (the driver's bare DatabaseError, e.g. SQLite's
    "file is not a database", "database disk image is malformed"). Any other error is a
    fault of ours and keeps its traceback."""
    from sqlalchemy.exc import DatabaseError, OperationalError

    return isinstance(err, OperationalError) or type(err) is DatabaseError


def require_current(connection: Any, url: str) -> None:
    """Refuse a database whose schema is not this il6assay's newest (naming both versions)."""
    revision = current_revision(connection)
    _check_known(revision, url)
    if revision is None:
        if _has_tables(connection):
            raise InputError(
                f"database {shown(url)} has tables but no il6assay schema version: "
                "not an il6assay database, left untouched"
            )
        raise InputError(
            f"database {shown(url)} holds no study database (no il6assay schema): check the "
            "name, or create it with il6assay db upgrade --db ..."
        )
    head = head_revision()
    if revision != head:
        raise InputError(
            f"database {shown(url)} has schema version {revision or 'none'}, this il6assay "
            f"needs {head}: run il6assay db upgrade --db ... first"
        )


def require_schema(engine: Engine) -> None:
    """Refuse a database without this il6assay's current schema (never creates one)."""
    try:
        with engine.connect() as connection:
            require_current(connection, str(engine.url))
    except DBAPIError as err:
        raise unreachable(err, engine) from None
