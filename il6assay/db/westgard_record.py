"""The Westgard verdicts the study recorded for an export bind every run of it (push).

Recomputation from a run's ``inputs/`` cannot check a verdict that came from the
study's control history, so ``push`` consults the database's own record of each
processing (``qc_runs``, written by ``process``): ``check_study_judgement``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from il6assay.db.models import DbQcRun
from il6assay.errors import InputError
from il6assay.qc.rules import STUDY_REJECT, STUDY_RULES
from il6assay.record.schema import RunRecord

if TYPE_CHECKING:
    from il6assay.db.accepted_run import RunData


def export_sha256_of(record: RunRecord) -> str | None:
    """The SHA-256 of the run's raw export, as run.json records it (and the run id hashes)."""
    return record.export_sha256


def westgard_rejected(row: DbQcRun) -> bool:
    """Whether a recorded run's Westgard check rejected it."""
    try:
        texts = json.loads(row.westgard or "[]")
    except json.JSONDecodeError:
        texts = [row.westgard]
    return any(str(t).startswith(STUDY_REJECT) for t in texts)


def check_study_judgement(session: Session, run: RunData) -> None:
    """Every Westgard verdict the study recorded for this export binds this run.

    Recomputation from ``inputs/`` cannot check a verdict that came from the study's
    control history, so the database's own record (``qc_runs``, written by ``process``)
    is consulted for every push: a recorded rejection of the same export (by its
    SHA-256, or of the same run id) refuses a run that does not carry it (the export
    processed again where no study database was configured); a run judged against a
    study database must be one this database recorded, with the same verdict.
    """
    record = run.folder.record
    rules = run.folder.curve.rules
    judged = [r for r in rules if r.get("id") in STUDY_RULES and r.get("passed") is not None]
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
    if stored is not None and bool(stored.accepted_by_rules) != record.accepted:
        said = "accepted" if stored.accepted_by_rules else "rejected"
        raise InputError(
            f"the run's verdict is not the one this study database recorded when it was "
            f"processed ({said} by the rules, Westgard included): the run folder was changed"
        )
