"""End-to-end fixtures: both emulators on loopback, Airflow on SQLite, real DAGs run by dag.test."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from e2e_org import Org

from lesync.demo import DAGS_DIR, use_emulators
from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata database in the test session's private AIRFLOW_HOME."""
    assert os.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(DAGS_DIR), "tests/conftest.py sets it first"
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


@pytest.fixture(scope="module")
def org(airflow_db, tmp_path_factory) -> Org:
    """Fresh emulators per test module: 300 conversations over the last 2 days."""
    data = tmp_path_factory.mktemp("emulators")
    now_ms = int(dt.datetime.now(dt.UTC).timestamp()) // 60 * 60000
    liveperson = start_liveperson(
        LivePersonEmulatorConfig(seed=11, conversations=300, days=2, now_ms=now_ms), data_dir=data
    )
    salesforce = start_salesforce(SalesforceEmulatorConfig(), data_dir=data)
    use_emulators(liveperson, salesforce)
    use_fresh_state_store(data / "state.db")
    yield Org(liveperson, salesforce)
    liveperson.stop()
    salesforce.stop()


def use_fresh_state_store(path) -> None:
    """A state store of the module's own: the ledger and open conversations of fresh emulators."""
    from lesync.pipeline import operations

    os.environ["LESYNC_STATE_URL"] = f"sqlite:///{path}"
    operations._store.cache_clear()
