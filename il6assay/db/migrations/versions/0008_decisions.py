"""Decisions bound to what they decide: the export each signature and QC record is about.

Adds ``export_sha256`` (the SHA-256 of the raw export) to ``web_signatures``
and ``qc_runs``, so that a rejection signed for one run, and a Westgard
verdict recorded for one run, bind every later run of the same export
(docs/integrity.md). Existing rows keep NULL and are matched by run id.

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add export_sha256 (indexed) to web_signatures and qc_runs."""
    for table in ("web_signatures", "qc_runs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("export_sha256", sa.String(64), nullable=True))
            batch.create_index(f"ix_{table}_export_sha256", ["export_sha256"])


def downgrade() -> None:
    """Drop the two columns."""
    for table in ("web_signatures", "qc_runs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_export_sha256")
            batch.drop_column("export_sha256")
