"""Dead-letter replay selection on both backends: backoff, limits, mapping changes, queueing, leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lesync.state import LedgerOutcome, RetryPolicy, StateStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

POLICY = RetryPolicy(base=timedelta(minutes=10), cap=timedelta(hours=1))


def failure(lp_id: str, code: str, transient: bool) -> LedgerOutcome:
    return LedgerOutcome("chat", lp_id, "failed", error_code=code, transient=transient)


def pending(store: StateStore, now, **kw) -> dict[str, str]:
    kw.setdefault("max_attempts", 5)
    return {r["liveperson_id"]: r["reason"] for r in store.pending_replays("acme", now, **kw)}


@pytest.fixture
def replay_store(store_url) -> StateStore:
    store = StateStore(store_url, retry_policy=POLICY, replay_lease=timedelta(minutes=30))
    yield store
    store.dispose()


def test_transient_failures_come_back_after_an_exponential_backoff(replay_store: StateStore) -> None:
    store = replay_store
    store.record_outcomes("run-1", "acme", [failure("1", "UNABLE_TO_LOCK_ROW", True)], now=T0)
    assert pending(store, T0 + timedelta(minutes=9)) == {}
    assert pending(store, T0 + timedelta(minutes=10)) == {"1": "transient"}

    second = T0 + timedelta(minutes=10)
    store.record_outcomes("run-2", "acme", [failure("1", "UNABLE_TO_LOCK_ROW", True)], now=second)
    assert pending(store, second + timedelta(minutes=19)) == {}
    assert pending(store, second + timedelta(minutes=20)) == {"1": "transient"}
    status = store.record_status("acme", "1")
    assert status["next_retry_at"] == second + timedelta(minutes=20)

    for number in range(3, 9):  # backoff is capped at an hour
        store.record_outcomes(f"run-{number}", "acme", [failure("1", "UNABLE_TO_LOCK_ROW", True)], now=T0)
    assert store.record_status("acme", "1")["next_retry_at"] == T0 + timedelta(hours=1)


def test_transient_failures_stop_at_the_attempt_limit(replay_store: StateStore) -> None:
    store = replay_store
    for number in range(3):
        store.record_outcomes(f"run-{number}", "acme", [failure("1", "SERVER_UNAVAILABLE", True)], now=T0)
    late = T0 + timedelta(days=1)
    assert pending(store, late, max_attempts=4) == {"1": "transient"}
    assert pending(store, late, max_attempts=3) == {}
    store.queue_replay("acme", ["1"])
    assert pending(store, late, max_attempts=3) == {"1": "queued"}


def test_permanent_failures_wait_for_a_new_mapping_or_a_request(replay_store: StateStore) -> None:
    store = replay_store
    store.record_outcomes(
        "run-1", "acme", [failure("1", "INVALID_FIELD", False)], mapping_version="v1", now=T0
    )
    store.record_outcomes("run-1", "acme", [failure("2", "INVALID_FIELD", False)], now=T0)
    late = T0 + timedelta(days=30)

    assert pending(store, late) == {}
    assert pending(store, late, mapping_version="v1") == {}
    assert pending(store, late, mapping_version="v2") == {"1": "mapping_changed"}


def test_queue_replay_by_error_code_run_and_all(replay_store: StateStore) -> None:
    store = replay_store
    store.record_outcomes("run-1", "acme", [failure("1", "INVALID_FIELD", False)], now=T0)
    store.record_outcomes("run-2", "acme", [failure("2", "STRING_TOO_LONG", False)], now=T0)
    store.record_outcomes("run-2", "acme", [failure("3", "INVALID_FIELD", False)], now=T0)
    store.record_outcomes("run-2", "acme", [LedgerOutcome("chat", "4", "created")], now=T0)

    assert store.queue_replay("acme", error_code="INVALID_FIELD") == 2
    assert pending(store, T0) == {"1": "queued", "3": "queued"}
    assert store.queue_replay("acme", run_id="run-2") == 2
    assert set(pending(store, T0)) == {"1", "2", "3"}
    with pytest.raises(ValueError, match="exactly one"):
        store.queue_replay("acme", ["1"], error_code="X")


def test_queue_replay_all_pending_and_ids_unknown_to_the_ledger(replay_store: StateStore) -> None:
    store = replay_store
    store.record_outcomes("run-1", "acme", [failure("1", "INVALID_FIELD", False)], now=T0)
    assert store.queue_replay("acme", all_pending=True) == 1
    with pytest.raises(ValueError, match="pass channel"):
        store.queue_replay("acme", ["missing-in-salesforce"])
    store.queue_replay("acme", ["missing-in-salesforce"], channel="messaging")

    rows = {r["liveperson_id"]: r for r in store.pending_replays("acme", T0, max_attempts=5)}
    assert set(rows) == {"1", "missing-in-salesforce"}
    assert (rows["missing-in-salesforce"]["channel"], rows["missing-in-salesforce"]["operation"]) == (
        "messaging",
        "queued",
    )
    store.record_outcomes(
        "run-2", "acme", [LedgerOutcome("messaging", "missing-in-salesforce", "created")], now=T0
    )
    assert set(pending(store, T0)) == {"1"}


def test_a_queued_replay_of_a_resolved_record_comes_back(replay_store: StateStore) -> None:
    store = replay_store
    store.record_outcomes(
        "run-1", "acme", [LedgerOutcome("chat", "1", "created", salesforce_id="0Mw1")], now=T0
    )
    store.queue_replay("acme", ["1"])  # reconcile: deleted in Salesforce
    assert pending(store, T0) == {"1": "queued"}


def test_taken_replays_are_left_alone_until_an_outcome_or_the_lease_ends(replay_store: StateStore) -> None:
    store = replay_store
    store.record_outcomes(
        "run-1", "acme", [failure("1", "HTTP_5XX", True), failure("2", "HTTP_5XX", True)], now=T0
    )
    due = T0 + timedelta(hours=1)
    assert store.mark_replay_taken("acme", ["1", "2"], "run-2", now=due) == 2
    assert pending(store, due + timedelta(minutes=29)) == {}
    store.record_outcomes("run-2", "acme", [LedgerOutcome("chat", "1", "created")], now=due)
    assert pending(store, due + timedelta(minutes=29)) == {}
    assert pending(store, due + timedelta(minutes=30)) == {"2": "transient"}
    assert store.record_status("acme", "1")["replay_taken_by"] is None
