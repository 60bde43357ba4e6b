"""Airflow hook: an ordinary Salesforce-provider connection -> a lesync ``SalesforceClient``."""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any

from airflow.providers.salesforce.hooks.salesforce import SalesforceHook as ProviderSalesforceHook
from simple_salesforce import Salesforce

from lesync.salesforce.client import SalesforceClient, Sleep, build_client
from lesync.salesforce.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_TOKEN_URL,
    AuthFlow,
    BudgetSettings,
    SalesforceConnectionSettings,
)

TOKEN_PATH = "/services/oauth2/token"


class LesyncSalesforceHook(ProviderSalesforceHook):
    """The provider's ``salesforce`` connection type, read for OAuth 2.0 flows lesync supports.

    Connection field mapping (extras may also carry the provider's ``extra__salesforce__`` prefix):

    ==================  ===================================================================
    lesync setting      Airflow connection field
    ==================  ===================================================================
    auth flow           extra ``auth_flow`` (``client_credentials`` | ``jwt_bearer``); else
                        JWT bearer when a private key is given, else client credentials
    client id           extra ``client_id``, else extra ``consumer_key``
    client secret       extra ``consumer_secret``, else extra ``client_secret``, else Password
    token URL           extra ``token_url``; else Host (URL or host name); else extra
                        ``domain`` (``login``, ``test``, ``<name>.my`` or a URL);
                        default https://login.salesforce.com/services/oauth2/token
    username (JWT sub)  Login
    private key         extra ``private_key`` (PEM) or ``private_key_file_path``
    JWT audience        extra ``jwt_audience``; default by environment (login or test host)
    API version         extra ``version`` (default 62.0)
    instance URL        extra ``instance_url`` (or ``instance``): overrides the token's
    CA file             extra ``ca_file`` (the emulator's; trusted instead of system CAs)
    timeout             extra ``timeout`` (seconds per request, default 120)
    ==================  ===================================================================

    The connection form is the Salesforce provider's (lesync registers no ``salesforce`` type of
    its own: a second registration of one type would shadow the provider's).
    Username-password login is deliberately not offered (blocked in new orgs, being retired).
    ``get_conn()`` still returns a ``simple_salesforce.Salesforce`` (so the provider's helpers
    work); ``get_client()`` returns the lesync client with retries, re-login and API budget.
    """

    hook_name = "Salesforce (lesync)"

    def __init__(
        self,
        salesforce_conn_id: str = ProviderSalesforceHook.default_conn_name,
        budget: BudgetSettings | None = None,
        sleep: Sleep = time.sleep,
        known_usage: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(salesforce_conn_id=salesforce_conn_id)
        self.budget_settings = budget or BudgetSettings()
        self.sleep = sleep
        self.known_usage = known_usage

    def connection_settings(self) -> SalesforceConnectionSettings:
        """The connection as validated settings (secrets as ``SecretStr``)."""
        connection = self.get_connection(self.conn_id)
        extras = connection.extra_dejson

        def extra(*names: str) -> Any:
            for name in names:
                value = self._get_field(extras, name)
                if value:
                    return value
            return None

        private_key = extra("private_key")
        private_key_file = extra("private_key_file_path", "private_key_file")
        flow = extra("auth_flow", "auth_type")
        if not flow:
            flow = AuthFlow.JWT_BEARER if (private_key or private_key_file) else AuthFlow.CLIENT_CREDENTIALS
        return SalesforceConnectionSettings(
            auth_flow=flow,
            client_id=extra("client_id", "consumer_key") or "",
            client_secret=extra("consumer_secret", "client_secret") or connection.password or None,
            token_url=token_url(extra("token_url"), connection.host, extra("domain")),
            username=connection.login or None,
            private_key=private_key,
            private_key_file=private_key_file,
            jwt_audience=extra("jwt_audience"),
            api_version=str(extra("version", "api_version") or DEFAULT_API_VERSION),
            instance_url=_as_url(extra("instance_url", "instance")),
            ca_file=extra("ca_file"),
            timeout=float(extra("timeout") or 120),
        )

    @cached_property
    def client(self) -> SalesforceClient:
        return build_client(
            self.connection_settings(), self.budget_settings, sleep=self.sleep, known_usage=self.known_usage
        )

    def get_client(self) -> SalesforceClient:
        """The lesync client (cached): simple-salesforce plus retries, re-login and budget."""
        return self.client

    @cached_property
    def conn(self) -> Salesforce:  # type: ignore[override]
        return self.client.sf

    def get_conn(self) -> Salesforce:
        return self.conn

    def test_connection(self) -> tuple[bool, str]:
        """Log in and read ``/limits``; the answer names no secret."""
        try:
            limits = self.get_client().limits()
        except Exception as exc:
            return False, str(exc)
        daily = limits.get("DailyApiRequests", {})
        return (
            True,
            f"Connected; daily API requests remaining: {daily.get('Remaining')} of {daily.get('Max')}",
        )


def token_url(explicit: str | None, host: str | None, domain: str | None) -> str:
    """The token endpoint from the first of: explicit URL, connection host, provider ``domain``."""
    if explicit:
        return explicit
    for value in (host, domain):
        if value:
            url = _domain_url(value.strip())
            return url if url.endswith(TOKEN_PATH) else url.rstrip("/") + TOKEN_PATH
    return DEFAULT_TOKEN_URL


def _domain_url(value: str) -> str:
    """``login`` / ``test`` / ``acme.my`` (simple-salesforce's domain style), a host, or a URL."""
    if "://" in value:
        return value
    if value in ("login", "test") or value.endswith(".my"):
        return f"https://{value}.salesforce.com"
    return f"https://{value}"


def _as_url(value: str | None) -> str | None:
    if not value:
        return None
    return value if "://" in value else f"https://{value}"
