"""Messaging search by start and by latestUpdateTime, and conversation by id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lpfake import conversation

from lesync.liveperson import DEFAULT_CONTENT, partial_reason
from lesync.liveperson.messaging import is_open, lookback_slices
from lesync.liveperson.windows import MESSAGING_MAX_INTERVAL
from lesync.window import Window

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=6)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def ids(records):
    return [r["info"]["conversationId"] for r in records]


def test_started_in_window_plus_started_earlier_and_updated_in_window(fake, client):
    fake.conversations = [
        conversation(1, ms(START) + 1),  # started in the window
        conversation(2, ms(START) - 86_400_000, updated_ms=ms(START) + 5),  # older, closed in window
        conversation(3, ms(START) - 86_400_000),  # older, untouched: belongs to an earlier window
        conversation(4, ms(START) - 60_000, updated_ms=ms(START) + 9),  # in the rounding overlap
        conversation(5, ms(START) + 2, updated_ms=ms(START) + 10),  # found by both searches
    ]
    got = ids(client.conversations(START, END))
    assert sorted(got) == ["m1", "m2", "m4", "m5"] and len(got) == 4
    first, second = fake.bodies
    assert "latestUpdateTime" not in first
    assert second["latestUpdateTime"] == {"from": ms(START)}
    assert second["start"]["to"] == ms(START)
    assert second["start"]["to"] - second["start"]["from"] <= 89 * 86_400_000
    assert all(p["v"] == ["2"] and p["source"] == ["lesync"] for p in fake.params)


def test_without_update_search_only_the_start_search_runs(fake, client):
    fake.conversations = [
        conversation(1, ms(START) + 1),  # started in the window
        conversation(2, ms(START) - 86_400_000, updated_ms=ms(START) + 5),  # older: the run's first slice's
    ]
    assert ids(client.conversations(START, END, update_search=False)) == ["m1"]
    assert len(fake.bodies) == 1 and "latestUpdateTime" not in fake.bodies[0]
    assert client.stats["pages"] == 1


def test_calls_are_pages_of_both_searches_plus_discovery(fake, client):
    fake.conversations = [conversation(i, ms(START) + i) for i in range(230)]
    list(client.conversations(START, END))
    stats = client.stats
    assert stats["pages"] == 3 + 1  # 230 by start; one empty page for "updated since"
    assert stats["calls"] == stats["pages"] + stats["discovery"] == 5


def test_lookback_up_to_retention_is_split_into_api_sized_searches():
    window = Window(START, END)
    assert len(lookback_slices(window, MESSAGING_MAX_INTERVAL)) == 1
    long = lookback_slices(window, timedelta(days=2000))
    assert long[0].start == START - timedelta(days=395) and long[-1].end == START
    assert len(long) == 5


def test_partial_conversation_fetched_again_by_id(fake, client):
    fake.conversations = [conversation(1, ms(START) + 1, isPartial=True)]
    whole = conversation(1, ms(START) + 1, isPartial=False, closeReason="AGENT")
    fake.by_id["m1"] = whole
    got = list(client.conversations(START, END))
    assert got[0]["info"]["closeReason"] == "AGENT"
    assert {"conversationId": "m1", "contentToRetrieve": list(DEFAULT_CONTENT)} in fake.bodies
    assert client.stats["partial_refetched"] == 1


def test_a_partial_conversation_that_fails_by_id_is_kept_marked_and_counted(fake, client):
    fake.conversations = [conversation(1, ms(START) + 1, isPartial=True), conversation(2, ms(START) + 2)]
    fake.by_id_fail["m1"] = 503
    got = list(client.conversations(START, END, update_search=False))
    assert ids(got) == ["m1", "m2"] and partial_reason(got[0]).startswith("fetching it whole failed")
    assert client.stats["partial_failed"] == 1


def test_content_to_retrieve_is_sent_on_every_search_and_by_id_call(fake, client):
    fake.conversations = [conversation(1, ms(START) + 1)]
    list(client.conversations(START, END))
    client.conversation("m1")
    assert len(fake.bodies) == 3
    assert all(body["contentToRetrieve"] == list(DEFAULT_CONTENT) for body in fake.bodies)
    assert {"monitoring", "unAuthSdes", "sdes", "messageRecords"} <= set(DEFAULT_CONTENT)
    client.conversation("m1", content=["messageRecords", "monitoring"])
    assert fake.bodies[-1]["contentToRetrieve"] == ["messageRecords", "monitoring"]


def test_undocumented_content_is_refused_before_any_call(fake, client):
    with pytest.raises(ValueError, match=r"contentToRetrieve value\(s\) \['monitor'\]"):
        list(client.conversations(START, END, content=["monitoring", "monitor"]))
    assert fake.bodies == []


def test_open_status_is_compared_in_any_spelling():
    for status in ("OPEN", "open", "Open"):
        assert is_open({"info": {"status": status}})
    for status in ("CLOSE", "close", None):
        assert not is_open({"info": {"status": status}})


def test_conversations_by_ids_rechecks_each_once_and_counts(fake, client):
    fake.conversations = [
        conversation(1, ms(START), status="CLOSE"),
        conversation(2, ms(START), status="open"),
    ]
    got = list(client.conversations_by_ids(["m1", "m2", "m1", "gone"]))
    assert ids(got) == ["m1", "m2"]
    assert [b["conversationId"] for b in fake.bodies] == ["m1", "m2", "gone"]
    assert client.stats["rechecked"] == 2 and client.stats["by_id"] == 3


def test_conversation_by_id(fake, client):
    fake.conversations = [conversation(1, ms(START), status="OPEN")]
    assert client.conversation("m1")["info"]["status"] == "OPEN"
    assert client.conversation("m2") is None
