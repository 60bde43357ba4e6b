"""Synthetic data (determinism, scale), the test controls, and fault injection over HTTP."""

from __future__ import annotations

import json
import tracemalloc

import requests

from lesync.emulators.liveperson import LivePersonEmulatorConfig, LivePersonState, create_app
from lesync.emulators.liveperson.app import Call, chat_search_page, messaging_search_page
from lesync.emulators.liveperson.chat import chat_record
from lesync.emulators.liveperson.messaging import messaging_record

NOW_MS = 1_750_000_000_000


def _all_record_bytes(state: LivePersonState) -> bytes:
    now, account, store = state.clock.now(), state.config.account_id, state.store
    chats = [chat_record(store.entry("chat", o), account) for o in range(len(store.indexes["chat"]))]
    msgs = [
        messaging_record(store.entry("messaging", o), account, now)
        for o in range(len(store.indexes["messaging"]))
    ]
    return json.dumps([chats, msgs], ensure_ascii=False).encode()


def test_same_seed_gives_byte_identical_records():
    config = LivePersonEmulatorConfig(conversations=300, now_ms=NOW_MS)
    first = _all_record_bytes(LivePersonState(config))
    assert first == _all_record_bytes(LivePersonState(config))
    assert first != _all_record_bytes(LivePersonState(config.model_copy(update={"seed": 8})))


def test_mix_follows_the_config():
    state = LivePersonState(LivePersonEmulatorConfig(conversations=400, messaging_share=0.25, now_ms=NOW_MS))
    summary = state.summary()
    assert summary["chat"]["total"] == 300 and summary["messaging"]["total"] == 100
    assert summary["chat"]["min_start"] >= NOW_MS - 3 * 86_400_000
    assert create_app(state).title == "LivePerson emulator"


def _signed_call(state: LivePersonState, path: str, body: dict, **query) -> Call:
    """A call as the app would see it, signed by requests-oauthlib."""
    from requests_oauthlib import OAuth1

    c = state.config
    auth = OAuth1(c.consumer_key, c.consumer_secret, c.access_token, c.access_token_secret)
    url = f"https://127.0.0.1:1/{path.format(account_id=c.account_id)}"
    prepared = requests.Request("POST", url, params=query, json=body, auth=auth).prepare()
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()}
    return Call(
        c.account_id,
        "POST",
        prepared.url,
        "https://127.0.0.1:1",
        url,
        headers,
        query,
        json.dumps(body).encode(),
    )


def test_100000_conversations_generate_lazily_in_little_memory():
    """The index stays small and deep pages are served from it (speed is bench/'s business,
    not a timed test's: a loaded CI machine would make a wall-clock assertion flaky)."""
    tracemalloc.start()
    state = LivePersonState(LivePersonEmulatorConfig(conversations=100_000))
    index_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert index_bytes < 60_000_000
    now = state.clock.now()
    body = {"start": {"from": now - 3 * 86_400_000, "to": now}}
    path = "interaction_history/api/account/{account_id}/interactions/search"
    page = chat_search_page(state, _signed_call(state, path, body, offset="0", limit="100", source="t"))
    path = "messaging_history/api/account/{account_id}/conversations/search"
    deep = messaging_search_page(
        state, _signed_call(state, path, body, offset="40000", limit="100", source="t")
    )
    assert len(page["interactionHistoryRecords"]) == 100 and page["_metadata"]["count"] > 49_000
    assert len(deep["conversationHistoryRecords"]) == 100


def test_http_controls(lp_emulator, lp_session):
    base = f"{lp_emulator.url}/_emulator/liveperson"
    before = lp_session.get(f"{base}/summary").json()
    assert before["chat"]["total"] + before["messaging"]["total"] == 600
    assert before["chat"]["min_start"] < before["chat"]["max_end"]
    now = lp_session.post(f"{base}/clock", json={"advance_seconds": 60}).json()["now"]
    assert now == before["now"] + 60_000 == lp_emulator.state.clock.now()
    added = {"count": 5, "channel": "messaging", "start_from": now - 7_200_000, "start_to": now - 3_600_000}
    after = lp_session.post(f"{base}/conversations", json=added).json()
    assert after["messaging"]["total"] == before["messaging"]["total"] + 5
    assert lp_session.post(f"{base}/conversations", json={**added, "channel": "fax"}).status_code == 400


