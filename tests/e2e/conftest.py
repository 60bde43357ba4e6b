"""End-to-end fixtures: both emulators on loopback, Airflow on SQLite, real DAGs run by dag.test."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lesync.demo import DAGS_DIR, load_dag, use_emulators
from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata database in the test session's private AIRFLOW_HOME."""
    assert os.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(DAGS_DIR), "tests/conftest.py sets it first"
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


@dataclass
class Org:
    """The running emulators plus small helpers to read what landed."""

    liveperson: Any
    salesforce: Any

    @property
    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.liveperson.state.clock.now() / 1000, dt.UTC)

    def transcripts(self) -> list[dict[str, Any]]:
        return self.salesforce.state.store.records("Chat_Transcript__c")

    def ids(self) -> Counter:
        return Counter(r["LP_Conversation_Id__c"] for r in self.transcripts())

    def expected_ids(self, start: dt.datetime, end: dt.datetime, channels=("chat", "messaging")) -> set[str]:
        """Ids of conversations a sync of [start, end) must bring: started in it (chats: ended)."""
        store, now = self.liveperson.state.store, self.liveperson.state.clock.now()
        lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        wanted = set()
        for channel in channels:
            for ordinal in store.indexes[channel].ordinals_starting_between(lo, hi - 1):
                entry = store.entry(channel, ordinal)
                if channel == "chat" and not entry.is_closed(now):
                    continue
                wanted.add(entry.conversation_id)
        return wanted

    @property
    def staging_root(self) -> Path:
        return Path(os.environ["LESYNC_STAGING_ROOT"])

    def run(self, dag_id: str, conf: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return load_dag(dag_id).test(run_conf=conf or {}, **kwargs)

    @staticmethod
    def states(run: Any) -> dict[str, str]:
        """Task id -> final state; mapped instances read like 'success x3'."""
        states: dict[str, list[str]] = {}
        for ti in run.get_task_instances():
            states.setdefault(ti.task_id, []).append(str(ti.state))
        return {
            task: v[0] if len(v) == 1 else f"{Counter(v).most_common(1)[0][0]} x{len(v)}"
            for task, v in states.items()
        }


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
