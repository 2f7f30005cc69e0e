"""Initial schema: runs, curves, wells, sample results, append-only audit.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables and make the audit table append-only."""
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("plate_id", sa.String(200)),
        sa.Column("export_sha256", sa.String(64)),
        sa.Column("reader", sa.String(100)),
        sa.Column("reader_metadata", sa.Text),
        sa.Column("kit_lot", sa.String(200)),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("accepted_by_rules", sa.Boolean, nullable=False),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("review_status", sa.String(20), nullable=False),
        sa.Column("reviewed_by", sa.String(200)),
        sa.Column("review_reason", sa.Text),
        sa.Column("reviewed_utc", sa.String(40)),
        sa.Column("review_override", sa.Boolean, nullable=False),
        sa.Column("tool_version", sa.String(40)),
        sa.Column("created_utc", sa.String(40)),
        sa.Column("pushed_utc", sa.String(40), nullable=False),
        sa.Column("pushed_os_account", sa.String(200), nullable=False),
        sa.Column("pushed_by", sa.String(200)),
        sa.Column("run_json", sa.Text, nullable=False),
        sa.UniqueConstraint("run_id", "content_sha256", name="uq_runs_run_content"),
    )
    op.create_index("ix_runs_run_id", "runs", ["run_id"])
    op.create_table(
        "curves",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("model", sa.String(20)),
        sa.Column("weighting", sa.String(20)),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("stderr", sa.Text),
        sa.Column("covariance", sa.Text),
        sa.Column("lloq_pg_ml", sa.Float),
        sa.Column("uloq_pg_ml", sa.Float),
        sa.Column("curve_json", sa.Text, nullable=False),
        sa.UniqueConstraint("run_pk", name="uq_curves_run"),
    )
    op.create_table(
        "wells",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("well", sa.String(10), nullable=False),
        sa.Column("role", sa.String(20)),
        sa.Column("level", sa.String(40)),
        sa.Column("sample", sa.String(200)),
        sa.Column("dilution", sa.Float),
        sa.Column("nominal_pg_ml", sa.Float),
        sa.Column("reads", sa.Text, nullable=False),
        sa.Column("status", sa.String(40)),
        sa.Column("od", sa.Float),
        sa.Column("conc_pg_ml", sa.Float),
        sa.Column("flags", sa.Text),
        sa.UniqueConstraint("run_pk", "well", name="uq_wells_run_well"),
    )
    op.create_table(
        "sample_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("study_id", sa.String(200), nullable=False),
        sa.Column("visit", sa.String(100), nullable=False),
        sa.Column("sample", sa.String(200)),
        sa.Column("dilution", sa.String(40)),
        sa.Column("n_wells", sa.Integer),
        sa.Column("od_mean", sa.Float),
        sa.Column("conc_pg_ml", sa.Float),
        sa.Column("result", sa.String(40), nullable=False),
        sa.Column("ci_low_pg_ml", sa.Float),
        sa.Column("ci_high_pg_ml", sa.Float),
        sa.Column("lloq_pg_ml", sa.Float),
        sa.Column("uloq_pg_ml", sa.Float),
        sa.Column("flags", sa.Text, nullable=False),
        sa.Column("advice", sa.Text),
        sa.Column("wells", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("superseded_by", sa.Integer, sa.ForeignKey("sample_results.id")),
        sa.Column("supersede_reason", sa.Text),
        sa.Column("superseded_utc", sa.String(40)),
    )
    op.create_index("ix_sample_results_run_pk", "sample_results", ["run_pk"])
    op.create_index("ix_sample_results_study_id", "sample_results", ["study_id"])
    # The current value of a specimen is always well defined: one current row per key.
    op.create_index(
        "uq_results_current",
        "sample_results",
        ["study_id", "visit"],
        unique=True,
        sqlite_where=sa.text("status = 'current'"),
        postgresql_where=sa.text("status = 'current'"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("time_utc", sa.String(40), nullable=False),
        sa.Column("os_account", sa.String(200), nullable=False),
        sa.Column("by_name", sa.String(200)),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("run_id", sa.String(200)),
        sa.Column("study_id", sa.String(200)),
        sa.Column("visit", sa.String(100)),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
    )
    op.create_index("ix_audit_run_id", "audit", ["run_id"])
    op.create_index("ix_audit_study_id", "audit", ["study_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION il6assay_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit table is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION il6assay_audit_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_no_{event.lower()} BEFORE {event} ON audit "
                "BEGIN SELECT RAISE(ABORT, 'the audit table is append-only'); END"
            )


def downgrade() -> None:
    """Never used by il6assay (a study database is migrated forward, never dropped)."""
    raise NotImplementedError("il6assay databases are only migrated forward")
