"""One subject, one spelling: each result stores its study ID's spelling key, indexed.

Adds ``sample_results.study_key`` (the study ID NFKC-normalised, case-folded,
whitespace removed, every dash written ``-``) with an index, and fills it for
the rows already stored. A push then finds a study ID stored under another
spelling with one indexed lookup per run, however large the study.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _key(study_id: str) -> str:
    """The spelling key as of this migration (il6assay.plate.samples.spelling_key)."""
    text = unicodedata.normalize("NFKC", study_id).casefold()
    text = "".join("-" if unicodedata.category(ch) == "Pd" else ch for ch in text)
    return re.sub(r"\s+", "", text)


def upgrade() -> None:
    """Add, fill and index sample_results.study_key; no other value changes."""
    op.add_column("sample_results", sa.Column("study_key", sa.String(200)))
    bind = op.get_bind()
    table = sa.table("sample_results", sa.column("study_id"), sa.column("study_key"))
    ids = bind.execute(sa.select(table.c.study_id).distinct()).scalars().all()
    for study_id in ids:
        bind.execute(
            table.update().where(table.c.study_id == study_id).values(study_key=_key(study_id))
        )
    op.create_index("ix_sample_results_study_key", "sample_results", ["study_key"])


def downgrade() -> None:
    """Never used by il6assay (a study database is migrated forward, never dropped)."""
    raise NotImplementedError("il6assay databases are only migrated forward")
