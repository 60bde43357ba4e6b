"""Alembic migrations of the state store (run through ``lesync.state.migrate``)."""
