"""Control and standard trends across runs: every processed run's QC figures, any verdict.

Adds ``qc_runs`` (one row per run: time, kit lot, verdict, the top standard's
OD, the curve's midpoint c, LLOQ/ULOQ) and ``qc_controls`` (one row per run and
control level: the mean concentration of its wells). No existing row changes.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create qc_runs and qc_controls."""
    op.create_table(
        "qc_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("plate_id", sa.String(200)),
        sa.Column("export_file", sa.Text),
        sa.Column("kit_lot", sa.String(200)),
        sa.Column("run_time", sa.String(40), nullable=False),
        sa.Column("time_source", sa.String(20), nullable=False),
        sa.Column("processed_utc", sa.String(40)),
        sa.Column("accepted_by_rules", sa.Boolean, nullable=False),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("review_status", sa.String(20), nullable=False),
        sa.Column("westgard", sa.Text),
        sa.Column("top_standard_level", sa.String(40)),
        sa.Column("top_standard_pg_ml", sa.Float),
        sa.Column("top_standard_od", sa.Float),
        sa.Column("curve_c", sa.Float),
        sa.Column("lloq_pg_ml", sa.Float),
        sa.Column("uloq_pg_ml", sa.Float),
        sa.Column("recorded_utc", sa.String(40), nullable=False),
        sa.Column("recorded_os_account", sa.String(200), nullable=False),
        sa.UniqueConstraint("run_id", name="uq_qc_runs_run_id"),
    )
    op.create_index("ix_qc_runs_run_time", "qc_runs", ["run_time"])
    op.create_table(
        "qc_controls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("qc_run_pk", sa.Integer, sa.ForeignKey("qc_runs.id"), nullable=False),
        sa.Column("level", sa.String(40), nullable=False),
        sa.Column("nominal_pg_ml", sa.Float),
        sa.Column("value_pg_ml", sa.Float),
        sa.Column("n_wells", sa.Integer, nullable=False),
        sa.Column("n_values", sa.Integer, nullable=False),
        sa.Column("wells", sa.Text),
        sa.UniqueConstraint("qc_run_pk", "level", name="uq_qc_controls_run_level"),
    )
    op.create_index("ix_qc_controls_qc_run_pk", "qc_controls", ["qc_run_pk"])


def downgrade() -> None:
    """Never used by il6assay (a study database is migrated forward, never dropped)."""
    raise NotImplementedError("il6assay databases are only migrated forward")
