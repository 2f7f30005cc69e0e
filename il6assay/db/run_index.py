"""The run index: one row per served run folder (table ``web_run_index``), copied from run.json.

The review app's queue lists, filters, sorts and pages these rows in the
database, so a page costs the same at 20 runs or 2,000. A row is a copy, never
the record: the run folder is. Each row keeps its run.json's ``stamp`` (size,
modification time and inode: an edit or an atomic replace changes it).

The change check (``refresh``) costs what changed, not the study: on a queue
page it stats each root, and the root's change journal
(``il6assay.record.changes``, where review, mask, repair and the app's
signatures name the run they changed); a root whose own time moved (a run
added, removed or replaced whole) is listed again (one directory read, no
``stat`` per run) and only folders that are new, gone or replaced are read.
Runs the journal names are looked at on every page for ``HOT_S`` seconds (the
note is written just before the run.json it announces). Every run folder's
run.json is stat-ed again at most every ``FULL_CHECK_S`` (a change made by hand,
which no journal names), and whenever ``refresh`` is called without
``at_most_every``; a run's page re-checks its own folder (``refresh_run``).
Rows are shared by every server process on the same database.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from il6assay.db.engine import writer
from il6assay.db.models import DbRunIndex
from il6assay.errors import InputError

CHUNK = 500
SHOWN = (
    "run_id", "created_utc", "plate_id", "kit_lot", "accepted", "failed", "warning", "review",
    "processed_by",
)  # fmt: skip
FULL_CHECK_S = 300.0  # every run folder stat-ed at most this often (a change made by hand)
HOT_S = 10.0  # a run named in a change journal is looked at on every page for this long
_LOCK = threading.Lock()
# Per process: (database URL, root) -> run id -> (folder, stamp), as last written or read.
_KNOWN: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
_GENERATION = [0]  # moved on each time this process rewrites index rows
_LOTS: dict[tuple[Any, ...], list[str]] = {}
# Per process: (database URL, roots) -> when they were last checked whole, and their stamps.
_CHECKED: dict[tuple[str, tuple[str, ...]], tuple[float, tuple[Any, ...]]] = {}
# Per process: (database URL, root) -> what the quick check last saw there: the root's
# folders (name -> inode, from one directory read), the journal's offset and runs named
# in it lately (name -> until when, monotonic).
_SEEN: dict[tuple[str, str], dict[str, Any]] = {}


@dataclass(frozen=True)
class Found:
    """A served run folder as the change check sees it."""

    run_id: str
    root: str
    folder: str
    stamp: str


def _stamp(path: str) -> str | None:
    """run.json's size, modification time and inode, or None when there is no such file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def scan(roots: Iterable[Path]) -> dict[str, Found]:
    """Run id -> folder and stamp, for run folders and folders of runs (hidden folders and
    symbolic links skipped; the first root naming a run id wins)."""
    found: dict[str, Found] = {}
    for root in roots:
        top = str(root)
        mark = _stamp(os.path.join(top, "run.json"))
        if mark is not None:
            found.setdefault(root.name, Found(root.name, top, top, mark))
            continue
        try:
            with os.scandir(top) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError:
            continue
        for entry in listed:
            if entry.name.startswith(".") or entry.is_symlink():
                continue
            mark = _stamp(os.path.join(entry.path, "run.json"))
            if mark is not None and entry.name not in found:
                found[entry.name] = Found(entry.name, top, entry.path, mark)
    return found


