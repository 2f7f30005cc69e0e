"""The web review's accounts, sessions, run change counters, signatures and settings.

Adds five tables; no existing row or column is changed.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create web_accounts, web_sessions, web_run_state, web_signatures and web_settings."""
    op.create_table(
        "web_accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("printed_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until_utc", sa.String(40)),
        sa.Column("created_utc", sa.String(40), nullable=False),
        sa.Column("password_changed_utc", sa.String(40), nullable=False),
        sa.UniqueConstraint("username", name="uq_web_accounts_username"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("web_accounts.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.String(40), nullable=False),
        sa.Column("last_seen_utc", sa.String(40), nullable=False),
        sa.Column("ended_utc", sa.String(40)),
        sa.UniqueConstraint("token_sha256", name="uq_web_sessions_token"),
    )
    op.create_index("ix_web_sessions_account_id", "web_sessions", ["account_id"])
    op.create_table(
        "web_run_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_utc", sa.String(40), nullable=False),
        sa.UniqueConstraint("run_id", name="uq_web_run_state_run"),
    )
    op.create_table(
        "web_signatures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("run_version", sa.Integer, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("web_accounts.id"), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("printed_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("meaning", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("override", sa.Boolean, nullable=False),
        sa.Column("signed_utc", sa.String(40), nullable=False),
        sa.Column("signed_local", sa.String(40), nullable=False),
        sa.Column("separation", sa.Text, nullable=False),
        sa.Column("audit_entry", sa.Text, nullable=False),
        sa.UniqueConstraint("run_id", "run_version", name="uq_web_signatures_version"),
    )
    op.create_index("ix_web_signatures_run_id", "web_signatures", ["run_id"])
    op.create_table(
        "web_settings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("changed_utc", sa.String(40), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("name", name="uq_web_settings_name"),
    )


def downgrade() -> None:
    """Never used by il6assay (a study database is migrated forward, never dropped)."""
    raise NotImplementedError("il6assay databases are only migrated forward")
