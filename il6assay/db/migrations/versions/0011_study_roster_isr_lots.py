"""The study roster, incurred-sample reanalysis and kit-lot bridges (issue 25).

Adds ``study_subjects`` (the enrolled study IDs, with their TR39 skeleton),
``isr_results`` (repeats of study samples kept beside their originals),
``lot_bridges`` (signed kit-lot bridging decisions) and
``sample_results.collection_date``; no existing row or value changes.

Revision ID: 0011
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create study_subjects, isr_results, lot_bridges; add sample_results.collection_date."""
    op.add_column("sample_results", sa.Column("collection_date", sa.String(40)))
    op.create_table(
        "study_subjects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("study_id", sa.String(200), nullable=False),
        sa.Column("skeleton", sa.String(200), nullable=False),
        sa.Column("site", sa.String(200)),
        sa.Column("enrolled_date", sa.String(40)),
        sa.Column("imported_utc", sa.String(40), nullable=False),
        sa.Column("imported_os_account", sa.String(200), nullable=False),
        sa.Column("imported_by", sa.String(200)),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.UniqueConstraint("study_id", name="uq_study_subjects_study_id"),
    )
    op.create_index("ix_study_subjects_skeleton", "study_subjects", ["skeleton"])
    op.create_table(
        "isr_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("study_id", sa.String(200), nullable=False),
        sa.Column("visit", sa.String(100), nullable=False),
        sa.Column("sample", sa.String(200)),
        sa.Column("dilution", sa.String(40)),
        sa.Column("result", sa.String(40), nullable=False),
        sa.Column("conc_pg_ml", sa.Float),
        sa.Column("lloq_pg_ml", sa.Float),
        sa.Column("uloq_pg_ml", sa.Float),
        sa.Column("flags", sa.Text, nullable=False),
        sa.Column(
            "original_result_pk", sa.Integer, sa.ForeignKey("sample_results.id"), nullable=False
        ),
        sa.Column("stored_utc", sa.String(40), nullable=False),
        sa.UniqueConstraint("run_pk", "study_id", "visit", name="uq_isr_run_specimen"),
    )
    op.create_index("ix_isr_results_run_pk", "isr_results", ["run_pk"])
    op.create_index("ix_isr_results_study_id", "isr_results", ["study_id"])
    op.create_table(
        "lot_bridges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("old_lot", sa.String(200), nullable=False),
        sa.Column("new_lot", sa.String(200), nullable=False),
        sa.Column("old_run_id", sa.String(200), nullable=False),
        sa.Column("new_run_id", sa.String(200), nullable=False),
        sa.Column("n_pairs", sa.Integer, nullable=False),
        sa.Column("ratio", sa.Float, nullable=False),
        sa.Column("ci90_low", sa.Float, nullable=False),
        sa.Column("ci90_high", sa.Float, nullable=False),
        sa.Column("limit_low", sa.Float, nullable=False),
        sa.Column("limit_high", sa.Float, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("pairs", sa.Text, nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("web_accounts.id")),
        sa.Column("signed_by", sa.String(200), nullable=False),
        sa.Column("signed_utc", sa.String(40), nullable=False),
        sa.Column("signed_os_account", sa.String(200), nullable=False),
    )
    op.create_index("ix_lot_bridges_old_lot", "lot_bridges", ["old_lot"])
    op.create_index("ix_lot_bridges_new_lot", "lot_bridges", ["new_lot"])


def downgrade() -> None:
    """Never used by il6assay (a study database is migrated forward, never dropped)."""
    raise NotImplementedError("il6assay databases are only migrated forward")
