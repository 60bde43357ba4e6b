"""Open conversations, high-water marks, the rate budget and retention, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lesync.state import LedgerOutcome, StateStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_open_conversations_are_remembered_checked_and_forgotten(store: StateStore) -> None:
    assert store.remember_open("acme", "messaging", ["c1", "c2", "c2"], now=T0) == 2
    assert store.remember_open("acme", "messaging", ["c2", "c3"], now=T0 + timedelta(hours=1)) == 1
    assert store.touch_open_checked("acme", "messaging", ["c1"], now=T0 + timedelta(hours=2)) == 1
    assert store.touch_open_checked("acme", "messaging", ["c1"], now=T0 + timedelta(hours=3)) == 1

    rows = store.open_conversations("acme", "messaging", limit=10)
    assert [r["conversation_id"] for r in rows] == ["c2", "c3", "c1"]  # never checked first
    c1 = rows[-1]
    assert (c1["checks"], c1["last_checked"], c1["first_seen_open"]) == (2, T0 + timedelta(hours=3), T0)
    assert rows[0]["first_seen_open"] == T0  # remembering again keeps the first sighting
    assert store.forget_open("acme", "messaging", ["c1", "c9"]) == 1
    assert [r["conversation_id"] for r in store.open_conversations("acme", "messaging", limit=1)] == ["c2"]
    assert store.open_conversations("acme", "chat", limit=10) == []


def test_watermarks_never_move_backwards(store: StateStore) -> None:
    assert store.get_watermark("acme", "messaging") is None
    assert store.set_watermark("acme", "messaging", T0) == T0
    assert store.set_watermark("acme", "messaging", T0 - timedelta(days=1)) == T0
    assert store.set_watermark("acme", "messaging", T0 + timedelta(hours=1)) == T0 + timedelta(hours=1)
    assert store.get_watermark("acme", "messaging") == T0 + timedelta(hours=1)
    assert store.get_watermark("acme", "chat") is None


def test_rate_tokens_burst_then_refill(store: StateStore) -> None:
    take = store.take_rate_tokens
    assert [take("lp:1", 1, rate_per_second=2, burst=3, now=100.0) for _ in range(3)] == [0, 0, 0]
    assert take("lp:1", 1, rate_per_second=2, burst=3, now=100.0) == pytest.approx(0.5)
    assert take("lp:1", 1, rate_per_second=2, burst=3, now=100.0) == pytest.approx(1.0)
    # 10 s later the bucket is full again (never above the burst)
    assert take("lp:1", 3, rate_per_second=2, burst=3, now=110.0) == 0
    assert take("lp:1", 1, rate_per_second=2, burst=3, now=110.0) == pytest.approx(0.5)
    assert take("lp:2", 1, rate_per_second=2, burst=3, now=110.0) == 0
    with pytest.raises(ValueError, match="rate_per_second"):
        take("lp:1", 1, rate_per_second=0, burst=3)


def test_purge_keeps_open_failures_and_recent_rows(store: StateStore) -> None:
    old, recent = T0 - timedelta(days=100), T0 - timedelta(days=10)
    store.start_run("acme", "window", "old-run", old, old, now=old)
    store.finish_run("old-run", {}, "success", now=old)
    store.start_run("acme", "window", "new-run", recent, recent, now=recent)
    store.record_outcomes("old-run", "acme", [LedgerOutcome("chat", "healed", "created")], now=old)
    store.record_outcomes(
        "old-run", "acme", [LedgerOutcome("chat", "dead", "failed", error_code="INVALID_FIELD")], now=old
    )
    store.record_outcomes("new-run", "acme", [LedgerOutcome("chat", "fresh", "created")], now=recent)

    deleted = store.purge(T0, ledger_days=90)

    assert deleted == {"runs": 1, "outcomes": 1, "records": 1}
    assert [r["run_id"] for r in store.latest_runs("acme")] == ["new-run"]
    assert store.record_status("acme", "healed") is None
    assert [r["liveperson_id"] for r in store.failed_records("acme")] == ["dead"]
    assert len(store.record_history("acme", "dead")) == 1
    assert store.record_status("acme", "fresh") is not None


def test_open_conversations_started_before_a_window_are_the_ones_to_recheck(store: StateStore) -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    started = {"old": t0, "new": t0 + timedelta(days=2)}
    store.remember_open("emea", "messaging", ["old", "new", "unknown"], started=started)
    due = store.open_conversations("emea", "messaging", started_before=t0 + timedelta(days=1))
    assert sorted(row["conversation_id"] for row in due) == ["old", "unknown"]
    assert len(store.open_conversations("emea", "messaging")) == 3
