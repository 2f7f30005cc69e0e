"""Runs verified by recomputation, remembered in the study database (never in the run folder).

``StudyMemory`` is the ``il6assay.record.verify.Memory`` that ``push`` and
``verify --db`` use: a run folder verified once (processed again from its
inputs to the same results, flags, verdict, report and workbook) gets a
``verified_runs`` row, keyed by what processing depends on and the tools that
verified it, with the run.json it found true; the same folder is then not
processed again, by a second push or a push after ``verify --db``. Rows are
only added, and chained like every row of the study (``il6assay.db.chain``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from il6assay import __version__
from il6assay.db.engine import unreachable, writer
from il6assay.db.models import DbVerifiedRun
from il6assay.record.audit import now_utc, os_account
from il6assay.record.folder import RunFolder


@dataclass
class StudyMemory:
    """The study database's record of verified runs (``for_what``: "process", "push", "verify").

    ``deferred``: a verification is not written at once but kept in ``pending`` (by run
    folder), for push to write in the run's own transaction: a refused push writes nothing.
    """

    engine: Engine
    for_what: str = "verify"
    deferred: bool = False
    pending: dict[Path, dict[str, str]] = field(default_factory=dict)

    def recall(self, key: str, record_sha256: str) -> str | None:
        """A note naming when this run was verified, or None when it never was."""
        try:
            with Session(self.engine) as session:
                row = _recorded(session, key, record_sha256)
        except DBAPIError as err:
            raise unreachable(err, self.engine) from None
        if row is None:
            return None
        how = "made" if row.verified_for == "process" else "recomputed"
        return (
            f"{how} from inputs/ on {row.verified_utc} by il6assay {row.verified_by_version} "
            f"({row.verified_for}), as the study database records; the same inputs, settings "
            "and files: not processed again"
        )

    def remember(self, folder: RunFolder, key: str, record_sha256: str) -> None:
        """Add the run folder's verification to the study database (once per key and run.json)."""
        fields = {
            "key_sha256": key,
            "record_sha256": record_sha256,
            "run_id": folder.record.run_id,
            "outputs_sha256": json.dumps(dict(folder.record.outputs_sha256), sort_keys=True),
            "verified_by_version": __version__,
            "verified_utc": now_utc(),
            "verified_os_account": os_account(),
            "verified_for": self.for_what,
        }
        if self.deferred:
            self.pending[folder.path] = fields
            return
        try:
            with Session(writer(self.engine)) as session, session.begin():
                add_verification(session, fields)
        except IntegrityError:
            return  # remembered meanwhile by another process: the same fact
        except DBAPIError as err:
            raise unreachable(err, self.engine) from None


def _recorded(session: Session, key: str, record_sha256: str) -> DbVerifiedRun | None:
    return session.scalars(
        select(DbVerifiedRun)
        .where(DbVerifiedRun.key_sha256 == key, DbVerifiedRun.record_sha256 == record_sha256)
        .limit(1)
    ).first()


def add_verification(session: Session, fields: dict[str, str]) -> None:
    """Write a verification in ``session``'s transaction, unless it is already recorded."""
    if _recorded(session, fields["key_sha256"], fields["record_sha256"]) is None:
        session.add(DbVerifiedRun(**fields))


def study_memory(db: str, for_what: str) -> StudyMemory:
    """The verified runs of the study database at ``db``: upgraded, with its chain's key."""
    from il6assay.db.chain_key import key_path, read_key
    from il6assay.db.engine import make_engine, require_schema

    engine = make_engine(db, must_exist=True)
    require_schema(engine)
    read_key(key_path(engine.url.render_as_string(False)))  # its rows are chained
    return StudyMemory(engine, for_what)
