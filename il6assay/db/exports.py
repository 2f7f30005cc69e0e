"""What left the study database, on the record: every export is a row of the audit table.

A REDCap export sends current results out of il6assay's control; the audit
table (append-only) records who (OS account and ``--by``), when, where to,
how many rows, which study IDs and the SHA-256 of exactly what was sent, so a
value in REDCap can be traced back to the database state that produced it.
"""

from __future__ import annotations

import json

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from il6assay.db.engine import unreachable, writer
from il6assay.db.models import DbAudit
from il6assay.plate.hashing import sha256_bytes
from il6assay.record.audit import now_utc, os_account

EXPORT_ACTION = "export-redcap"


def record_export(
    engine: Engine, *, where: str, data: str, record_ids: list[str], by: str | None = None
) -> None:
    """Append one audit row for an export of ``data`` (the CSV sent, one row per
    ``record_ids`` entry) to ``where``."""
    value = {
        "rows": len(record_ids),
        "sha256": sha256_bytes(data),
        "records": sorted(set(record_ids)),
    }
    try:
        with Session(writer(engine)) as session, session.begin():
            session.add(
                DbAudit(
                    time_utc=now_utc(),
                    os_account=os_account(),
                    by_name=(by or "").strip() or None,
                    action=EXPORT_ACTION,
                    what=f"{len(record_ids)} row(s) of current results exported to {where}",
                    new_value=json.dumps(value, ensure_ascii=False, sort_keys=True),
                )
            )
    except DBAPIError as err:
        raise unreachable(err, engine) from None
