"""The incremental (near-real-time) DAG end to end: runs from the high-water mark, on the
emulators' clock, with the clock moved between runs as time passes."""

from __future__ import annotations

import datetime as dt

import pytest

from lesync.pipeline import operations, tasks

pytestmark = pytest.mark.e2e

DAG = "lesync__demo__incremental"
SETTLE = dt.timedelta(minutes=5)


def _mark(org):
    integration = next(i for i in _integrations() if i.name == "demo")
    return operations.state_store(integration).get_watermark("demo", tasks.INCREMENTAL_STREAM)


def _integrations():
    from lesync.config import load_integrations

    return load_integrations()


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _closing_between(org, channel: str, lo: dt.datetime, hi: dt.datetime) -> set[str]:
    """Conversations of ``channel`` whose end (chat) or close (messaging) lies in (lo, hi]."""
    store = org.liveperson.state.store
    entries = (store.entry(channel, o) for o in range(len(store.indexes[channel])))
    return {e.conversation_id for e in entries if _ms(lo) < e.end_ms <= _ms(hi)}


def test_a_conversation_ending_between_two_runs_lands_in_the_second_once(org):
    state = org.liveperson.state
    first_at = org.now
    # Chats that begin a minute before the first run and end after it: not searchable then.
    state.add_conversations(6, "chat", _ms(first_at - dt.timedelta(minutes=1)), _ms(first_at))
    chats = state.store.indexes["chat"]
    fresh = [state.store.entry("chat", o) for o in range(len(chats) - 6, len(chats))]
    late = [e for e in fresh if e.end_ms > _ms(first_at)]
    assert late, "the seeded durations give chats that end after the first run"
    # Messaging conversations open at the first run, some closing in the 3 minutes after it.
    state.store.add(
        "messaging",
        12,
        _ms(first_at - dt.timedelta(minutes=20)),
        _ms(first_at - dt.timedelta(minutes=10)),
        now_ms=_ms(first_at + dt.timedelta(minutes=3)),
    )
    closing = _closing_between(org, "messaging", first_at, first_at + dt.timedelta(minutes=3))
    assert closing, "the seed closes some of them after the first run"

    run = org.run(DAG, logical_date=first_at)
    assert str(run.state) == "success", org.states(run)
    assert _mark(org) == first_at - SETTLE
    after_first = org.ids()
    assert not {e.conversation_id for e in late} & set(after_first)
    assert org.expected_ids(first_at - dt.timedelta(minutes=65), first_at - SETTLE) <= set(after_first)
    by_id = {r["LP_Conversation_Id__c"]: r for r in org.transcripts()}
    assert {by_id[cid]["Status__c"] for cid in closing} == {"Open"}  # synced while open

    # Time passes: every late chat ends, and some messaging conversations close.
    second_at = _moment(max(e.end_ms for e in late)) + SETTLE + dt.timedelta(minutes=1)
    step = (second_at - first_at).total_seconds()
    state.clock.advance(step)
    try:
        ended_chats = _closing_between(org, "chat", first_at, second_at) & {e.conversation_id for e in fresh}
        closed_messaging = _closing_between(org, "messaging", first_at, second_at)
        calls_before = state.calls.total()
        run = org.run(DAG, logical_date=second_at)
        assert str(run.state) == "success", org.states(run)
        assert state.calls.total() > calls_before
        landed = org.ids()
        assert {e.conversation_id for e in late} <= ended_chats <= set(landed)
        by_id = {r["LP_Conversation_Id__c"]: r for r in org.transcripts()}
        assert closing <= closed_messaging
        assert {by_id[cid]["Status__c"] for cid in closed_messaging} == {"Closed"}
        assert all(by_id[cid]["End_Time__c"] for cid in closed_messaging)
        assert max(landed.values()) == 1, "a conversation was loaded twice"
        assert _mark(org) == second_at - SETTLE

        # A run with nothing settled since the mark ends at once, without a LivePerson call.
        calls_before = state.calls.total()
        run = org.run(DAG, logical_date=second_at - dt.timedelta(seconds=30))
        assert str(run.state) == "success", org.states(run)
        assert org.states(run)["plan"] == "success" and org.states(run)["load"] == "skipped"
        assert state.calls.total() == calls_before
        assert _mark(org) == second_at - SETTLE
        assert org.ids() == landed
    finally:
        state.clock.advance(-step)
