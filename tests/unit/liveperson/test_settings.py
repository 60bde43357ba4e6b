"""Connection settings validation (liveperson/settings.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lesync.liveperson import LivePersonSettings

KEYS = {"consumer_key": "a", "consumer_secret": "b", "access_token": "c", "access_token_secret": "d"}


def test_defaults():
    settings = LivePersonSettings(account_id="1", **KEYS)
    assert settings.source == "lesync" and settings.domain_api_url == "https://api.liveperson.net"
    assert settings.auth == "oauth1" and settings.max_attempts == 6


@pytest.mark.parametrize("source", ["", "x" * 21])
def test_source_is_one_to_twenty_characters(source):
    with pytest.raises(ValidationError, match="source must be 1 to 20 characters"):
        LivePersonSettings(account_id="1", source=source, **KEYS)


def test_oauth1_needs_all_four_strings():
    with pytest.raises(ValidationError, match="oauth1 needs access_token_secret"):
        LivePersonSettings(account_id="1", **{**KEYS, "access_token_secret": ""})


def test_oauth2_needs_client_id_and_secret():
    with pytest.raises(ValidationError, match="oauth2 needs client_secret"):
        LivePersonSettings(account_id="1", auth="oauth2", client_id="x")


def test_secrets_never_in_repr():
    settings = LivePersonSettings(account_id="1", **{k: f"{k}-value" for k in KEYS})
    assert "value" not in repr(settings) and "value" not in str(settings.model_dump())
    assert sorted(settings.secrets()) == sorted(f"{k}-value" for k in KEYS)


def test_domain_api_url_without_scheme_gets_https():
    assert LivePersonSettings(account_id="1", domain_api_url="lp.example/", **KEYS).domain_api_url == (
        "https://lp.example"
    )
