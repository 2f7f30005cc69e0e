"""The database's own chain: every row of the study's tables, as written, keyed into one chain.

Each time a transaction writes a row of a chained table (every table of the
schema but the few in ``UNCHAINED``), an entry is appended to ``row_chain`` at
commit: the table, the row's id, what happened (insert, update, delete), the
SHA-256 of the row's stored values, and ``chain_hash`` = HMAC-SHA256 over those
and the previous entry's hash (``chain_prev``), under a key kept outside the
database (``il6assay.db.chain_key``). Nothing at the insert sites knows: a
session event does it, for every session of the process.

``verify_chain`` walks the chain and every chained row and names each row
that breaks it: a row changed, inserted or deleted outside il6assay, an entry
edited, forged or deleted, a head shorter than the one anchored beside the key,
a missing append-only trigger. docs/database.md says what that detects and
what it does not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, event, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from il6assay.db.chain_key import (
    anchor_path,
    create_key,
    key_path,
    read_anchor,
    read_key,
    write_anchor,
)
from il6assay.db.models import Base, DbChainEntry
from il6assay.errors import InputError

CHAIN_TABLE = "row_chain"
# Tables left out of the chain, and why (every other table of the schema is chained).
UNCHAINED = {
    "web_sessions": "sign-in sessions: a cookie's hash and times, renewed on every page",
    "web_run_state": "a run's change counter, only a guard against two people deciding at once",
    CHAIN_TABLE: "the chain itself (append-only, each entry keyed to the one before)",
}
GENESIS = "0" * 64
START, INSERT, UPDATE, DELETE, UPGRADE = "start", "insert", "update", "delete", "upgrade"
# The append-only triggers the schema must still have, per backend.
TRIGGERS = {
    "sqlite": ("audit_no_update", "audit_no_delete", "row_chain_no_update", "row_chain_no_delete"),
    "postgresql": ("audit_append_only", "row_chain_append_only"),
}
_PG_CHAIN_LOCK = 7_246_009  # advisory lock: one writer at a time extends the chain
_PENDING = "il6assay_chain_pending"
_HEAD = "il6assay_chain_head"
_ENTRY = DbChainEntry.__table__


class ChainBroken(InputError):
    """The database's chain is broken: the message names the first row that breaks it."""


def chained_tables() -> list[Table]:
    """The tables whose rows are chained, in the schema's order."""
    return [t for t in Base.metadata.sorted_tables if t.name not in UNCHAINED]


_CHAINED = {t.name: t for t in chained_tables()}


def _url_of(bind: Any) -> str:
    engine = getattr(bind, "engine", bind)
    return engine.url.render_as_string(hide_password=False)


