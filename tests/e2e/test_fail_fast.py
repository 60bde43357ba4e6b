"""Faults no retry can fix fail their task once, at once: no minutes of pointless retries.

Before, Airflow retried a wrong LivePerson secret three times per extract task with exponential
back-off (1, 2, 4 minutes): the run ended about 7 minutes later with the same error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
MANUAL = "lesync__demo__manual"
ONE_TRY_SECONDS = 60  # a retry would wait at least retry_delay (1 minute) first


def _with_wrong_secret(monkeypatch, conn_var: str, key: str) -> None:
    connection = json.loads(os.environ[conn_var])
    if key == "password":
        connection["password"] = "not-the-secret"
    else:
        connection["extra"][key] = "not-the-secret"
    monkeypatch.setenv(conn_var, json.dumps(connection))


def _tries(run, task_id: str) -> list[tuple[str, int]]:
    return [(str(ti.state), ti.try_number) for ti in run.get_task_instances() if ti.task_id == task_id]


def _run_one_day(org):
    end = org.now - dt.timedelta(hours=1)
    started = time.monotonic()
    run = org.run(MANUAL, {"start": (end - dt.timedelta(days=1)).isoformat(), "end": end.isoformat()})
    seconds = time.monotonic() - started
    print(f"run {run.state} after {seconds:.1f} s: {org.states(run)}")
    return run, seconds


def test_a_wrong_liveperson_secret_fails_each_extract_once(org, monkeypatch):
    _with_wrong_secret(monkeypatch, "AIRFLOW_CONN_LIVEPERSON_DEFAULT", "password")
    run, seconds = _run_one_day(org)
    assert str(run.state) == "failed"
    assert _tries(run, "extract") == [("failed", 1), ("failed", 1)], org.states(run)  # chat, messaging
    assert seconds < ONE_TRY_SECONDS, f"the run took {seconds:.0f} s: retried?"
    states = org.states(run)
    assert states["plan"] == "success" and "success" not in states.get("load", "")


def test_a_wrong_salesforce_secret_fails_the_first_salesforce_task_once(org, monkeypatch):
    _with_wrong_secret(monkeypatch, "AIRFLOW_CONN_SALESFORCE_DEFAULT", "consumer_secret")
    transcripts_before = len(org.transcripts())
    run, seconds = _run_one_day(org)
    assert str(run.state) == "failed"
    # The plan's org check is the run's first Salesforce call: it fails there, once, and nothing
    # is extracted from LivePerson for a run that could not load.
    assert _tries(run, "plan") == [("failed", 1)], org.states(run)
    assert "extract" not in org.states(run) or "success" not in org.states(run)["extract"]
    assert seconds < ONE_TRY_SECONDS, f"the run took {seconds:.0f} s: retried?"
    assert len(org.transcripts()) == transcripts_before
