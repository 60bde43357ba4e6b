"""Engagement History (chat) search: paging, limits, rounding, filters, partial records."""

from __future__ import annotations

import json

import pytest

DAY_MS = 86_400_000
TEN_MIN_MS = 600_000


def _page_all(lp_api, body, limit=100, **params):
    """Follow offsets to the end; return (records, counts seen, pages)."""
    records, counts, pages, offset = [], set(), [], 0
    while True:
        response = lp_api.chat(body, offset=offset, limit=limit, **params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        counts.add(page["_metadata"]["count"])
        records.extend(page["interactionHistoryRecords"])
        if "next" not in page["_metadata"]:
            return records, counts, pages
        offset += limit


def test_paging_returns_every_chat_exactly_once(lp_api, lp_emulator):
    records, counts, pages = _page_all(lp_api, lp_api.window(), sort="start:asc")
    ids = [r["info"]["engagementId"] for r in records]
    assert counts == {len(ids)}
    assert len(set(ids)) == len(ids) > 200
    assert "next" not in pages[-1]["_metadata"] and "next" in pages[0]["_metadata"]
    starts = [r["info"]["startTimeL"] for r in records]
    assert starts == sorted(starts)
    expected = lp_emulator.state.summary()["chat"]["closed"]
    assert len(ids) == expected


def test_metadata_links_are_full_urls_with_the_same_query(lp_api, lp_emulator):
    meta = lp_api.chat(lp_api.window(), offset=50, limit=50, sort="start:asc").json()["_metadata"]
    base = f"{lp_emulator.url}/interaction_history/api/account/{lp_api.account}/interactions/search?"
    assert meta["self"] == {
        "rel": "self",
        "href": base + "offset=50&limit=50&sort=start:asc&source=lesync-tests",
    }
    assert meta["next"]["href"].startswith(base + "offset=100&limit=50")
    assert meta["prev"]["href"].startswith(base + "offset=0&limit=50")
    last_offset = (meta["count"] - 1) // 50 * 50
    assert meta["last"]["href"].startswith(base + f"offset={last_offset}&")
    assert meta["shardsStatusResult"] == {"partialResult": False}


def test_defaults_offset_0_limit_50(lp_api):
    response = lp_api.chat(lp_api.window())
    assert len(response.json()["interactionHistoryRecords"]) == 50
    assert "offset=0&limit=50" in response.json()["_metadata"]["self"]["href"]


def test_sort_descending(lp_api):
    records = lp_api.chat(lp_api.window(), sort="start:desc", limit=100).json()["interactionHistoryRecords"]
    starts = [r["info"]["startTimeL"] for r in records]
    assert starts == sorted(starts, reverse=True)


@pytest.mark.parametrize(
    ("params", "body_change", "message"),
    [
        ({"limit": 101}, None, "limit must be between 1 and 100"),
        ({"limit": 0}, None, "limit must be between"),
        ({"source": "x" * 21}, None, "source must be at most 20"),
        ({"sort": "duration:sideways"}, None, "Invalid sort"),
        ({}, "drop_start", "Missing required body field 'start'"),
        ({}, "too_long", "at most 31 days"),
        ({}, "reversed", "must not be before"),
    ],
)
def test_bad_requests_are_400(lp_api, params, body_change, message):
    body = lp_api.window()
    if body_change == "drop_start":
        body = {"skillIds": [2]}
    elif body_change == "too_long":
        body["start"]["from"] = body["start"]["to"] - 31 * DAY_MS - 1
    elif body_change == "reversed":
        body["start"]["from"], body["start"]["to"] = body["start"]["to"], body["start"]["from"]
    response = lp_api.chat(body, **params)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_source_of_20_chars_and_31_days_are_accepted(lp_api):
    body = lp_api.window(days=31)
    assert lp_api.chat(body, source="s" * 20, limit=1).status_code == 200


def test_window_edges_are_rounded_to_ten_minutes(lp_api, lp_emulator):
    """A chat that starts inside the 10-minute slot of ``from`` is found although it is before it."""
    store = lp_emulator.state.store
    now = lp_emulator.state.clock.now()
    entries = [store.entry("chat", o) for o in range(len(store.indexes["chat"]))]
    entry = next(e for e in entries if e.end_ms <= now and 60_000 < e.start_ms % TEN_MIN_MS < 540_000)
    slot = entry.start_ms - entry.start_ms % TEN_MIN_MS

    def ids(body):
        records = lp_api.chat(body, limit=100).json()["interactionHistoryRecords"]
        return {r["info"]["engagementId"] for r in records}

    assert entry.conversation_id in ids({"start": {"from": entry.start_ms + 1, "to": slot + TEN_MIN_MS}})
    assert entry.conversation_id in ids({"start": {"from": slot, "to": entry.start_ms - 1}})
    assert entry.conversation_id not in ids(
        {"start": {"from": slot + TEN_MIN_MS, "to": slot + 2 * TEN_MIN_MS}}
    )


def test_only_ended_chats_are_returned(lp_api, lp_emulator):
    state = lp_emulator.state
    now = state.clock.now()
    state.add_conversations(3, "chat", now - 5 * 60_000, now - 4 * 60_000)  # started minutes ago
    store = state.store
    fresh = [
        store.entry("chat", o) for o in range(len(store.indexes["chat"]) - 3, len(store.indexes["chat"]))
    ]
    in_progress = {e.conversation_id for e in fresh if e.end_ms > now}
    assert in_progress, "some of the new chats should still be running"
    body = {"start": {"from": now - 3_600_000, "to": now}}
    returned = {
        r["info"]["engagementId"] for r in lp_api.chat(body, limit=100).json()["interactionHistoryRecords"]
    }
    assert not in_progress & returned
    assert all(
        r["info"]["endTimeL"] <= now for r in lp_api.chat(body, limit=100).json()["interactionHistoryRecords"]
    )


def test_engagement_id_needs_start_but_lifts_its_length_limit(lp_api, lp_emulator):
    entry = next(
        e
        for o in range(50)
        if (e := lp_emulator.state.store.entry("chat", o)).is_closed(lp_emulator.state.clock.now())
    )
    alone = lp_api.chat({"engagementId": entry.conversation_id})
    assert alone.status_code == 400 and "start" in alone.text
    year = {"from": entry.start_ms - 300 * 86_400_000, "to": entry.start_ms + 60_000}  # far over a month
    records = lp_api.chat({"engagementId": entry.conversation_id, "start": year}).json()
    assert [r["info"]["engagementId"] for r in records["interactionHistoryRecords"]] == [
        entry.conversation_id
    ]
    elsewhere = {"from": 0, "to": 600_000}  # a window that does not hold the chat finds nothing
    body = {"engagementId": entry.conversation_id, "start": elsewhere}
    assert lp_api.chat(body).json()["interactionHistoryRecords"] == []


def test_skill_and_keyword_filters(lp_api):
    body = {**lp_api.window(), "skillIds": [2]}
    records = lp_api.chat(body, limit=100).json()["interactionHistoryRecords"]
    assert records and {r["info"]["skillId"] for r in records} == {2}
    body = {**lp_api.window(), "keyword": "INVOICE"}
    found = lp_api.chat(body, limit=100).json()
    assert (
        0 < found["_metadata"]["count"] < lp_api.chat(lp_api.window(), limit=1).json()["_metadata"]["count"]
    )
    for record in found["interactionHistoryRecords"]:
        assert "invoice" in " ".join(line["text"] for line in record["transcript"]["lines"]).lower()


def test_partial_records_come_whole_by_engagement_id(lp_api):
    records, _, _ = _page_all(lp_api, lp_api.window())
    partial = [r for r in records if r["info"]["isPartial"]]
    assert 0 < len(partial) < len(records) * 0.06
    for record in partial[:3]:
        assert "sdes" not in record
        whole = lp_api.chat({"engagementId": record["info"]["engagementId"], **lp_api.window()}).json()[
            "interactionHistoryRecords"
        ][0]
        assert whole["info"]["isPartial"] is False
        assert len(whole["transcript"]["lines"]) > len(record["transcript"]["lines"])
        assert "sdes" in whole


def test_records_are_realistic(lp_api):
    records, _, _ = _page_all(lp_api, lp_api.window())
    text = json.dumps(records, ensure_ascii=False)
    lines = [line for r in records for line in r["transcript"]["lines"]]
    assert {line["source"] for line in lines} == {"visitor", "agent", "system"}
    assert {"plain", "html", "url", "rich-content"} <= {line["textType"] for line in lines}
    assert any(line["subType"] == "ONLY_TO_REP" for line in lines)
    assert any("json" in line for line in lines if line["textType"] == "rich-content")
    for needle in ("What is your Account Number?", "How would you rate us?", "Was the customer satisfied?"):
        assert needle in text
    assert "\u05e9" in text and "\u0645" in text and "\U0001f64f" in text  # Hebrew, Arabic, emoji
    lengths = [sum(len(line["text"]) for line in r["transcript"]["lines"]) for r in records]
    assert max(lengths) > 131_072
    containers = {k for r in records for e in r.get("sdes", {}).get("events", []) for k in e}
    for key in ("cartStatus", "customerInfo", "lead", "marketingCampaignInfo", "personalInfo", "purchase"):
        assert key in containers
    assert {"serviceActivity", "searchContent", "viewedProduct", "viewProduct"} <= containers
    assert {"visitorError", "formFillingError"} <= containers
    events = [e for r in records for e in r.get("sdes", {}).get("events", [])]
    assert any("sdeType" not in e for e in events) and any(e.get("sdeType") == "PURCHASE" for e in events)
    nested = [e for e in events if "personalInfo" in e.get("personalInfo", {})]
    flat = [e for e in events if "name" in e.get("personalInfo", {})]
    assert nested and flat
    transferred = [
        r for r in records if len({ln["agentId"] for ln in r["transcript"]["lines"] if ln["agentId"]}) > 1
    ]
    assert transferred
