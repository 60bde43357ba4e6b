"""The client against the LivePerson emulator: real HTTPS, OAuth 1.0 signatures checked, sentinel
tokens, LivePerson's paging and errors."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
from lesync.liveperson import (
    LivePersonAuthError,
    LivePersonClient,
    LivePersonPermissionError,
    LivePersonSettings,
)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    config = LivePersonEmulatorConfig(seed=7, conversations=400, days=3, now_ms=NOW_MS, token_lifetime_s=1800)
    emu = start_liveperson(config, data_dir=tmp_path_factory.mktemp("lp"))
    yield emu
    emu.stop()


@pytest.fixture(autouse=True)
def _clean(emulator):
    emulator.state.faults.clear()
    emulator.state.calls.reset()
    emulator.state.clock.set(NOW_MS)


def settings_for(emulator, clock=None, **overrides) -> LivePersonSettings:
    info = emulator.connection_info()
    fields = {
        "account_id": info["account_id"],
        "consumer_key": info["consumer_key"],
        "consumer_secret": info["consumer_secret"],
        "access_token": info["access_token"],
        "access_token_secret": info["access_token_secret"],
        "domain_api_url": info["domain_api_url"],
        "ca_file": info["ca_file"],
        "conn_id": "liveperson_emu",
        "sleep": clock.sleep if clock else (lambda seconds: None),
    }
    if clock:
        fields["clock"] = clock
    fields.update(overrides)
    return LivePersonSettings(**fields)


def test_wrong_app_secret_is_one_line_naming_the_fix_and_no_secret_logged(emulator, caplog):
    caplog.set_level(logging.DEBUG)
    info = emulator.connection_info()
    client = LivePersonClient(settings_for(emulator, consumer_secret="wrong-secret-XYZ"))
    with pytest.raises(LivePersonAuthError) as raised:
        list(client.chats(NOW - timedelta(hours=6), NOW))
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("LivePerson rejected the app keys (check consumer key/secret and access token")
    assert "liveperson_emu" in message
    assert client.stats["retries"] == 0
    logged = caplog.text + message
    for secret in (
        "wrong-secret-XYZ",
        info["access_token"],
        info["access_token_secret"],
        info["consumer_key"],
    ):
        assert secret not in logged


def test_key_without_data_permission_says_which_permission(emulator):
    keys = emulator.state.config.no_permission_keyset
    client = LivePersonClient(
        settings_for(
            emulator,
            consumer_key=keys.consumer_key,
            consumer_secret=keys.consumer_secret,
            access_token=keys.access_token,
            access_token_secret=keys.access_token_secret,
        )
    )
    with pytest.raises(LivePersonPermissionError, match="lacks the Messaging Interactions data permission"):
        list(client.conversations(NOW - timedelta(hours=6), NOW))


def test_oauth2_bearer_renewed_before_it_expires(emulator, clock):
    info = emulator.connection_info()
    settings = settings_for(
        emulator,
        clock,
        auth="oauth2",
        consumer_key=None,
        consumer_secret=None,
        access_token=None,
        access_token_secret=None,
        client_id=info["oauth2_client_id"],
        client_secret=info["oauth2_client_secret"],
    )
    client = LivePersonClient(settings)
    window = (NOW - timedelta(hours=12), NOW)
    first = [r["info"]["engagementId"] for r in client.chats(*window)]
    # 25 minutes later on both clocks: the 30-minute token is within the 5-minute renewal margin
    clock.now += 25 * 60
    emulator.state.clock.advance(25 * 60)
    second = [r["info"]["engagementId"] for r in client.chats(*window)]
    assert first == second and first
    calls = emulator.state.calls.snapshot()
    assert calls["POST /sentinel/api/v2/account/{account_id}/app/token"] == 2
    assert client.stats["tokens"] == 2 and client.stats["retries"] == 0


def test_by_id_for_both_channels(emulator):
    client = LivePersonClient(settings_for(emulator))
    window = (NOW - timedelta(days=3), NOW)
    chat = next(iter(client.chats(*window)))
    engagement_id = chat["info"]["engagementId"]
    assert client.chat(engagement_id)["info"]["engagementId"] == engagement_id
    assert client.chat("no-such-chat") is None
    conversation = next(iter(client.conversations(*window)))
    conversation_id = conversation["info"]["conversationId"]
    assert client.conversation(conversation_id)["info"]["conversationId"] == conversation_id


def test_skill_filter_returns_only_that_skill(emulator):
    client = LivePersonClient(settings_for(emulator))
    window = (NOW - timedelta(days=3), NOW)
    everything = list(client.chats(*window))
    skill = everything[0]["info"]["skillId"]
    only = list(client.chats(*window, skills=[skill]))
    assert only and all(r["info"]["skillId"] == skill for r in only)
    assert len(only) == sum(1 for r in everything if r["info"]["skillId"] == skill)
