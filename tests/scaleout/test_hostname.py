"""``lesync.hostname.get_hostname``: the worker name Airflow records on task instances."""

from __future__ import annotations

import socket

from lesync.hostname import ENV_VAR, get_hostname


def test_worker_name_from_environment(monkeypatch):
    monkeypatch.setenv(ENV_VAR, " worker-7 ")
    assert get_hostname() == "worker-7"


def test_falls_back_to_fqdn(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert get_hostname() == socket.getfqdn()
    monkeypatch.setenv(ENV_VAR, "  ")
    assert get_hostname() == socket.getfqdn()


def test_airflow_resolves_the_setting(monkeypatch):
    """The dotted path in AIRFLOW__CORE__HOSTNAME_CALLABLE is what the task runner imports."""
    from airflow.sdk.api.client import get_hostname as airflow_get_hostname

    monkeypatch.setenv("AIRFLOW__CORE__HOSTNAME_CALLABLE", "lesync.hostname.get_hostname")
    monkeypatch.setenv(ENV_VAR, "lesync-worker-x")
    assert airflow_get_hostname() == "lesync-worker-x"
