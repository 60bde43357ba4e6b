"""UI tests sign in through Airflow's SimpleAuthManager with two users: an admin and a viewer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ui_seed import PASSWORDS, USERS


@pytest.fixture
def auth_env(tmp_path, monkeypatch):
    """Airflow configured for SimpleAuthManager with our users; returns the passwords file."""
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    monkeypatch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER",
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    )
    monkeypatch.setenv(
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", ",".join(f"{u}:{r}" for u, r in USERS.items())
    )
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "lesync-ui-test-only-" + "x" * 64)
    return passwords


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata database in this process's AIRFLOW_HOME (token checks read it)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
