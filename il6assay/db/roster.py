"""The study roster: which study IDs the study enrolled (``il6assay subjects import``).

A roster is a CSV or XLSX with a ``study_id`` column and optional ``site`` and
``enrolment_date`` (``enrollment_date`` and ``enrolled`` are read as it). An
import adds the IDs the database does not hold yet and never drops one: an ID
enrolled before and absent from the file stays enrolled (the import says how
many), and an ID whose site or enrolment date differs from the stored one is
refused naming it (nothing of the file is stored). Every study ID is read as
the sample sheet reads it (NFKC, trimmed, no control character), must be
written in one script, and must not be confusable with another enrolled ID
(Unicode TR39 skeletons, ``il6assay.plate.study_ids``).

With a roster, ``process`` (when a study database is configured) and ``push``
refuse a study ID not on it, naming the nearest enrolled IDs. Without one,
``push`` refuses an ID confusable with one already stored, naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from il6assay.db.engine import require_schema, writer
from il6assay.db.models import DbAudit, DbResult, DbSubject
from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_bytes
from il6assay.plate.samples import clean_label, read_table
from il6assay.plate.study_ids import check_distinct, check_enrolled, check_script, skeleton
from il6assay.record.audit import now_utc, os_account

_COLUMNS = {
    "study_id": "study_id",
    "site": "site",
    "enrolment_date": "enrolment_date",
    "enrollment_date": "enrolment_date",
    "enrolled": "enrolment_date",
}


@dataclass
class RosterImport:
    """What an import did: IDs added, IDs already enrolled, IDs kept that the file lacks."""

    added: list[str]
    already: int
    kept_absent: int

    def message(self) -> str:
        """One line for the terminal."""
        text = f"{len(self.added)} subject(s) enrolled, {self.already} already on the roster"
        if self.kept_absent:
            text += (
                f"; {self.kept_absent} enrolled before and not in this file kept (never dropped)"
            )
        return text


def read_roster(path: Path) -> list[tuple[str, str | None, str | None]]:
    """The roster file's rows (study ID, site, enrolment date), checked; bad input raises."""
    table = [r for r in read_table(path) if any(c.strip() for c in r)]
    if not table:
        raise InputError("the roster has no rows", path=path)
    header = [re.sub(r"[\s_\-]+", "_", c.strip().lower()) for c in table[0]]
    col = {_COLUMNS[h]: i for i, h in enumerate(header) if h in _COLUMNS}
    if "study_id" not in col:
        raise InputError(
            "no study_id column (optional: site, enrolment_date)", path=path, where="line 1"
        )
    rows: list[tuple[str, str | None, str | None]] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(table[1:], start=2):
        where = f"line {lineno}"

        def cell(name: str, raw: list[str] = raw) -> str:
            i = col.get(name)
            return raw[i].strip() if i is not None and i < len(raw) else ""

        try:
            sid = clean_label(cell("study_id"), "column study_id", where)
            if not sid:
                raise InputError("a row with no study_id", where=where)
            check_script(sid, where)
        except InputError as err:
            raise err.at(path) from None
        if sid in seen:
            raise InputError(
                f"study ID '{sid}' appears twice (first on line {seen[sid]})",
                path=path,
                where=where,
            )
        seen[sid] = lineno
        rows.append((sid, cell("site") or None, cell("enrolment_date") or None))
    try:
        check_distinct([r[0] for r in rows])
    except InputError as err:
        raise err.at(path) from None
    return rows


def import_roster(engine: Engine, path: str | Path, *, by: str | None = None) -> RosterImport:
    """Add the roster file's subjects to the study database (one transaction; never drops)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    rows = read_roster(path)
    require_schema(engine)
    digest = sha256_bytes(path.read_bytes())
    when, account = now_utc(), os_account()
    with Session(writer(engine)) as session, session.begin():
        stored = {s.study_id: s for s in session.scalars(select(DbSubject))}
        new = [r for r in rows if r[0] not in stored]
        for sid, site, date in rows:
            old = stored.get(sid)
            if old is None:
                continue
            for name, given, held in (
                ("site", site, old.site),
                ("enrolment date", date, old.enrolled_date),
            ):
                if given is not None and given != held:
                    raise InputError(
                        f"study ID '{sid}' is enrolled with {name} '{held or ''}', the file says "
                        f"'{given}'; a roster import adds subjects, it never changes one",
                        path=path,
                    )
        try:
            check_distinct([r[0] for r in new], known=stored)
        except InputError as err:
            raise err.at(path) from None
        for sid, site, date in new:
            session.add(
                DbSubject(
                    study_id=sid,
                    skeleton=skeleton(sid),
                    site=site,
                    enrolled_date=date,
                    imported_utc=when,
                    imported_os_account=account,
                    imported_by=(by or "").strip() or None,
                    source_sha256=digest,
                )
            )
        if new:
            session.add(
                DbAudit(
                    time_utc=when,
                    os_account=account,
                    by_name=(by or "").strip() or None,
                    action="enrol",
                    what=f"{len(new)} subject(s) enrolled from {path.name}: "
                    + ", ".join(r[0] for r in new),
                    new_value=digest,
                )
            )
    in_file = {r[0] for r in rows}
    return RosterImport(
        added=[r[0] for r in new],
        already=len(rows) - len(new),
        kept_absent=sum(1 for sid in stored if sid not in in_file),
    )


def enrolled(session: Session) -> list[str]:
    """The enrolled study IDs (empty: the study keeps no roster)."""
    return list(session.scalars(select(DbSubject.study_id)))


def check_subjects(session: Session, study_ids: list[str]) -> None:
    """Refuse study IDs off the roster, or (no roster) confusable with a stored one.

    Each ID must be written in one script. With a roster, an ID not on it is refused
    naming the nearest enrolled IDs; without one, an ID whose skeleton is that of
    another ID already stored (``sample_results``) or given in the same run is refused
    naming it.
    """
    for sid in study_ids:
        check_script(sid)
    roster = enrolled(session)
    if roster:
        check_enrolled(study_ids, roster)
        return
    if not study_ids:
        return
    # Stored IDs sharing a skeleton with this run's (indexed), and those stored before
    # skeletons were (migration 0012): the same check as against every stored ID.
    skeletons = sorted({skeleton(sid) for sid in study_ids})
    stored = set(
        session.scalars(
            select(DbResult.study_id).where(DbResult.study_skeleton.is_(None)).distinct()
        )
    )
    for start in range(0, len(skeletons), 500):
        stored.update(
            session.scalars(
                select(DbResult.study_id)
                .where(DbResult.study_skeleton.in_(skeletons[start : start + 500]))
                .distinct()
            )
        )
    check_distinct(study_ids, known=sorted(stored))


def check_engine_subjects(engine: Engine, study_ids: list[str]) -> None:
    """``check_subjects`` in a read-only session of ``engine`` (the hook of ``process``)."""
    with Session(engine) as session:
        check_subjects(session, study_ids)
