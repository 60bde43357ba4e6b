"""The store's suite runs on SQLite (a temporary file) and on the loopback PostgreSQL.

PostgreSQL: one uniquely named database per test process, migrated once, emptied before each
test and dropped at the end. Skipped only when no PostgreSQL answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from lesync.state import StateStore
from lesync.state.schema import metadata

PG_ADMIN_URL = os.environ.get("LESYNC_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _admin_engine():
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[URL]:
    """A fresh database on the loopback PostgreSQL, dropped after the session."""
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError:
        admin.dispose()
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    name = f"lesync_state_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name)
    try:
        StateStore(url).migrate()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty(store: StateStore) -> None:
    with store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> URL:
    """The URL of a migrated, empty store on each backend."""
    if request.param == "sqlite":
        url = URL.create("sqlite", database=str(tmp_path / "state.db"))
        StateStore(url).migrate()
        return url
    url = request.getfixturevalue("postgres_url")
    probe = StateStore(url)
    _empty(probe)
    probe.dispose()
    return url


@pytest.fixture
def store(store_url) -> Iterator[StateStore]:
    store = StateStore(store_url)
    yield store
    store.dispose()