def row_values(folder: Path) -> dict[str, Any]:
    """The queue's fields of a run folder's run.json (empty ones when it cannot be read)."""
    from il6assay.record.folder import read_record

    try:
        record: Mapping[str, Any] = read_record(folder)
    except (OSError, InputError):
        record = {}
    failed = str(record.get("verdict") or "")
    if failed.startswith("rejected:"):
        failed = failed[len("rejected:") :].strip()
    warnings = record.get("warnings") or []
    warning = "; ".join(
        str(w) for w in (warnings if isinstance(warnings, list) else []) if "WESTGARD" in str(w)
    )
    review = record.get("review") if isinstance(record.get("review"), dict) else {}
    export = record.get("export") if isinstance(record.get("export"), dict) else {}
    return {
        "created_utc": str(record.get("created_utc") or "")[:40],
        "plate_id": str(export.get("plate_id") or "")[:200],
        "kit_lot": str(record.get("kit_lot") or "")[:200],
        "accepted": bool(record.get("accepted")),
        "failed": failed,
        "warning": warning,
        "review": str(review.get("status") or "unreviewed")[:40],
        "processed_by": str(record.get("processed_by") or "")[:200],
        "queue_rank": 2 if not record.get("accepted") else 1 if warning else 0,
    }


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _load(session: Session, url: str, roots: list[str]) -> None:
    """What the database already holds for ``roots`` (a server start re-reads only changes)."""
    for root in roots:
        _KNOWN[(url, root)] = {}
    rows = session.execute(
        select(DbRunIndex.run_id, DbRunIndex.root, DbRunIndex.folder, DbRunIndex.stamp).where(
            DbRunIndex.root.in_(roots)
        )
    )
    for run_id, root, folder, mark in rows:
        _KNOWN[(url, root)][run_id] = (folder, mark)


def _write(session: Session, changed: list[Found], gone: list[str]) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for start in range(0, len(gone), CHUNK):
        chunk_ids = gone[start : start + CHUNK]
        session.execute(delete(DbRunIndex).where(DbRunIndex.run_id.in_(chunk_ids)))
    for start in range(0, len(changed), CHUNK):
        chunk = changed[start : start + CHUNK]
        existing = {
            row.run_id: row
            for row in session.scalars(
                select(DbRunIndex).where(DbRunIndex.run_id.in_([f.run_id for f in chunk]))
            )
        }
        for f in chunk:
            values = row_values(Path(f.folder))
            values.update(root=f.root, folder=f.folder, stamp=f.stamp, indexed_utc=now)
            row = existing.get(f.run_id)
            if row is None:
                session.add(DbRunIndex(run_id=f.run_id, **values))
            else:
                for name, value in values.items():
                    setattr(row, name, value)


def _differences(url: str, tops: list[str], found: dict[str, Found]) -> tuple[list, list]:
    known = {run_id: seen for t in tops for run_id, seen in _KNOWN[(url, t)].items()}
    changed = [f for f in found.values() if known.get(f.run_id) != (f.folder, f.stamp)]
    return changed, [run_id for run_id in known if run_id not in found]


def _root_stamps(tops: list[str]) -> tuple[Any, ...]:
    """Each root's own size, time and inode: a run folder added or removed changes them."""
    return tuple(_stamp_any(t) for t in tops)


