"""``LivePersonHook``: an ordinary Airflow connection in, a ``LivePersonClient`` out.

Connection fields (conn type ``liveperson``):

=====================  =========================================================================
Field                  Meaning
=====================  =========================================================================
login                  OAuth 1.0 app key (consumer key), or the OAuth 2.0 client id
password               OAuth 1.0 app secret (consumer secret), or the OAuth 2.0 client secret
extra.account_id       LivePerson account (site) id (required)
extra.auth             ``oauth1`` (default: the four API key strings) or ``oauth2`` (sentinel)
extra.access_token     OAuth 1.0 access token
extra.access_token_secret  OAuth 1.0 access token secret
extra.domain_api_url   Domain API base URL for service discovery (default
                       ``https://api.liveperson.net``; the emulator's URL in tests and demos)
extra.ca_file          CA bundle to trust (the emulator's); the system bundle when empty
extra.source           caller name sent with every search (default ``lesync``, at most 20 chars)
host                   accepted as the domain API URL when ``extra.domain_api_url`` is empty
=====================  =========================================================================

Example (``AIRFLOW_CONN_LIVEPERSON_DEFAULT``)::

    {"conn_type": "liveperson", "login": "<app key>", "password": "<app secret>",
     "extra": {"account_id": "12345678", "access_token": "...", "access_token_secret": "..."}}
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from lesync.liveperson.client import LivePersonClient
from lesync.liveperson.settings import DEFAULT_DOMAIN_API_URL, DEFAULT_SOURCE, LivePersonSettings

# Declarative form fields (Airflow >= 3.2 reads "conn-fields" from the provider info).
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "account_id": {"label": "Account ID", "schema": {"type": "string"}},
    "auth": {
        "label": "Auth (oauth1 | oauth2)",
        "schema": {"type": ["string", "null"], "enum": ["oauth1", "oauth2", None], "default": "oauth1"},
    },
    "access_token": {
        "label": "Access Token (OAuth 1.0)",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "access_token_secret": {
        "label": "Access Token Secret (OAuth 1.0)",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "domain_api_url": {
        "label": "Domain API URL",
        "schema": {"type": ["string", "null"], "default": DEFAULT_DOMAIN_API_URL},
    },
    "ca_file": {"label": "CA bundle file", "schema": {"type": ["string", "null"]}},
    "source": {"label": "Source (max 20 chars)", "schema": {"type": ["string", "null"], "maxLength": 20}},
}
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["host", "schema", "port", "extra"],
    "relabeling": {
        "login": "App Key (OAuth 1.0) or Client ID (OAuth 2.0)",
        "password": "App Secret (OAuth 1.0) or Client Secret (OAuth 2.0)",
    },
    "placeholders": {
        "account_id": "12345678",
        "auth": "oauth1",
        "domain_api_url": DEFAULT_DOMAIN_API_URL,
        "source": DEFAULT_SOURCE,
    },
}


def connection_type_info() -> dict[str, Any]:
    """The ``connection-types`` entry for a provider-info function (``apache_airflow_provider``)."""
    behaviour = UI_FIELD_BEHAVIOUR
    return {
        "hook-class-name": "lesync.liveperson.hook.LivePersonHook",
        "hook-name": "LivePerson",
        "connection-type": "liveperson",
        "conn-fields": CONN_FIELDS,
        "ui-field-behaviour": {
            "hidden-fields": behaviour["hidden_fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        },
    }


class LivePersonHook(BaseHook):
    """One LivePerson connection; ``get_conn()`` returns a cached ``LivePersonClient``."""

    conn_name_attr = "liveperson_conn_id"
    default_conn_name = "liveperson_default"
    conn_type = "liveperson"
    hook_name = "LivePerson"

    def __init__(self, liveperson_conn_id: str = default_conn_name, **overrides: Any):
        super().__init__()
        self.liveperson_conn_id = liveperson_conn_id
        self.overrides = overrides  # e.g. sleep=..., max_attempts=... (tests, benchmarks)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Form widgets for Airflow UIs that still build wtforms forms (FAB); empty without it."""
        try:
            from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
            from wtforms import PasswordField, StringField
        except ImportError:
            return {}
        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            secret = spec["schema"].get("format") == "password"
            field, widget = (
                (PasswordField, BS3PasswordFieldWidget) if secret else (StringField, BS3TextFieldWidget)
            )
            widgets[name] = field(spec["label"], widget=widget())
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return UI_FIELD_BEHAVIOUR

    def get_settings(self) -> LivePersonSettings:
        connection = self.get_connection(self.liveperson_conn_id)
        return settings_from_connection(connection, self.liveperson_conn_id, **self.overrides)

    @cached_property
    def client(self) -> LivePersonClient:
        return LivePersonClient(self.get_settings())

    def get_conn(self) -> LivePersonClient:
        return self.client

    def test_connection(self) -> tuple[bool, str]:
        """Discover the chat service and read one page: proves keys, permission and network."""
        from datetime import UTC, datetime, timedelta

        try:
            end = datetime.now(UTC)
            next(iter(self.get_conn().chats(end - timedelta(hours=1), end)), None)
        except Exception as exc:  # the UI shows the one-line message
            return False, str(exc)
        return True, "LivePerson answered"


def settings_from_connection(
    connection: Any, conn_id: str | None = None, **overrides: Any
) -> LivePersonSettings:
    """Map an Airflow ``Connection`` onto ``LivePersonSettings`` (see the module docstring)."""
    extra = _extra(connection)
    auth = (extra.get("auth") or "oauth1").strip().lower()
    login, password = connection.login or None, connection.password or None
    fields: dict[str, Any] = {
        "account_id": str(extra.get("account_id") or "").strip(),
        "auth": auth,
        "domain_api_url": extra.get("domain_api_url") or _host_url(connection) or DEFAULT_DOMAIN_API_URL,
        "ca_file": extra.get("ca_file") or None,
        "source": extra.get("source") or DEFAULT_SOURCE,
        "conn_id": conn_id or getattr(connection, "conn_id", None),
    }
    if auth == "oauth2":
        fields.update(client_id=login, client_secret=password)
    else:
        fields.update(
            consumer_key=login,
            consumer_secret=password,
            access_token=extra.get("access_token") or None,
            access_token_secret=extra.get("access_token_secret") or None,
        )
    fields.update(overrides)
    return LivePersonSettings(**fields)


def _extra(connection: Any) -> dict[str, Any]:
    extra = getattr(connection, "extra_dejson", None)
    if extra is None:
        raw = getattr(connection, "extra", None) or "{}"
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    # Older Airflow forms stored widget values as "extra__liveperson__<name>".
    return {key.removeprefix("extra__liveperson__"): value for key, value in extra.items()}


def _host_url(connection: Any) -> str | None:
    host = getattr(connection, "host", None)
    if not host:
        return None
    port = getattr(connection, "port", None)
    schema = getattr(connection, "schema", None) or "https"
    base = host if "://" in host else f"{schema}://{host}"
    return f"{base}:{port}" if port and f":{port}" not in base else base