def row_sha256(table: Table, row: Any) -> str:
    """The SHA-256 of a row's stored values (NULLs left out, so a new NULL column changes none)."""
    values = {c.name: v for c, v in zip(table.columns, row, strict=True) if v is not None}
    data = json.dumps([table.name, values], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def entry_hash(key: bytes, prev: str, seq: int, entry: tuple[str, int, str, str, str]) -> str:
    """An entry's ``chain_hash``: HMAC-SHA256 of the previous hash, its number and its fields."""
    table_name, row_id, action, digest, when = entry
    message = f"{prev}|{seq}|{table_name}|{row_id}|{action}|{digest}|{when}"
    return hmac.digest(key, message.encode("utf-8"), "sha256").hex()


def _rows(connection: Any, table: Table, ids: list[int]) -> dict[int, str]:
    """The digests of the rows of ``table`` with these ids (those that exist)."""
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in connection.execute(select(table).where(table.c.id.in_(chunk))):
            out[row.id] = row_sha256(table, row)
    return out


def _append(
    connection: Any, key: bytes, items: list[tuple[str, int, str, str]], when: str
) -> tuple[int, str]:
    """Append entries (table, row id, action, digest) after the head; returns the new head."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
    head = connection.execute(
        select(_ENTRY.c.id, _ENTRY.c.chain_hash).order_by(_ENTRY.c.id.desc()).limit(1)
    ).first()
    if head is None and items[0][2] != START:
        raise InputError(
            "the study database's chain was never started: run il6assay db upgrade --db ..."
        )
    seq, prev = (head.id, head.chain_hash) if head is not None else (0, GENESIS)
    rows = []
    for table_name, row_id, action, digest in items:
        seq += 1
        chain_hash = entry_hash(key, prev, seq, (table_name, row_id, action, digest, when))
        rows.append(
            {
                "id": seq,
                "table_name": table_name,
                "row_id": row_id,
                "action": action,
                "row_sha256": digest,
                "time_utc": when,
                "chain_prev": prev,
                "chain_hash": chain_hash,
            }
        )
        prev = chain_hash
    connection.execute(insert(_ENTRY), rows)
    return seq, prev


def _now() -> str:
    from il6assay.record.audit import now_utc

    return now_utc()


# -- the session events: what a transaction wrote is chained when it commits --------------


def _after_flush(session: Session, _context: Any) -> None:
    """Note which chained rows the flush inserted, updated or deleted."""
    pending: dict[tuple[str, int], str] = session.info.setdefault(_PENDING, {})
    for obj in session.new:
        name = obj.__table__.name
        if name in _CHAINED:
            pending[(name, obj.id)] = INSERT
    for obj in session.dirty:
        name = obj.__table__.name
        if name in _CHAINED and session.is_modified(obj, include_collections=False):
            pending.setdefault((name, obj.id), UPDATE)
    for obj in session.deleted:
        name = obj.__table__.name
        if name in _CHAINED:
            if pending.get((name, obj.id)) == INSERT:
                del pending[(name, obj.id)]  # written and deleted in one transaction
            else:
                pending[(name, obj.id)] = DELETE


def _before_commit(session: Session) -> None:
    """Chain the rows this transaction wrote, as they are stored, before it commits."""
    session.flush()
    pending: dict[tuple[str, int], str] = session.info.pop(_PENDING, {})
    if not pending:
        return
    connection = session.connection()
    url = _url_of(connection)
    path = key_path(url)
    key = read_key(path)
    items = []
    for table in chained_tables():
        ids = sorted(i for (t, i) in pending if t == table.name)
        if not ids:
            continue
        stored = _rows(connection, table, ids)
        for row_id in ids:
            action = pending[(table.name, row_id)]
            if action == DELETE:
                items.append((table.name, row_id, DELETE, ""))
            elif row_id in stored:
                items.append((table.name, row_id, action, stored[row_id]))
    if not items:
        return
    when = _now()
    seq, chain_hash = _append(connection, key, items, when)
    session.info[_HEAD] = (path, seq, chain_hash, when)


def _after_commit(session: Session) -> None:
    """Anchor the new head beside the key (best effort: the data is committed already)."""
    head = session.info.pop(_HEAD, None)
    if head is not None:
        write_anchor(*head)


def _after_soft_rollback(session: Session, previous: Any) -> None:
    """Forget what a rolled-back transaction wrote (the outermost one: nothing of it is kept)."""
    if getattr(previous, "parent", None) is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_HEAD, None)


def _no_bulk_writes(state: Any) -> None:
    """Refuse an ORM bulk UPDATE/DELETE/INSERT of a chained table: it would bypass the chain."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.local_table.name in _CHAINED:
        raise RuntimeError(
            f"bulk write to chained table {mapper.local_table.name}: use the ORM unit of work "
            "(session.add / attribute changes) so the row chain sees it"
        )


_EVENTS = (
    ("after_flush", _after_flush),
    ("before_commit", _before_commit),
    ("after_commit", _after_commit),
    ("after_soft_rollback", _after_soft_rollback),
    ("do_orm_execute", _no_bulk_writes),
)


def watch_sessions() -> None:
    """Chain what every SQLAlchemy session of this process writes (idempotent)."""
    for name, fn in _EVENTS:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


# -- starting the chain (db upgrade) ------------------------------------------------------


def start_chain(connection: Any, url: str) -> tuple[Path, int, str, str, int] | None:
    """Start the chain of a database whose ``row_chain`` is empty: the key, then every row.

    Rows already in the database are chained as they stand ("chained from the upgrade
    on"), with action ``upgrade``. Returns (key path, head seq, head hash, time, rows
    chained), or None when the chain was started before. Refused when an anchor beside
    the key shows a chain this database no longer has.
    """
    if connection.execute(select(_ENTRY.c.id).limit(1)).first() is not None:
        return None
    path = key_path(url)
    anchored = read_anchor(path) if path.exists() else None
    if anchored is not None and anchored["seq"] > 0:
        raise InputError(
            f"the chain anchor {anchor_path(path)} records {anchored['seq']} entries, but this "
            "database's chain is empty: its chain was deleted, or the key and anchor belong to "
            "another database (move them away to start a new chain)"
        )
    create_key(path)
    key = read_key(path)
    items: list[tuple[str, int, str, str]] = [("", 0, START, hashlib.sha256(b"").hexdigest())]
    for table in chained_tables():
        for row in connection.execute(select(table).order_by(table.c.id)):
            items.append((table.name, row.id, UPGRADE, row_sha256(table, row)))
    when = _now()
    seq, chain_hash = _append(connection, key, items, when)
    return path, seq, chain_hash, when, len(items) - 1


# -- checking ---------------------------------------------------------------------------


@dataclass
class ChainReport:
    """What ``verify_chain`` found: the chain's size, its anchor, and each row that breaks it."""

    entries: int = 0
    rows: int = 0
    tables: int = 0
    key: Path | None = None
    anchor: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """Whether nothing breaks the chain."""
        return not self.problems


def _label(table: Table, row: Any) -> str:
    """A row named for a person: its table and id, and what identifies it."""
    parts = [
        str(getattr(row, c))
        for c in ("run_id", "study_id", "visit", "username", "action", "level", "well", "name")
        if c in table.c and getattr(row, c, None) not in (None, "")
    ]
    return f"{table.name} #{row.id}" + (f" ({' '.join(parts)})" if parts else "")


def _walk_entries(
    connection: Any, key: bytes, report: ChainReport, anchor: dict[str, Any] | None
) -> dict[tuple[str, int], Any]:
    """Check every entry's number, link and hash; returns each row's latest entry."""
    latest: dict[tuple[str, int], Any] = {}
    prev, expected = GENESIS, 1
    anchored_hash = None
    columns = _ENTRY.c
    query = select(
        columns.id,
        columns.table_name,
        columns.row_id,
        columns.action,
        columns.row_sha256,
        columns.time_utc,
        columns.chain_prev,
        columns.chain_hash,
    ).order_by(columns.id)
    for e in connection.execute(query):
        report.entries += 1
        what = f"{e.table_name} #{e.row_id}" if e.table_name else "the chain's start"
        if e.id != expected:
            gap = f"#{expected}" if e.id == expected + 1 else f"#{expected}-#{e.id - 1}"
            report.problems.append(f"{CHAIN_TABLE} {gap}: entries deleted (before #{e.id})")
        elif e.chain_prev != prev:
            report.problems.append(
                f"{CHAIN_TABLE} #{e.id} (for {what}): does not follow entry #{e.id - 1} "
                "(one of them was changed)"
            )
        fields = (e.table_name, e.row_id, e.action, e.row_sha256, e.time_utc)
        if not hmac.compare_digest(entry_hash(key, e.chain_prev, e.id, fields), e.chain_hash):
            report.problems.append(
                f"{CHAIN_TABLE} #{e.id} (for {what}): changed or forged (its keyed hash "
                "does not match)"
            )
        if anchor is not None and e.id == anchor["seq"]:
            anchored_hash = e.chain_hash
        prev, expected = e.chain_hash, e.id + 1
        if e.table_name:
            latest[(e.table_name, e.row_id)] = e
    if report.entries == 0:
        report.problems.append(
            f"{CHAIN_TABLE}: empty, the chain was never started (il6assay db upgrade) or deleted"
        )
    if anchor is not None:
        if expected - 1 < anchor["seq"]:
            report.problems.append(
                f"{CHAIN_TABLE}: ends at entry #{expected - 1} but was anchored at "
                f"#{anchor['seq']} ({anchor.get('time_utc', '?')}): the last entries, and the "
                "rows they chained, were deleted"
            )
        elif anchored_hash is not None and anchored_hash != anchor.get("chain_hash"):
            report.problems.append(
                f"{CHAIN_TABLE} #{anchor['seq']}: not the entry anchored on "
                f"{anchor.get('time_utc', '?')} (the chain was rewritten)"
            )
    return latest


def _check_rows(
    connection: Any, table: Table, latest: dict[tuple[str, int], Any], report: ChainReport
) -> None:
    """Check every row of ``table`` against its latest entry (and pop what was seen)."""
    for row in connection.execute(select(table).order_by(table.c.id)):
        report.rows += 1
        entry = latest.pop((table.name, row.id), None)
        if entry is None or entry.action == DELETE:
            report.problems.append(
                f"{_label(table, row)}: not in the chain (written outside il6assay)"
            )
        elif row_sha256(table, row) != entry.row_sha256:
            report.problems.append(
                f"{_label(table, row)}: changed outside il6assay since chain entry #{entry.id}"
            )


def _check_triggers(connection: Any, report: ChainReport) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    present = set(connection.execute(text(query)).scalars())
    for name in TRIGGERS.get(dialect, ()):
        if name not in present:
            table = "audit" if name.startswith("audit") else CHAIN_TABLE
            report.problems.append(f"{table}: append-only trigger {name} is missing (dropped)")


def verify_chain(engine: Engine, *, anchor_head: bool = True) -> ChainReport:
    """Walk the whole chain and every chained row; a clean walk anchors the head beside the key."""
    from il6assay.db.engine import require_current, unreachable

    path = key_path(_url_of(engine))
    report = ChainReport(key=path)
    try:
        with engine.connect() as connection:
            require_current(connection, str(engine.url))
            key = read_key(path)
            report.anchor = read_anchor(path)
            latest = _walk_entries(connection, key, report, report.anchor)
            head = connection.execute(
                select(_ENTRY.c.id, _ENTRY.c.chain_hash, _ENTRY.c.time_utc)
                .order_by(_ENTRY.c.id.desc())
                .limit(1)
            ).first()
            for table in chained_tables():
                report.tables += 1
                _check_rows(connection, table, latest, report)
            for (table_name, row_id), entry in sorted(latest.items(), key=lambda kv: kv[1].id):
                if entry.action != DELETE:
                    report.problems.append(
                        f"{table_name} #{row_id}: deleted outside il6assay (chained as entry "
                        f"#{entry.id})"
                    )
            _check_triggers(connection, report)
    except DBAPIError as err:
        raise unreachable(err, engine) from None
    if report.intact and anchor_head and head is not None:
        write_anchor(path, head.id, head.chain_hash, head.time_utc)
    return report


def require_intact(engine: Engine) -> None:
    """Refuse (ChainBroken, naming the first row) to read from a database whose chain is broken."""
    report = verify_chain(engine, anchor_head=False)
    if not report.intact:
        more = len(report.problems) - 1
        raise ChainBroken(
            f"the study database's chain is broken: {report.problems[0]}"
            + (f" (and {more} more)" if more else "")
            + "; nothing shown (il6assay db verify names every row)"
        )


def check_rows(session: Session, table_name: str, ids: list[int]) -> None:
    """Refuse (ChainBroken) rows of ``table_name`` that are not as their keyed chain entries say.

    A focused check for a page showing a few rows (the review app's signatures and
    audit events): each row's latest entry, its keyed hash, and the row's values.
    ``il6assay db verify`` walks the whole chain.
    """
    if not ids:
        return
    table = _CHAINED[table_name]
    connection = session.connection()
    key = read_key(key_path(_url_of(connection)))
    stored = _rows(connection, table, sorted(ids))
    latest: dict[int, Any] = {}
    for start in range(0, len(ids), 500):
        chunk = sorted(ids)[start : start + 500]
        for e in connection.execute(
            select(_ENTRY)
            .where(_ENTRY.c.table_name == table_name, _ENTRY.c.row_id.in_(chunk))
            .order_by(_ENTRY.c.id)
        ):
            fields = (e.table_name, e.row_id, e.action, e.row_sha256, e.time_utc)
            if not hmac.compare_digest(entry_hash(key, e.chain_prev, e.id, fields), e.chain_hash):
                raise ChainBroken(
                    f"the study database's chain is broken: {CHAIN_TABLE} #{e.id} (for "
                    f"{table_name} #{e.row_id}) was changed or forged; il6assay db verify"
                )
            latest[e.row_id] = e
    for row_id in sorted(ids):
        entry = latest.get(row_id)
        if entry is None or entry.action == DELETE or stored.get(row_id) != entry.row_sha256:
            what = "not in the chain" if entry is None else "changed outside il6assay"
            raise ChainBroken(
                f"the study database's chain is broken: {table_name} #{row_id} is {what}; "
                "nothing shown as good (il6assay db verify names every row)"
            )
