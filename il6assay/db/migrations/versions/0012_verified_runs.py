"""Runs verified by recomputation, so that a run verified once is not processed twice (issue 27).

Adds ``verified_runs`` (chained like every table) and ``sample_results.study_skeleton``
(the study ID's TR39 skeleton, indexed: the look-alike check at push is one indexed
lookup, flat with the study). Existing rows keep NULL there (a new NULL changes no
row's chained hash); the check reads those rows' IDs as before.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create verified_runs; add sample_results.study_skeleton (indexed)."""
    op.add_column("sample_results", sa.Column("study_skeleton", sa.String(200)))
    op.create_index("ix_sample_results_study_skeleton", "sample_results", ["study_skeleton"])
    op.create_table(
        "verified_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("outputs_sha256", sa.Text, nullable=False),
        sa.Column("verified_by_version", sa.String(40), nullable=False),
        sa.Column("verified_utc", sa.String(40), nullable=False),
        sa.Column("verified_os_account", sa.String(200), nullable=False),
        sa.Column("verified_for", sa.String(20), nullable=False),
        sa.UniqueConstraint("key_sha256", "record_sha256", name="uq_verified_runs"),
    )
    op.create_index("ix_verified_runs_key_sha256", "verified_runs", ["key_sha256"])
    op.create_index("ix_verified_runs_run_id", "verified_runs", ["run_id"])


def downgrade() -> None:
    """Never used by il6assay (a study database is migrated forward, never dropped)."""
    raise NotImplementedError("il6assay databases are only migrated forward")
