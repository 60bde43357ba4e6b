"""The store's suite runs on SQLite (a temporary file) and on the loopback PostgreSQL.

PostgreSQL: one uniquely named database per test process, migrated once, emptied before each
test and dropped at the end. Skipped only when no PostgreSQL answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

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
def fresh_url(request, tmp_path) -> Iterator[URL]:
    """The URL of an empty, unmigrated database on each backend (PostgreSQL: created and dropped)."""
    if request.param == "sqlite":
        yield URL.create("sqlite", database=str(tmp_path / "fresh.db"))
        return
    request.getfixturevalue("postgres_url")  # skips when PostgreSQL is absent
    admin = _admin_engine()
    name = f"lesync_state_fresh_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, migrated once and copied by each test (migrating costs ~0.1 s)."""
    path = tmp_path_factory.mktemp("state-template") / "state.db"
    store = StateStore(URL.create("sqlite", database=str(path)))
    store.migrate()
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> URL:
    """The URL of a migrated, empty store on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "state.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return URL.create("sqlite", database=str(path))
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
