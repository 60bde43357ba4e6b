"""Retry policy, timeouts, error translation and call counting (liveperson/http.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests
from lpfake import CHAT_SEARCH, SECRETS, chat

from lesync.liveperson import (
    LivePersonAuthError,
    LivePersonClient,
    LivePersonPermissionError,
    LivePersonRequestError,
    LivePersonUnavailableError,
)
from lesync.liveperson.http import backoff_delay, retry_after_delay

END = datetime(2026, 11, 20, tzinfo=UTC)
START = END - timedelta(hours=6)
START_MS = int(START.timestamp() * 1000)


def ok_page(n: int = 1) -> dict:
    return {
        "_metadata": {"count": n},
        "interactionHistoryRecords": [chat(i, START_MS + i) for i in range(n)],
    }


def read_all(client: LivePersonClient) -> list[dict]:
    return list(client.chats(START, END))


def test_backoff_follows_liveperson_advice_then_doubles_to_cap(make_settings):
    settings = make_settings()
    assert [backoff_delay(a, settings) for a in range(1, 7)] == [5, 10, 15, 30, 60, 60]


@pytest.mark.parametrize(
    ("header", "expected"), [("3", 3.0), ("0", 1.0), (None, 1.0), ("garbage", 1.0), ("0.2", 1.0)]
)
def test_retry_after_is_honoured_but_never_under_one_second(make_settings, header, expected):
    assert retry_after_delay(header, make_settings()) == expected


def test_429_waits_retry_after_then_succeeds(fake, mocker, client, clock):
    mocker.post(
        CHAT_SEARCH,
        [
            {"status_code": 429, "headers": {"Retry-After": "2"}, "json": {"message": "slow down"}},
            {"status_code": 429, "json": {}},
            {"json": ok_page(3)},
        ],
    )
    assert len(read_all(client)) == 3
    assert clock.sleeps == [2.0, 1.0]
    assert client.stats["retries"] == 2
    assert client.stats["pages"] == 1


def test_5xx_and_dropped_connections_retry_on_the_documented_schedule(fake, mocker, client, clock):
    mocker.post(
        CHAT_SEARCH,
        [
            {"status_code": 500, "json": {}},
            {"exc": requests.exceptions.ConnectionError("reset")},
            {"exc": requests.exceptions.ReadTimeout("slow")},
            {"status_code": 503, "json": {}},
            {"json": ok_page(1)},
        ],
    )
    assert len(read_all(client)) == 1
    assert clock.sleeps == [5, 10, 15, 30]
    stats = client.stats
    assert stats["retries"] == 4
    assert stats["calls"] == stats["pages"] + stats["discovery"] + stats["retries"]


def test_truncated_json_body_counts_as_dropped_connection(fake, mocker, client, clock):
    mocker.post(CHAT_SEARCH, [{"text": '{"partial": '}, {"json": ok_page(1)}])
    assert len(read_all(client)) == 1
    assert clock.sleeps == [5]


def test_a_page_in_a_declared_charset_other_than_utf8_is_read_in_it(fake, mocker, client):
    """Pages decode with msgspec (UTF-8); what it cannot read, requests reads as declared."""
    import json

    page = ok_page(1)
    page["interactionHistoryRecords"][0]["info"]["agentFullName"] = "Ren\u00e9e"
    body = json.dumps(page, ensure_ascii=False).encode("latin-1")
    mocker.post(CHAT_SEARCH, content=body, headers={"Content-Type": "application/json; charset=ISO-8859-1"})
    assert read_all(client)[0]["info"]["agentFullName"] == "Ren\u00e9e"


def test_gives_up_after_max_attempts_with_one_line(fake, mocker, make_settings, clock):
    mocker.post(CHAT_SEARCH, status_code=503, json={"message": "down"})
    client = LivePersonClient(make_settings(max_attempts=3))
    with pytest.raises(LivePersonUnavailableError) as raised:
        read_all(client)
    assert "after 3 attempts" in str(raised.value) and "\n" not in str(raised.value)
    assert clock.sleeps == [5, 10]


def test_every_call_has_connect_and_read_timeouts(fake, mocker, make_settings):
    seen = []
    original = requests.Session.request

    def spy(self, method, url, **kwargs):
        seen.append(kwargs.get("timeout"))
        return original(self, method, url, **kwargs)

    client = LivePersonClient(make_settings(connect_timeout=3, read_timeout=40))
    mocker.post(CHAT_SEARCH, json=ok_page(1))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.Session, "request", spy)
        read_all(client)
    assert seen and all(timeout == (3, 40) for timeout in seen)


def test_401_fails_at_once_names_the_fix_and_leaks_no_secret(fake, mocker, client, clock, caplog):
    mocker.post(CHAT_SEARCH, status_code=401, json={"message": f"bad consumer key {SECRETS['consumer_key']}"})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LivePersonAuthError) as raised:
        read_all(client)
    message = str(raised.value)
    assert message.startswith("LivePerson rejected the app keys (check consumer key/secret and access token")
    assert "connection liveperson_test" in message and "\n" not in message
    assert clock.sleeps == []
    everything = message + caplog.text + repr(client) + repr(client.settings)
    for secret in SECRETS.values():
        assert secret not in everything


def test_403_says_which_permission_is_missing(fake, mocker, client):
    mocker.post(CHAT_SEARCH, status_code=403, json={"message": "Forbidden"})
    with pytest.raises(LivePersonPermissionError, match="lacks the Engagement History data permission"):
        read_all(client)


def test_400_on_a_search_mentions_the_window_limit_and_the_server_message(fake, mocker, client):
    mocker.post(CHAT_SEARCH, status_code=400, json={"message": "interval exceeds one month"})
    with pytest.raises(LivePersonRequestError) as raised:
        read_all(client)
    assert "window is longer than the API allows" in str(raised.value)
    assert "interval exceeds one month" in str(raised.value)
    assert client.stats["retries"] == 0


def test_ca_file_is_trusted_even_when_requests_ca_bundle_is_set(make_settings, monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/elsewhere.pem")
    client = LivePersonClient(make_settings(ca_file=str(ca)))
    session = client.transport.session
    assert session.verify == str(ca) and session.trust_env is False


def test_stats_count_by_endpoint(fake, client):
    fake.chats = [chat(i, START_MS + i) for i in range(150)]
    read_all(client)
    stats = client.stats
    assert stats["by_endpoint"] == {"GET baseURI.json": 1, "POST interactions/search": 2}
    assert stats["calls"] == 3 and stats["pages"] == 2 and stats["discovery"] == 1


def test_429s_do_not_advance_the_5xx_schedule(fake, mocker, client, clock):
    mocker.post(
        CHAT_SEARCH,
        [{"status_code": 429, "json": {}}, {"status_code": 502, "json": {}}, {"json": ok_page(1)}],
    )
    read_all(client)
    assert clock.sleeps == [1.0, 5]
