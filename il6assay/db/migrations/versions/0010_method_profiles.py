"""Method profiles: the validated method an account adopted, enforced on study plates.

Adds one table; no existing row or column is changed.

Revision ID: 0010
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create method_profiles."""
    op.create_table(
        "method_profiles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("profile", sa.Text, nullable=False),
        sa.Column("validation_sha256", sa.String(64), nullable=False),
        sa.Column("report_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("adopted_by", sa.String(100), nullable=False),
        sa.Column("printed_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("adopted_utc", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("superseded_by", sa.Integer),
        sa.Column("superseded_utc", sa.String(40)),
        sa.UniqueConstraint("sha256", name="uq_method_profiles_sha256"),
    )


def downgrade() -> None:
    """Never used by il6assay (a study database is migrated forward, never dropped)."""
    raise NotImplementedError("il6assay databases are only migrated forward")
