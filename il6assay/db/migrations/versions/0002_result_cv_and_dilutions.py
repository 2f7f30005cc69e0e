"""Sample results keep the concentration CV and the dilutions combined.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add two nullable columns; rows pushed before keep theirs empty."""
    op.add_column("sample_results", sa.Column("conc_cv_pct", sa.Float))
    op.add_column("sample_results", sa.Column("dilutions", sa.Text))


def downgrade() -> None:
    """Never used by il6assay (a study database is migrated forward, never dropped)."""
    raise NotImplementedError("il6assay databases are only migrated forward")
