"""The database's own chain: every row of the study's tables, as written, keyed into one chain.

Each time a transaction writes a row of a chained table (every table of the
schema but the few in ``UNCHAINED``), an entry is appended to ``row_chain`` at
commit: the table, the row's id, what happened (insert, update, delete), the
SHA-256 of the row's stored values, and ``chain_hash`` = HMAC-SHA256 over those
and the previous entry's hash (``chain_prev``), under a key kept outside the
database (``il6assay.db.chain_key``). Nothing at the insert sites knows: a
session event does it, for every session of the process.

``il6assay.db.chain_check`` walks the chain and every chained row and names
each row that breaks it; docs/database.md says what that detects and what it
does not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, insert, select, text
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
    "web_run_index": "the review app's queue rows, copied from run folders and rewritten freely",
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
ENTRY = DbChainEntry.__table__


def chained_tables() -> list[Table]:
    """The tables whose rows are chained, in the schema's order."""
    return [t for t in Base.metadata.sorted_tables if t.name not in UNCHAINED]


CHAINED = {t.name: t for t in chained_tables()}


def url_of(bind: Any) -> str:
    """The URL (password kept: it names the key's file) of an engine or connection."""
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


def row_digests(connection: Any, table: Table, ids: list[int]) -> dict[int, str]:
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
        select(ENTRY.c.id, ENTRY.c.chain_hash).order_by(ENTRY.c.id.desc()).limit(1)
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
    connection.execute(insert(ENTRY), rows)
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
        if name in CHAINED:
            pending[(name, obj.id)] = INSERT
    for obj in session.dirty:
        name = obj.__table__.name
        if name in CHAINED and session.is_modified(obj, include_collections=False):
            pending.setdefault((name, obj.id), UPDATE)
    for obj in session.deleted:
        name = obj.__table__.name
        if name in CHAINED:
            if pending.get((name, obj.id)) == INSERT:
                del pending[(name, obj.id)]  # written and deleted in one transaction
            else:
                pending[(name, obj.id)] = DELETE


def note_inserted(session: Session, table: Table, ids: list[int]) -> None:
    """Chain rows inserted in bulk (a Core insert the session's flush does not see) at commit."""
    pending: dict[tuple[str, int], str] = session.info.setdefault(_PENDING, {})
    for row_id in ids:
        pending[(table.name, row_id)] = INSERT


def _before_commit(session: Session) -> None:
    """Chain the rows this transaction wrote, as they are stored, before it commits."""
    session.flush()
    pending: dict[tuple[str, int], str] = session.info.pop(_PENDING, {})
    if not pending:
        return
    connection = session.connection()
    url = url_of(connection)
    path = key_path(url)
    key = read_key(path)
    items = []
    for table in chained_tables():
        ids = sorted(i for (t, i) in pending if t == table.name)
        if not ids:
            continue
        stored = row_digests(connection, table, ids)
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
    if mapper is not None and mapper.local_table.name in CHAINED:
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
    if connection.execute(select(ENTRY.c.id).limit(1)).first() is not None:
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
