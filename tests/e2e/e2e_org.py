"""The emulated org of an e2e test: both emulators, and what a test asks of them (its own module,
imported by name: ``from conftest import ...`` would find whichever conftest came first on sys.path)."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lesync.demo import load_dag


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
