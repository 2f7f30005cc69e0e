"""Alembic environment: run on the connection ``il6assay.db.engine.upgrade`` hands over."""

from __future__ import annotations

from alembic import context

from il6assay.db.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
