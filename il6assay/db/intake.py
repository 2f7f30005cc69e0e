"""What a run must satisfy to enter the study, beyond its own folder (issue 25).

Called by ``push`` inside its transaction, after the run folder was verified:

- its export is not already in the study under another run: the same bytes
  (SHA-256) and plate stored by run X is refused naming X, with or without
  ``--supersede`` (a copied export, ``plate_001 - Copy.xlsx``, is no re-assay);
- its study IDs are on the study roster, or, without a roster, written in one
  script and not confusable with an ID already stored (``il6assay.db.roster``);
- its sample sheet (the verified copy in ``inputs/``) says which rows are
  incurred-sample repeats (``purpose = isr``) and each specimen's collection date.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from il6assay.db.models import DbRun
from il6assay.db.roster import check_subjects
from il6assay.errors import InputError
from il6assay.plate.samples import SampleRow, load_samples
from il6assay.record.folder import RunFolder


def export_sha256(folder: RunFolder) -> str | None:
    """The SHA-256 of the run's export, as its verified input copy records it."""
    return folder.record.export_sha256


def _plate_key(record: Mapping[str, Any]) -> str | None:
    """Which plate of its export a run is: its plate id, or None when the reader named the
    plate after the file (a one-plate export, whose copy under another name is the same plate)."""
    plate_id = (record.get("export") or {}).get("plate_id")
    copy = ((record.get("inputs") or {}).get("export") or [{}])[0].get("copy", "")
    return None if plate_id in (None, Path(copy).stem) else plate_id


def check_export_not_stored(session: Session, folder: RunFolder, run_id: str) -> None:
    """Refuse an export (and plate) that another run already brought into the study."""
    digest = export_sha256(folder)
    if not digest:
        return
    plate_id = folder.record.export.plate_id
    mine = _plate_key(folder.record)
    held = session.scalars(
        select(DbRun).where(DbRun.export_sha256 == digest, DbRun.run_id != run_id)
    ).all()
    for other in held:
        if _plate_key(json.loads(other.run_json)) == mine:
            raise InputError(
                f"this export (SHA-256 {digest[:12]}..., plate '{plate_id}') is already in the "
                f"study as run {other.run_id}: the same reads under another file name are no "
                "re-assay (refused with or without --supersede)"
            )


def sheet_rows(folder: RunFolder) -> dict[str, SampleRow]:
    """The run's sample-sheet rows by sample label, read from its verified copy in ``inputs/``."""
    copy = folder.input_copy("samples")
    if copy is None:
        return {}
    sheet = load_samples(copy)
    plate_id = folder.record.export.plate_id or ""
    return sheet.for_plate(plate_id, Path(folder.record.inputs["export"][0].copy).name).rows


def check_intake(session: Session, folder: RunFolder, run_id: str, study_ids: list[str]) -> None:
    """The export not stored before, the study IDs on the roster (or not confusable)."""
    check_export_not_stored(session, folder, run_id)
    check_subjects(session, list(dict.fromkeys(study_ids)))
