"""Periodic, daily and "Sync Chat" DAGs end to end against the emulators."""

from __future__ import annotations

import datetime as dt

import pytest

from lesync.config import load_integrations
from lesync.pipeline import tasks
from lesync.pipeline.plan import DAILY_LOOKBACK, PERIODIC_LOOKBACK

pytestmark = pytest.mark.e2e


def _by_id(org) -> dict[str, dict]:
    return {r["LP_Conversation_Id__c"]: r for r in org.transcripts()}


def _open_messaging(org) -> list[str]:
    store, now = org.liveperson.state.store, org.liveperson.state.clock.now()
    index = store.indexes["messaging"]
    return [
        store.entry("messaging", o).conversation_id
        for o in range(len(index))
        if not store.entry("messaging", o).is_closed(now)
    ]


def test_periodic_syncs_the_last_six_hours(org):
    run = org.run("lesync__demo__periodic", logical_date=org.now)
    assert str(run.state) == "success", org.states(run)
    landed = org.ids()
    assert max(landed.values()) == 1
    expected = org.expected_ids(org.now - PERIODIC_LOOKBACK, org.now)
    assert expected and expected <= set(landed)
    # Chats started well before the window stay out; messaging ones may come back on purpose
    # when they changed inside the window (LivePerson's latestUpdateTime search).
    too_old = org.now - PERIODIC_LOOKBACK - dt.timedelta(hours=1)
    old_chats = org.expected_ids(org.now - DAILY_LOOKBACK, too_old, channels=("chat",))
    assert old_chats and not (old_chats & set(landed)), "chats from before the window were synced"


def test_open_conversation_is_synced_again_once_it_closes(org):
    state = org.liveperson.state
    store, now_ms = state.store, state.clock.now()
    index = store.indexes["messaging"]
    still_open = [store.entry("messaging", o) for o in range(len(index))]
    still_open = [e for e in still_open if not e.is_closed(now_ms)]
    assert still_open, "the seed gives open messaging conversations"
    entry = max(still_open, key=lambda e: e.last_activity_ms)
    # A periodic run whose 6 hours end just after the conversation's last message: it is synced open.
    first_end = min(dt.datetime.fromtimestamp(entry.last_activity_ms / 1000 + 3600, dt.UTC), org.now)
    run = org.run("lesync__demo__periodic", logical_date=first_end)
    assert str(run.state) == "success", org.states(run)
    assert _by_id(org)[entry.conversation_id]["Status__c"] == "Open"
    assert not _by_id(org)[entry.conversation_id].get("End_Time__c")
    # It closes later; the next periodic run after that brings it again, closed.
    step = (entry.end_ms - now_ms) / 1000 + 60
    state.clock.advance(step)
    try:
        assert entry.is_closed(state.clock.now())
        run = org.run("lesync__demo__periodic", logical_date=org.now)
        assert str(run.state) == "success", org.states(run)
        record = _by_id(org)[entry.conversation_id]
        assert record["Status__c"] == "Closed" and record["End_Time__c"]
        assert org.ids()[entry.conversation_id] == 1
    finally:
        state.clock.advance(-step)


def test_daily_completes_what_periodic_runs_missed(org):
    run = org.run("lesync__demo__daily", logical_date=org.now)
    assert str(run.state) == "success", org.states(run)
    landed = org.ids()
    assert max(landed.values()) == 1
    assert org.expected_ids(org.now - DAILY_LOOKBACK, org.now) <= set(landed)


def test_sync_chat_brings_one_ended_conversation(org):
    state = org.liveperson.state
    now = state.clock.now()
    state.add_conversations(1, "chat", now - 8 * 3600 * 1000, now - 7 * 3600 * 1000)  # ended hours ago
    ended = state.store.entry("chat", len(state.store.indexes["chat"]) - 1)
    assert ended.is_closed(now) and ended.conversation_id not in org.ids()
    calls_before = org.salesforce.state.calls.total()
    run = org.run("lesync__demo__conversation", {"conversation_id": ended.conversation_id, "channel": "chat"})
    assert str(run.state) == "success", org.states(run)
    assert org.ids()[ended.conversation_id] == 1
    assert org.salesforce.state.calls.total() - calls_before < 15  # a handful, not a bulk job's worth


def test_sync_chat_refuses_an_open_conversation(org):
    still_open = _open_messaging(org)[0]
    run = org.run("lesync__demo__conversation", {"conversation_id": still_open, "channel": "messaging"})
    states = org.states(run)
    assert str(run.state) == "failed"
    assert states["extract"] == "failed" and states["load"] == "upstream_failed"
    integration = next(i for i in load_integrations() if i.name == "demo")
    unit = {"channel": "messaging", "conversation_id": still_open, "slice": "conversation"}
    with pytest.raises(
        tasks.SyncRefusedError, match=f"{still_open} is still open; Sync Chat works only on ended"
    ):
        tasks.extract(integration, unit, "refusal-check")