def test_data_added_while_paging_shifts_offsets(lp_api, lp_emulator, lp_session):
    """A rule adds conversations after the first page: offsets move, the total grows."""
    now = lp_emulator.state.clock.now()
    body = {"start": {"from": now - 3 * 86_400_000, "to": now}}
    rule = {"after_pages": 1, "count": 40, "channel": "chat", "start_from": body["start"]["from"]}
    rule["start_to"] = body["start"]["from"] + 3_600_000  # early in the window: before page 2's offset
    assert lp_session.post(f"{lp_emulator.url}/_emulator/liveperson/page-rules", json=rule).status_code == 201
    first = lp_api.chat(body, offset=0, limit=100, sort="start:asc").json()
    second = lp_api.chat(body, offset=100, limit=100, sort="start:asc").json()
    assert second["_metadata"]["count"] == first["_metadata"]["count"] + 40
    first_ids = {r["info"]["engagementId"] for r in first["interactionHistoryRecords"]}
    assert first_ids & {r["info"]["engagementId"] for r in second["interactionHistoryRecords"]}  # seen twice


def test_in_process_page_hook(lp_api, lp_emulator):
    seen = []
    lp_emulator.state.page_hooks.append(seen.append)
    try:
        lp_api.chat(lp_api.window(), limit=1)
    finally:
        lp_emulator.state.page_hooks.clear()
    assert seen == [lp_emulator.state.search_pages_served]


def test_faults_over_http(lp_api, lp_emulator, lp_session):
    faults = f"{lp_emulator.url}/_emulator/faults"
    lp_session.post(faults, json={"path": "interactions/search", "status": 429, "retry_after": 2})
    throttled = lp_api.chat(lp_api.window(), limit=1)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.json()["code"] == 429
    assert lp_api.chat(lp_api.window(), limit=1).status_code == 200  # used up
    lp_session.post(faults, json={"path": "conversations/search", "status": 503, "times": 2})
    assert [lp_api.messaging(lp_api.window(), limit=1).status_code for _ in range(3)] == [503, 503, 200]
    lp_session.post(faults, json={"path": "interactions/search", "status": 500})
    assert lp_api.chat(lp_api.window(), limit=1).status_code == 500
    lp_session.post(faults, json={"path": "interactions/search", "drop": True})
    try:
        lp_api.chat(lp_api.window(), limit=1)
        raise AssertionError("the connection should have dropped")
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        pass
    calls = lp_session.get(f"{lp_emulator.url}/_emulator/calls").json()["by_endpoint"]
    assert calls["POST /interaction_history/api/account/{account_id}/interactions/search"] >= 4


def test_fast_paths_match_the_stdlib_they_replace():
    """SeededRandom draws what random.Random draws; lp_time spells what strftime spells."""
    import datetime as dt
    import random

    from lesync.emulators.liveperson.content import lp_time
    from lesync.emulators.liveperson.seeded import SeededRandom

    for seed in range(300):
        ours, stdlib = SeededRandom(seed), random.Random(seed)
        for _ in range(20):
            assert ours.choice("abcdefg"[: 1 + seed % 7]) == stdlib.choice("abcdefg"[: 1 + seed % 7])
            assert ours.randint(-100, 100 + seed) == stdlib.randint(-100, 100 + seed)
            assert ours.randrange(1, 3 + seed) == stdlib.randrange(1, 3 + seed)
            assert ours.sample(range(30), 3) == stdlib.sample(range(30), 3)
    draws = random.Random(1)
    samples = [draws.randrange(4_102_444_800_000) for _ in range(3000)]
    for ms in [0, 999, 86_399_999, 86_400_000, NOW_MS, *samples]:
        moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        assert lp_time(ms) == moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}+0000"


def test_http_pages_are_the_json_of_the_page_dicts_and_cached():
    """The HTTP path serialises record by record through the cache; the bytes must equal the
    compact json.dumps of the in-process page, first time and from the cache alike."""
    from lesync.emulators.liveperson.app import chat_search_json, messaging_search_json

    state = LivePersonState(LivePersonEmulatorConfig(conversations=400, now_ms=NOW_MS, partial_share=0.2))
    body = {"start": {"from": NOW_MS - 3 * 86_400_000, "to": NOW_MS}}
    chat_path = "interaction_history/api/account/{account_id}/interactions/search"
    msg_path = "messaging_history/api/account/{account_id}/conversations/search"
    for path, as_dict, as_json, query in (
        (chat_path, chat_search_page, chat_search_json, {}),
        (msg_path, messaging_search_page, messaging_search_json, {"v": "2"}),
    ):
        params = {"offset": "100", "limit": "100", "source": "t", **query}
        page = as_dict(state, _signed_call(state, path, body, **params))
        expected = json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
        first = as_json(state, _signed_call(state, path, body, **params))
        hits = state.record_cache.hits
        again = as_json(state, _signed_call(state, path, body, **params))
        assert first == again == expected
        assert state.record_cache.hits == hits + 100
