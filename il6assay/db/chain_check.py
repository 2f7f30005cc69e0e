"""Checking the database's own chain (``il6assay db verify``): every entry, every chained row.

``verify_chain`` walks the chain and every row of the chained tables and names
each row that breaks it: a row changed, inserted or deleted outside il6assay,
an entry edited, forged or deleted, a head shorter than the one anchored beside
the key, a missing append-only trigger. ``require_intact`` and ``check_rows``
refuse to show what a broken chain holds (``results``, the review app).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from il6assay.db.chain import (
    CHAIN_TABLE,
    CHAINED,
    DELETE,
    ENTRY,
    GENESIS,
    TRIGGERS,
    chained_tables,
    entry_hash,
    row_digests,
    row_sha256,
    url_of,
)
from il6assay.db.chain_key import key_path, read_anchor, read_key, write_anchor
from il6assay.db.engine import require_current, unreachable
from il6assay.errors import InputError


class ChainBroken(InputError):
    """The database's chain is broken: the message names the first row that breaks it."""


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
    columns = ENTRY.c
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
    path = key_path(url_of(engine))
    report = ChainReport(key=path)
    try:
        with engine.connect() as connection:
            require_current(connection, str(engine.url))
            key = read_key(path)
            report.anchor = read_anchor(path)
            latest = _walk_entries(connection, key, report, report.anchor)
            head = connection.execute(
                select(ENTRY.c.id, ENTRY.c.chain_hash, ENTRY.c.time_utc)
                .order_by(ENTRY.c.id.desc())
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
    table = CHAINED[table_name]
    connection = session.connection()
    key = read_key(key_path(url_of(connection)))
    stored = row_digests(connection, table, sorted(ids))
    latest: dict[int, Any] = {}
    for start in range(0, len(ids), 500):
        chunk = sorted(ids)[start : start + 500]
        for e in connection.execute(
            select(ENTRY)
            .where(ENTRY.c.table_name == table_name, ENTRY.c.row_id.in_(chunk))
            .order_by(ENTRY.c.id)
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