def _stamp_any(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def refresh(engine: Engine, roots: list[Path], *, at_most_every: float = 0.0) -> int:
    """Bring the index of ``roots`` up to date with their folders; returns the rows rewritten.

    ``at_most_every``: seconds; within them of the last full check only what changed is
    read (roots listed again when their own time moved, runs named in a change journal);
    a change made by hand inside a run folder then shows within that time.
    """
    url, tops = _url(engine), [str(r) for r in roots]
    recent = _CHECKED.get((url, tuple(tops)))
    roots_now = _root_stamps(tops)
    if at_most_every > 0 and recent is not None:
        when, seen_roots = recent
        if time.monotonic() - when < at_most_every and all((url, t) in _SEEN for t in tops):
            return _quick(engine, url, tops, roots_now, seen_roots)
    checked_at = time.monotonic()
    seen = {t: _journal_end(t) for t in tops}
    found = scan(roots)
    listing = {t: _folders(t) for t in tops}
    with _LOCK:
        _CHECKED[(url, tuple(tops))] = (checked_at, roots_now)
        for t in tops:
            _SEEN[(url, t)] = {"folders": listing[t], "offset": seen[t], "hot": {}}
        if any((url, t) not in _KNOWN for t in tops):
            with Session(engine) as session:
                _load(session, url, tops)
        changed, gone = _differences(url, tops, found)
        if not changed and not gone:
            return 0
        _apply(engine, url, tops, changed, gone, found)
        for t in tops:
            _KNOWN[(url, t)] = {}
        for f in found.values():
            _KNOWN[(url, f.root)][f.run_id] = (f.folder, f.stamp)
    return len(changed) + len(gone)


def refresh_run(engine: Engine, roots: list[Path], run_id: str) -> int:
    """Bring one run's row up to date with its folder (a run's page, a decision made in the
    app); returns the rows rewritten (0 or 1)."""
    url, tops = _url(engine), [str(r) for r in roots]
    if any((url, t) not in _KNOWN for t in tops):
        return refresh(engine, roots)
    with _LOCK:
        return _recheck(engine, url, tops, {run_id})


def _apply(
    engine: Engine,
    url: str,
    tops: list[str],
    changed: list[Found],
    gone: list[str],
    found: dict[str, Found] | None,
) -> None:
    """Write the changed rows and delete the gone ones (the caller holds ``_LOCK``)."""
    try:
        with Session(writer(engine)) as session, session.begin():
            _write(session, changed, gone)
    except IntegrityError:  # another server process indexed the same run meanwhile
        with Session(writer(engine)) as session, session.begin():
            _load(session, url, tops)
            if found is not None:
                changed, gone = _differences(url, tops, found)
            else:
                known = {r: s for t in tops for r, s in _KNOWN[(url, t)].items()}
                changed = [f for f in changed if known.get(f.run_id) != (f.folder, f.stamp)]
                gone = [r for r in gone if r in known]
            _write(session, changed, gone)
    _GENERATION[0] += 1


def _journal_end(root: str) -> int:
    """The size of a root's change journal now (what a full check has seen of it)."""
    from il6assay.record.changes import JOURNAL

    try:
        return os.stat(os.path.join(root, JOURNAL)).st_size
    except OSError:
        return 0


def _folders(root: str) -> dict[str, int]:
    """A root's visible folders by name, with their inodes (one directory read, no stat)."""
    try:
        with os.scandir(root) as entries:
            return {
                e.name: e.inode()
                for e in entries
                if not e.name.startswith(".") and not e.is_symlink() and e.is_dir()
            }
    except OSError:
        return {}


def _quick(
    engine: Engine, url: str, tops: list[str], roots_now: tuple[Any, ...], seen_roots: Any
) -> int:
    """The check between full ones: roots whose time moved, and runs journals name."""
    from il6assay.record.changes import read_changes

    now = time.monotonic()
    names: set[str] = set()
    with _LOCK:
        for i, t in enumerate(tops):
            seen = _SEEN[(url, t)]
            if roots_now[i] != seen_roots[i]:
                listing = _folders(t)
                before = seen["folders"]
                names.update(n for n in listing.keys() | before.keys()
                             if listing.get(n) != before.get(n))  # fmt: skip
                seen["folders"] = listing
            if _stamp(os.path.join(t, "run.json")) is not None:
                names.add(Path(t).name)  # a root that is one run folder: its journal is above
            noted, seen["offset"] = read_changes(Path(t), seen["offset"])
            hot = seen["hot"]
            for name in noted:
                hot[name] = now + HOT_S
            for name, until in list(hot.items()):
                if until < now:
                    del hot[name]
            names.update(hot)
        checked = _CHECKED[(url, tuple(tops))]
        _CHECKED[(url, tuple(tops))] = (checked[0], roots_now)
        if not names:
            return 0
        return _recheck(engine, url, tops, names)


def _locate(tops: list[str], name: str) -> tuple[str, str | None]:
    """The root and folder of a run not indexed yet (the first root naming it wins, as in
    ``scan``); no folder when none holds it (nor for a hidden or path-like name)."""
    if not name or name.startswith(".") or "/" in name or os.sep in name:
        return tops[0], None
    for top in tops:
        if _stamp(os.path.join(top, "run.json")) is not None:
            if Path(top).name == name:
                return top, top
            continue
        if os.path.isdir(os.path.join(top, name)):
            return top, os.path.join(top, name)
    return tops[0], None


def _recheck(engine: Engine, url: str, tops: list[str], names: set[str]) -> int:
    """Read again the runs (folder names) in ``names`` (the caller holds ``_LOCK``)."""
    known = {r: (t, seen) for t in tops for r, seen in _KNOWN[(url, t)].items()}
    changed: list[Found] = []
    gone: list[str] = []
    for name in sorted(names):
        where = known.get(name)
        if where is not None:
            top, folder = where[0], where[1][0]
        else:
            top, folder = _locate(tops, name)
        if folder is not None and os.path.islink(folder):
            folder = None
        mark = _stamp(os.path.join(folder, "run.json")) if folder is not None else None
        if mark is None:
            if where is not None:
                gone.append(name)
            continue
        if where is None or where[1] != (folder, mark):
            changed.append(Found(name, top, folder, mark))
    if not changed and not gone:
        return 0
    _apply(engine, url, tops, changed, gone, None)
    for name in gone:
        for t in tops:
            _KNOWN[(url, t)].pop(name, None)
    for f in changed:
        _KNOWN[(url, f.root)][f.run_id] = (f.folder, f.stamp)
    return len(changed) + len(gone)


def forget(engine: Engine) -> None:
    """Drop this process's memory of the index (the next refresh reads the database's rows)."""
    url = _url(engine)
    with _LOCK:
        for key in [k for k in _KNOWN if k[0] == url]:
            _KNOWN.pop(key, None)
        for checked in [k for k in _CHECKED if k[0] == url]:
            _CHECKED.pop(checked, None)
        for seen in [k for k in _SEEN if k[0] == url]:
            _SEEN.pop(seen, None)


def _filtered(query: Any, roots: list[str], filters: dict[str, str | None]) -> Any:
    query = query.where(DbRunIndex.root.in_(roots))
    day = func.substr(DbRunIndex.created_utc, 1, 10)
    if filters.get("since"):
        query = query.where(day >= filters["since"])
    if filters.get("until"):
        query = query.where(day <= filters["until"])
    verdict = filters.get("verdict")
    if verdict and verdict != "all":
        query = query.where(DbRunIndex.accepted.is_(verdict == "accepted"))
    lot = (filters.get("kit_lot") or "").strip().casefold()
    if lot:
        query = query.where(func.lower(DbRunIndex.kit_lot).contains(lot, autoescape=True))
    review = filters.get("review")
    if review and review != "all":
        query = query.where(DbRunIndex.review == review)
    return query


def listed(
    engine: Engine,
    roots: list[Path],
    filters: dict[str, str | None],
    *,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[Any], int]:
    """The index rows matching ``filters`` in the queue's order (rejected by the rules first,
    then a Westgard warning, then the rest, newest first in each), and how many match."""
    tops = [str(r) for r in roots]
    query = _filtered(select(*(getattr(DbRunIndex, c) for c in SHOWN)), tops, filters).order_by(
        DbRunIndex.queue_rank.desc(), DbRunIndex.created_utc.desc(), DbRunIndex.run_id.desc()
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    counting = _filtered(select(func.count(DbRunIndex.id)), tops, filters)
    with engine.connect() as connection:
        rows = list(connection.execute(query))
        total = connection.execute(counting).scalar() or 0
    return rows, int(total)


def kit_lots(engine: Engine, roots: list[Path]) -> list[str]:
    """The kit lots of the indexed runs under ``roots`` (read again after this process's
    change check rewrote a row: every process checks the same folders)."""
    key = (_url(engine), tuple(str(r) for r in roots), _GENERATION[0])
    if key not in _LOTS:
        _LOTS.clear()
        _LOTS[key] = _read_lots(engine, roots)
    return list(_LOTS[key])


def _read_lots(engine: Engine, roots: list[Path]) -> list[str]:
    query = (
        select(DbRunIndex.kit_lot)
        .where(DbRunIndex.root.in_([str(r) for r in roots]), DbRunIndex.kit_lot != "")
        .distinct()
    )
    with Session(engine) as session:
        return sorted(session.scalars(query))


def folder_of(engine: Engine, roots: list[Path], run_id: str) -> Path | None:
    """The indexed folder of ``run_id`` under ``roots``, or None."""
    query = select(DbRunIndex.folder).where(
        DbRunIndex.run_id == run_id, DbRunIndex.root.in_([str(r) for r in roots])
    )
    with Session(engine) as session:
        folder = session.scalar(query)
    return Path(folder) if folder else None
