"""Alembic, configured in code: ``upgrade(engine)`` brings the store to the head revision.

No ``alembic.ini`` is needed at run time; the scripts live in ``migrations/`` inside the package
(shipped with it). On PostgreSQL an advisory lock makes concurrent ``migrate`` calls (two tasks
starting at once) queue; on SQLite the write transaction does the same.
"""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from lesync.state.engine import write_transaction
from lesync.state.schema import VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATE_LOCK_KEY = 0x6C65_7379_6E63  # "lesync": one key for schema changes
SQLITE_LOCKED_RETRIES = 5


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "lesync/state/migrations has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Upgrade to ``revision`` (default head); a no-op when the store is already there."""
    head = head_revision()
    if revision == "head" and current_revision(engine) == head:
        return head
    for attempt in range(SQLITE_LOCKED_RETRIES + 1):
        try:
            _upgrade_locked(engine, revision)
            break
        except OperationalError as error:
            if not _sqlite_locked(engine, error) or attempt == SQLITE_LOCKED_RETRIES:
                raise
            time.sleep(0.1 * (attempt + 1))
    return current_revision(engine) or ""


def _upgrade_locked(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with write_transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _sqlite_locked(engine: Engine, error: OperationalError) -> bool:
    """SQLite may answer "locked" at once (no busy wait) when waiting could deadlock: retry."""
    return engine.dialect.name == "sqlite" and "locked" in str(error.orig)
