"""Every dilution of a specimen is kept, so dilutions run on different plates can be combined.

Adds the ``dilution_results`` table (one row per run and dilutions.csv row,
one current row per study ID, visit and dilution) and
``sample_results.source_runs``. Rows pushed before keep no dilution rows
(their run folders' dilutions.csv was never read); their ``source_runs`` is
filled with their own run's id, the run that made them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create dilution_results, add and fill sample_results.source_runs; no row is changed else."""
    op.create_table(
        "dilution_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("study_id", sa.String(200), nullable=False),
        sa.Column("visit", sa.String(100), nullable=False),
        sa.Column("sample", sa.String(200)),
        sa.Column("dilution", sa.Float, nullable=False),
        sa.Column("result", sa.String(40), nullable=False),
        sa.Column("conc_pg_ml", sa.Float),
        sa.Column("ci_low_pg_ml", sa.Float),
        sa.Column("ci_high_pg_ml", sa.Float),
        sa.Column("od_mean", sa.Float),
        sa.Column("conc_cv_pct", sa.Float),
        sa.Column("lloq_pg_ml", sa.Float),
        sa.Column("uloq_pg_ml", sa.Float),
        sa.Column("flags", sa.Text, nullable=False),
        sa.Column("advice", sa.Text),
        sa.Column("wells", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("superseded_by", sa.Integer, sa.ForeignKey("dilution_results.id")),
        sa.Column("supersede_reason", sa.Text),
        sa.Column("superseded_utc", sa.String(40)),
    )
    op.create_index("ix_dilution_results_run_pk", "dilution_results", ["run_pk"])
    op.create_index("ix_dilution_results_study_id", "dilution_results", ["study_id"])
    # One current row per specimen and dilution: a second plate at the same dilution supersedes.
    op.create_index(
        "uq_dilutions_current",
        "dilution_results",
        ["study_id", "visit", "dilution"],
        unique=True,
        sqlite_where=sa.text("status = 'current'"),
        postgresql_where=sa.text("status = 'current'"),
    )
    op.add_column("sample_results", sa.Column("source_runs", sa.Text))
    op.execute(
        "UPDATE sample_results SET source_runs = "
        "(SELECT runs.run_id FROM runs WHERE runs.id = sample_results.run_pk)"
    )


def downgrade() -> None:
    """Never used by il6assay (a study database is migrated forward, never dropped)."""
    raise NotImplementedError("il6assay databases are only migrated forward")
