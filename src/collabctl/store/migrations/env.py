"""Alembic environment: always run with a connection handed in by collabctl."""

from __future__ import annotations

from alembic import context

from collabctl.store.models import schema_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("collabctl migrations run through `collabctl db upgrade`")

context.configure(
    connection=connection,
    # with the partial unique indexes, which the classes leave out (see schema_metadata)
    target_metadata=schema_metadata(),
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
