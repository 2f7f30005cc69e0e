"""The database's own chain: the append-only ``row_chain`` table (il6assay.db.chain).

Adds one table and its append-only triggers; no existing row or column is
changed. ``il6assay db upgrade`` then starts the chain: it creates the key
outside the database and chains every existing row ("chained from the
upgrade on").

Revision ID: 0009
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create row_chain, its index by row, and refuse UPDATE and DELETE on it."""
    op.create_table(
        "row_chain",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("row_sha256", sa.String(64), nullable=False),
        sa.Column("time_utc", sa.String(40), nullable=False),
        sa.Column("chain_prev", sa.String(64), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_row_chain_row", "row_chain", ["table_name", "row_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION il6assay_row_chain_append_only() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'the row chain is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER row_chain_append_only BEFORE UPDATE OR DELETE ON row_chain "
            "FOR EACH ROW EXECUTE FUNCTION il6assay_row_chain_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER row_chain_no_{event.lower()} BEFORE {event} ON row_chain "
                "BEGIN SELECT RAISE(ABORT, 'the row chain is append-only'); END"
            )


def downgrade() -> None:
    """Never used by il6assay (a study database is migrated forward, never dropped)."""
    raise NotImplementedError("il6assay databases are only migrated forward")
