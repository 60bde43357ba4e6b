"""Alembic environment: runs on the connection ``lesync.state.migrate`` hands over (online only)."""

from __future__ import annotations

from alembic import context

from lesync.state.schema import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `python -m lesync state migrate`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
