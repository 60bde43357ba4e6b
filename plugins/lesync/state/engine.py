"""Where the state store lives and how to reach it, with the password never shown.

Resolution order (first that applies):

1. ``LESYNC_STATE_URL`` (an SQLAlchemy URL): for tests and operators who want to point a
   command at a given database without touching Airflow;
2. the Airflow connection ``lesync_state`` (or the id given): type ``postgres`` (host, port,
   schema = database, login, password) or ``sqlite`` (host = the file path, or a URI
   ``sqlite:////path/state.db``);
3. the embedded default: SQLite at ``<project root>/.lesync/state.db`` (project root = the folder
   holding ``include/``).

SQLite gets WAL (readers never wait for the writer), a busy timeout (writers queue instead of
failing) and ``BEGIN IMMEDIATE`` on write transactions, so several task processes on one host
can write at once. PostgreSQL is the store for several workers.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "lesync_state"
URL_ENV = "LESYNC_STATE_URL"
SQLITE_BUSY_TIMEOUT_SECONDS = 60
WRITE_OPTION = "lesync_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
POSTGRES_TYPES = ("postgres", "postgresql")


class StateStoreError(RuntimeError):
    """The state store cannot be reached or configured; the message says what to fix (no secrets)."""


def default_sqlite_path() -> Path:
    """``<project root>/.lesync/state.db``; the project root is where ``include/`` lives."""
    from lesync.config import INCLUDE_DIR

    return Path(INCLUDE_DIR).resolve().parent / ".lesync" / "state.db"


def masked(url: URL | str) -> str:
    """The URL as it may be logged: password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL may still hold a secret: show nothing of it
        return "<unparseable database URL>"


def resolve_url(conn_id: str = DEFAULT_CONN_ID) -> URL:
    """The store's URL by the order in the module docstring."""
    if os.environ.get(URL_ENV):
        return _parse(os.environ[URL_ENV], f"${URL_ENV}")
    connection = _airflow_connection(conn_id)
    if connection is not None:
        return url_from_connection(connection, conn_id)
    path = default_sqlite_path()
    return URL.create("sqlite", database=str(path))


def _parse(text: str, source: str) -> URL:
    try:
        return make_url(text)
    except Exception:
        raise StateStoreError(
            f"{source} is not an SQLAlchemy URL; expected e.g. postgresql+psycopg2://user@host/db "
            "or sqlite:////path/state.db"
        ) from None


def _airflow_connection(conn_id: str) -> Any | None:
    """The Airflow connection, or None when it is not defined (the embedded default applies)."""
    try:
        from airflow.exceptions import AirflowNotFoundException
        from airflow.sdk import BaseHook
    except ImportError:  # lesync tools used without Airflow installed
        return None
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def url_from_connection(connection: Any, conn_id: str = DEFAULT_CONN_ID) -> URL:
    """An SQLAlchemy URL from an Airflow connection of type postgres or sqlite."""
    conn_type = (connection.conn_type or "").lower()
    if conn_type in POSTGRES_TYPES:
        return URL.create(
            "postgresql+psycopg2",
            username=connection.login or None,
            password=connection.password or None,
            host=connection.host or None,
            port=connection.port or None,
            database=connection.schema or None,
        )
    if conn_type == "sqlite":
        # The connection form puts the file in host; a URI (sqlite:////path/state.db) in schema.
        path = connection.host or connection.schema
        if not path:
            raise StateStoreError(f"connection {conn_id!r} (sqlite) needs the database file path as host")
        return URL.create("sqlite", database=path)
    raise StateStoreError(
        f"connection {conn_id!r} has type {conn_type or 'none'!r}; the state store needs a 'postgres' "
        "or 'sqlite' connection (or delete it to use the embedded SQLite file)"
    )


def build_engine(url: URL | str) -> Engine:
    """An engine for the store: SQLite tuned for several writer processes, PostgreSQL pre-pinged."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if url.get_backend_name() == "postgresql":
        return create_engine(
            url, pool_pre_ping=True, pool_size=2, max_overflow=2, executemany_mode="values_plus_batch"
        )
    raise StateStoreError(
        f"state store URL {masked(url)} uses {url.get_backend_name()!r}; use postgresql or sqlite"
    )


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        prepare_sqlite_file(Path(url.database))
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def prepare_sqlite_file(path: Path) -> None:
    """Create the file in WAL mode once. WAL is a property of the file, so later connections need
    no exclusive lock to set it; switching a brand-new file can meet another process doing the
    same, and SQLite then answers "locked" at once instead of waiting: retry until the timeout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
    while True:
        try:
            with closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)) as database:
                if database.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    database.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise StateStoreError(f"cannot open the SQLite state store {path}: {error}") from None
            time.sleep(0.05)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: ``BEGIN IMMEDIATE`` on SQLite (the write lock up front, so two
    writers queue instead of deadlocking on a lock upgrade); a plain transaction on PostgreSQL."""
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
        yield connection
