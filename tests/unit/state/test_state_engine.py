"""Finding the store (env, Airflow connection, embedded default) and never showing its password."""

from __future__ import annotations

import json
import logging
import sqlite3
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lesync.state import StateStore, StateStoreError
from lesync.state.engine import masked, resolve_url, url_from_connection

PASSWORD = "pw-Never-Show-7f3a"


def connection(conn_type: str, **fields) -> SimpleNamespace:
    defaults = {"host": None, "port": None, "login": None, "password": None, "schema": None}
    return SimpleNamespace(conn_type=conn_type, **{**defaults, **fields})


def test_postgres_connection_becomes_a_psycopg2_url() -> None:
    conn = connection("postgres", host="db", port=5433, login="lesync", password=PASSWORD, schema="lesync")
    url = url_from_connection(conn)
    assert (url.drivername, url.host, url.port, url.username, url.database) == (
        "postgresql+psycopg2",
        "db",
        5433,
        "lesync",
        "lesync",
    )
    assert url.password == PASSWORD
    assert PASSWORD not in masked(url)


def test_sqlite_connection_and_unknown_types() -> None:
    assert url_from_connection(connection("sqlite", host="/data/state.db")).database == "/data/state.db"
    with pytest.raises(StateStoreError, match="needs the database file path"):
        url_from_connection(connection("sqlite"))
    with pytest.raises(StateStoreError, match="'postgres' or 'sqlite'"):
        url_from_connection(connection("mysql", host="db"))


def test_env_url_wins_then_the_airflow_connection_then_the_embedded_file(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("LESYNC_STATE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_LESYNC_STATE", raising=False)
    monkeypatch.setenv("LESYNC_INCLUDE_DIR", str(tmp_path / "include"))
    import lesync.config

    monkeypatch.setattr(lesync.config, "INCLUDE_DIR", tmp_path / "include")
    assert resolve_url().database == str(tmp_path / ".lesync" / "state.db")

    conn = {"conn_type": "postgres", "host": "pg", "login": "u", "password": PASSWORD, "schema": "lesync"}
    monkeypatch.setenv("AIRFLOW_CONN_LESYNC_STATE", json.dumps(conn))
    assert (resolve_url().host, resolve_url().password) == ("pg", PASSWORD)

    monkeypatch.setenv("AIRFLOW_CONN_LESYNC_STATE", f"sqlite:///{tmp_path}/conn.db")
    assert resolve_url().database == f"{tmp_path}/conn.db"

    monkeypatch.setenv("LESYNC_STATE_URL", f"sqlite:///{tmp_path}/env.db")
    assert resolve_url().database == f"{tmp_path}/env.db"
    monkeypatch.setenv("LESYNC_STATE_URL", "not a url")
    with pytest.raises(StateStoreError, match="LESYNC_STATE_URL is not an SQLAlchemy URL"):
        resolve_url()


def test_the_password_never_appears_in_repr_errors_or_logs(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    url = make_url(f"postgresql+psycopg2://lesync:{PASSWORD}@127.0.0.1:1/lesync")
    store = StateStore(url)
    with pytest.raises(StateStoreError) as failure:
        store.migrate()

    shown = " ".join([repr(store), store.url, str(failure.value), caplog.text])
    assert PASSWORD not in shown
    assert "lesync:***@127.0.0.1:1" in str(failure.value)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


def test_embedded_sqlite_uses_wal_and_a_busy_timeout(tmp_path) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/state.db")
    store.migrate()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000
    assert sqlite3.connect(tmp_path / "state.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_secrets_in_messages_and_summaries_are_not_stored(store: StateStore) -> None:
    from lesync.state import LedgerOutcome

    message = (
        f"POST https://user:{PASSWORD}@x.my.salesforce.com failed; Authorization: Bearer 00Dxx!{PASSWORD} "
        f'access_token={PASSWORD}&x=1 {{"client_secret": "{PASSWORD}"}}'
    )
    store.start_run("acme", "window", "run", None, None)
    store.record_outcomes(
        "run", "acme", [LedgerOutcome("chat", "1", "failed", error_code="X", message=message)]
    )
    store.finish_run(
        "run",
        {"extracted": 1, "password": PASSWORD, "note": f"sid={PASSWORD}"},
        "failed",
        {"detail": f"Bearer {PASSWORD}"},
    )

    with store.engine.connect() as conn:
        dump = " ".join(
            str(row)
            for table in ("record_outcomes", "record_status", "sync_runs")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        )
    assert PASSWORD not in dump
    assert "Bearer ***" in dump and "x.my.salesforce.com" in dump
