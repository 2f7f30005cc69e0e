"""The review app's run index: one queue row per run folder, copied from its run.json.

Adds ``web_run_index`` (derived rows, left out of the row chain); no existing
row or column is changed.

Revision ID: 0013
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create web_run_index."""
    op.create_table(
        "web_run_index",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("root", sa.Text, nullable=False),
        sa.Column("folder", sa.Text, nullable=False),
        sa.Column("stamp", sa.String(100), nullable=False),
        sa.Column("created_utc", sa.String(40), nullable=False),
        sa.Column("plate_id", sa.String(200), nullable=False),
        sa.Column("kit_lot", sa.String(200), nullable=False),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("failed", sa.Text, nullable=False),
        sa.Column("warning", sa.Text, nullable=False),
        sa.Column("review", sa.String(40), nullable=False),
        sa.Column("processed_by", sa.String(200), nullable=False),
        sa.Column("queue_rank", sa.Integer, nullable=False),
        sa.Column("indexed_utc", sa.String(40), nullable=False),
        sa.UniqueConstraint("run_id", name="uq_web_run_index_run"),
    )
    op.create_index(
        "ix_web_run_index_queue",
        "web_run_index",
        ["root", "review", "queue_rank", "created_utc", "run_id"],
    )


def downgrade() -> None:
    """Drop web_run_index."""
    op.drop_table("web_run_index")
