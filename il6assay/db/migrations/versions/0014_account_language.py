"""The review app's language per account: ``web_accounts.language``.

A nullable column: an account that chose no language sees the site's (il6assay.toml's
``lang``, else English). No existing row changes (a NULL is left out of a row's chain
digest, il6assay.db.chain.row_sha256).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add web_accounts.language."""
    op.add_column("web_accounts", sa.Column("language", sa.String(16), nullable=True))


def downgrade() -> None:
    """Drop web_accounts.language."""
    with op.batch_alter_table("web_accounts") as batch:
        batch.drop_column("language")
