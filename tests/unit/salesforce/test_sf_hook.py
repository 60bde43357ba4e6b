"""Connection field mapping of the Airflow hook."""

from __future__ import annotations

import json

import pytest
from airflow.models import Connection

from lesync.salesforce import AuthFlow
from lesync.salesforce.hook import LesyncSalesforceHook, token_url


def hook_for(monkeypatch, **kwargs) -> LesyncSalesforceHook:
    extra = kwargs.pop("extra", {})
    connection = Connection(conn_id="sf", conn_type="salesforce", extra=json.dumps(extra), **kwargs)
    monkeypatch.setattr(LesyncSalesforceHook, "get_connection", classmethod(lambda cls, conn_id: connection))
    return LesyncSalesforceHook("sf")


def test_client_credentials_from_extras(monkeypatch):
    hook = hook_for(
        monkeypatch,
        extra={
            "consumer_key": "cid",
            "consumer_secret": "s3cret-v",
            "domain": "acme.my",
            "version": "61.0",
            "ca_file": "/ca.pem",
        },
    )
    settings = hook.connection_settings()
    assert settings.auth_flow is AuthFlow.CLIENT_CREDENTIALS
    assert settings.token_url == "https://acme.my.salesforce.com/services/oauth2/token"
    assert (settings.client_id, settings.client_secret.get_secret_value()) == ("cid", "s3cret-v")
    assert (settings.api_version, settings.ca_file) == ("61.0", "/ca.pem")
    assert "s3cret-v" not in repr(settings)


def test_jwt_when_a_private_key_is_given_and_prefixed_extras_work(monkeypatch):
    hook = hook_for(
        monkeypatch,
        login="int@acme.com",
        extra={
            "extra__salesforce__client_id": "cid",
            "private_key_file_path": "/k.pem",
            "token_url": "https://test.salesforce.com/services/oauth2/token",
        },
    )
    settings = hook.connection_settings()
    assert settings.auth_flow is AuthFlow.JWT_BEARER
    assert (settings.username, settings.private_key_file) == ("int@acme.com", "/k.pem")
    assert settings.login_origin == "https://test.salesforce.com"


def test_password_field_is_the_secret_fallback(monkeypatch):
    settings = hook_for(monkeypatch, password="pw", extra={"client_id": "cid"}).connection_settings()
    assert settings.client_secret.get_secret_value() == "pw"


@pytest.mark.parametrize(
    ("explicit", "host", "domain", "expected"),
    [
        (None, None, None, "https://login.salesforce.com/services/oauth2/token"),
        (None, None, "test", "https://test.salesforce.com/services/oauth2/token"),
        (None, "acme.my.salesforce.com", None, "https://acme.my.salesforce.com/services/oauth2/token"),
        (None, "https://127.0.0.1:8443", None, "https://127.0.0.1:8443/services/oauth2/token"),
        ("https://x/services/oauth2/token", "ignored", None, "https://x/services/oauth2/token"),
    ],
)
def test_token_url_resolution(explicit, host, domain, expected):
    assert token_url(explicit, host, domain) == expected


def test_conn_type_is_the_providers():
    assert LesyncSalesforceHook.conn_type == "salesforce"
    assert LesyncSalesforceHook.default_conn_name == "salesforce_default"
