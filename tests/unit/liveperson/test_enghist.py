"""Chat search over a window, and chat by id (liveperson/enghist.py + paging.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from lpfake import chat

from lesync.liveperson import partial_reason
from lesync.liveperson.streams import search_body
from lesync.liveperson.windows import CHAT_MAX_INTERVAL
from lesync.window import Window

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=6)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def ids(records):
    return [r["info"]["engagementId"] for r in records]


def test_pages_of_100_sorted_with_source_each_record_once(fake, client):
    fake.chats = [chat(i, ms(START) + i * 1000) for i in range(250)]
    got = list(client.chats(START, END))
    assert ids(got) == [f"c{i}" for i in range(250)]
    pages = fake.params
    assert [p["offset"] for p in pages] == [["0"], ["100"], ["200"]]
    assert all(
        p["limit"] == ["100"] and p["sort"] == ["start:asc"] and p["source"] == ["lesync"] for p in pages
    )
    assert client.stats["pages"] == 3


def test_bounds_are_rounded_outward_and_records_outside_the_window_dropped(fake, client):
    start, end = START + timedelta(minutes=3), END + timedelta(minutes=3)
    fake.chats = [chat(1, ms(start) - 60_000), chat(2, ms(start)), chat(3, ms(end) - 1), chat(4, ms(end))]
    got = list(client.chats(start, end))
    assert ids(got) == ["c2", "c3"]
    assert fake.bodies[0]["start"] == {"from": ms(START), "to": ms(END + timedelta(minutes=10))}


def test_long_window_is_split_and_overlaps_deduped(fake, client):
    start = END - timedelta(days=40)
    edge = start + CHAT_MAX_INTERVAL  # a chat on the slice boundary is in both rounded searches
    fake.chats = [chat(1, ms(start) + 5), chat(2, ms(edge)), chat(3, ms(END) - 5)]
    got = list(client.chats(start, END))
    assert ids(got) == ["c1", "c2", "c3"]
    spans = [b["start"]["to"] - b["start"]["from"] for b in fake.bodies]
    assert len(spans) == 2 and all(span <= 28 * 86_400_000 for span in spans)


def test_records_added_while_paging_are_neither_lost_nor_repeated(fake, client, caplog):
    fake.chats = [chat(i, ms(START) + 60_000 + i) for i in range(300)]
    added = iter(range(1000, 1050))

    def add_early_chats(channel, offset):
        if offset == 100:  # insert before the current offset: pushes records down the pages
            fake.chats.extend(chat(n, ms(START) + n - 1000) for n in added)

    fake.on_page = add_early_chats
    caplog.set_level(logging.INFO)
    got = ids(client.chats(START, END))
    assert sorted(got) == sorted({*(f"c{i}" for i in range(300)), *(f"c{n}" for n in range(1000, 1050))})
    assert len(got) == len(set(got)) == 350
    assert "paging once more" in caplog.text


def test_count_never_reached_logs_a_warning_with_numbers(fake, client, caplog):
    fake.chats = [chat(i, ms(START) + i) for i in range(5)]
    fake.count_bonus = 2
    caplog.set_level(logging.INFO)
    assert len(list(client.chats(START, END))) == 5
    assert "only 5 unique records of 7 counted after paging twice" in caplog.text
    assert client.stats["pages"] == 2


def test_partial_records_are_fetched_again_by_engagement_id(fake, client):
    fake.chats = [chat(1, ms(START) + 1, isPartial=True), chat(2, ms(START) + 2)]
    whole = chat(1, ms(START) + 1, isPartial=False)
    whole["transcript"]["lines"] = [{"text": "all of it"}]
    fake.by_id["c1"] = whole
    got = list(client.chats(START, END))
    assert got[0] == whole and client.stats["partial_refetched"] == 1
    # start is required with engagementId too: the record's start, rounded outward
    assert fake.bodies[-1] == {"engagementId": "c1", "start": {"from": ms(START), "to": ms(START) + 600_000}}
    assert client.stats["by_id"] == 1


@pytest.mark.parametrize("status", [400, 404, 500])
def test_a_partial_chat_that_cannot_be_completed_is_kept_marked_and_counted(fake, client, status, caplog):
    fake.chats = [chat(1, ms(START) + 1, isPartial=True), chat(2, ms(START) + 2)]
    fake.by_id_fail["c1"] = status
    got = list(client.chats(START, END))
    assert ids(got) == ["c1", "c2"]
    assert got[0]["_lesync"]["partial"] is True and partial_reason(got[0])
    assert partial_reason(got[1]) is None and "_lesync" not in got[1]
    assert client.stats["partial_failed"] == 1 and client.stats["partial_refetched"] == 0
    assert "is partial and was kept as is" in caplog.text


def test_skill_filter_is_sent(fake, client):
    fake.chats = [chat(1, ms(START) + 1, skillId=7), chat(2, ms(START) + 2, skillId=8)]
    assert ids(client.chats(START, END, skills=[7])) == ["c1"]
    assert fake.bodies[0]["skillIds"] == [7]


def test_chat_by_id_found_or_none(fake, client):
    fake.chats = [chat(1, ms(START))]
    assert client.chat("c1")["info"]["engagementId"] == "c1"
    assert client.chat("nope") is None
    # unknown start: the whole 13-month retention is searched (engagementId lifts the length limit)
    span = fake.bodies[-1]["start"]["to"] - fake.bodies[-1]["start"]["from"]
    assert span >= 395 * 86_400_000


def test_naive_datetimes_are_refused(client):
    with pytest.raises(ValueError, match="no time zone"):
        list(client.chats(datetime(2026, 1, 1), datetime(2026, 1, 2)))


def test_search_body_shape():
    body = search_body(Window(START, END), skills=["5"])
    assert body == {"start": {"from": ms(START), "to": ms(END)}, "skillIds": [5]}
