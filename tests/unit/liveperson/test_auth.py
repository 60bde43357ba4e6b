"""OAuth 1.0 signing and OAuth 2.0 sentinel tokens (liveperson/auth.py)."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from lpfake import CHAT_SEARCH, TOKEN, chat

from lesync.liveperson import LivePersonAuthError, LivePersonClient
from lesync.liveperson.auth import token_lifetime

END = datetime(2026, 11, 20, tzinfo=UTC)
START = END - timedelta(hours=1)
OAUTH2 = {"auth": "oauth2", "client_id": "cid-SECRET-5555", "client_secret": "csec-SECRET-6666"}


def jwt(lifetime: int) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'iat': 1000, 'exp': 1000 + lifetime})}.sig"


def oauth2_settings(make_settings, **extra):
    return make_settings(
        consumer_key=None,
        consumer_secret=None,
        access_token=None,
        access_token_secret=None,
        **OAUTH2,
        **extra,
    )


def test_oauth1_signs_every_search_with_hmac_sha1(fake, client):
    fake.chats = [chat(1, int(START.timestamp() * 1000))]
    list(client.chats(START, END))
    request = fake.mocker.request_history[-1]
    header = request.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    assert header.startswith("OAuth ") and 'oauth_signature_method="HMAC-SHA1"' in header
    assert 'oauth_consumer_key="ck-SECRET-1111"' in header and 'oauth_token="at-SECRET-3333"' in header


@pytest.mark.parametrize(
    ("body", "lifetime"),
    [
        ({"access_token": "x", "expires_in": 1200}, 1200),
        ({"access_token": jwt(1800)}, 1800),
        ({"access_token": "opaque"}, 3600),
    ],
)
def test_token_lifetime_from_expires_in_or_jwt_or_default(body, lifetime):
    assert token_lifetime(body) == lifetime


def test_oauth2_token_fetched_once_then_renewed_before_expiry(fake, mocker, make_settings, clock):
    issued = iter(["tok-1", "tok-2", "tok-3"])
    forms = []

    def token(request, context):
        forms.append(parse_qs(request.body))
        return {"access_token": next(issued), "token_type": "Bearer", "expires_in": 3600}

    mocker.post(TOKEN, json=token)
    fake.chats = [chat(1, int(START.timestamp() * 1000))]
    client = LivePersonClient(oauth2_settings(make_settings))

    list(client.chats(START, END))
    list(client.chats(START, END))
    clock.now += 3600 - 300  # reaches the renewal margin (5 minutes before expiry)
    list(client.chats(START, END))

    bearers = [
        r.headers["Authorization"] for r in mocker.request_history if r.url.startswith("https://enghist")
    ]
    assert bearers == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert forms[0] == {
        "client_id": ["cid-SECRET-5555"],
        "client_secret": ["csec-SECRET-6666"],
        "grant_type": ["client_credentials"],
    }
    assert client.stats["tokens"] == 2


def test_oauth2_401_fetches_a_new_token_once_and_repeats_the_call(fake, mocker, make_settings):
    tokens = iter(["old", "new"])
    mocker.post(TOKEN, json=lambda r, c: {"access_token": next(tokens)})
    page = {"_metadata": {"count": 1}, "interactionHistoryRecords": [chat(1, int(START.timestamp() * 1000))]}
    mocker.post(CHAT_SEARCH, [{"status_code": 401, "json": {"message": "expired"}}, {"json": page}])
    client = LivePersonClient(oauth2_settings(make_settings))
    assert len(list(client.chats(START, END))) == 1
    assert client.stats["tokens"] == 2 and client.stats["retries"] == 1


def test_oauth2_rejected_client_is_one_line_without_secrets(fake, mocker, make_settings, caplog):
    mocker.post(TOKEN, status_code=401, json={"message": "invalid client cid-SECRET-5555"})
    caplog.set_level(logging.DEBUG)
    client = LivePersonClient(oauth2_settings(make_settings))
    with pytest.raises(LivePersonAuthError) as raised:
        list(client.chats(START, END))
    message = str(raised.value)
    assert "rejected the OAuth 2.0 client id/secret" in message and "liveperson_test" in message
    for secret in OAUTH2.values():
        if "SECRET" in secret:
            assert secret not in message + caplog.text
