"""LivePersonHook: an Airflow connection in, a LivePersonClient out (liveperson/hook.py)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from airflow.sdk import BaseHook, Connection
from pydantic import ValidationError

from lesync.liveperson import LivePersonClient
from lesync.liveperson.hook import LivePersonHook, connection_type_info, settings_from_connection

OAUTH1_EXTRA = {
    "account_id": "12345678",
    "access_token": "at-value",
    "access_token_secret": "ats-value",
    "domain_api_url": "https://127.0.0.1:8443",
    "ca_file": "/tmp/ca.pem",
    "source": "lesync-test",
}


def oauth1_connection(**extra) -> Connection:
    return Connection(
        conn_id="liveperson_default",
        conn_type="liveperson",
        login="app-key",
        password="app-secret",
        extra=json.dumps({**OAUTH1_EXTRA, **extra}),
    )


def test_hook_identity():
    assert LivePersonHook.default_conn_name == "liveperson_default"
    assert LivePersonHook.conn_type == "liveperson" and LivePersonHook.hook_name == "LivePerson"
    assert LivePersonHook.conn_name_attr == "liveperson_conn_id"


def test_oauth1_connection_maps_onto_settings():
    settings = settings_from_connection(oauth1_connection())
    assert settings.auth == "oauth1" and settings.account_id == "12345678"
    assert settings.consumer_key.get_secret_value() == "app-key"
    assert settings.consumer_secret.get_secret_value() == "app-secret"
    assert settings.access_token.get_secret_value() == "at-value"
    assert settings.access_token_secret.get_secret_value() == "ats-value"
    assert settings.domain_api_url == "https://127.0.0.1:8443" and settings.ca_file == "/tmp/ca.pem"
    assert settings.source == "lesync-test" and settings.conn_id == "liveperson_default"


def test_oauth2_connection_uses_login_and_password_as_client_credentials():
    connection = Connection(
        conn_id="lp2",
        conn_type="liveperson",
        login="cid",
        password="csecret",
        extra=json.dumps({"account_id": "9", "auth": "oauth2"}),
    )
    settings = settings_from_connection(connection)
    assert settings.auth == "oauth2" and settings.client_id.get_secret_value() == "cid"
    assert settings.domain_api_url == "https://api.liveperson.net"


def test_missing_key_names_the_connection():
    with pytest.raises(ValidationError, match="access_token_secret.*connection liveperson_default"):
        settings_from_connection(oauth1_connection(access_token_secret=""))


def test_get_conn_returns_a_cached_client_from_the_airflow_connection():
    with mock.patch.object(BaseHook, "get_connection", return_value=oauth1_connection()) as get:
        hook = LivePersonHook()
        client = hook.get_conn()
        assert isinstance(client, LivePersonClient) and hook.get_conn() is client
        get.assert_called_once_with("liveperson_default")
    assert client.settings.account_id == "12345678"


def test_connection_from_environment_variable(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIVEPERSON_ENV",
        json.dumps({"conn_type": "liveperson", "login": "k", "password": "s", "extra": OAUTH1_EXTRA}),
    )
    client = LivePersonHook("liveperson_env", max_attempts=2).get_conn()
    assert client.settings.conn_id == "liveperson_env" and client.settings.max_attempts == 2
    assert client.settings.consumer_key.get_secret_value() == "k"


def test_ui_asks_for_exactly_our_fields():
    behaviour = LivePersonHook.get_ui_field_behaviour()
    assert set(behaviour["hidden_fields"]) == {"host", "schema", "port", "extra"}
    assert "App Key" in behaviour["relabeling"]["login"]
    info = connection_type_info()
    assert set(info["conn-fields"]) == {
        "account_id",
        "auth",
        "access_token",
        "access_token_secret",
        "domain_api_url",
        "ca_file",
        "source",
    }
    secret_fields = {k for k, v in info["conn-fields"].items() if v["schema"].get("format") == "password"}
    assert secret_fields == {"access_token", "access_token_secret"}
    widgets = LivePersonHook.get_connection_form_widgets()  # empty when wtforms is not installed
    assert widgets == {} or set(widgets) == set(info["conn-fields"])
