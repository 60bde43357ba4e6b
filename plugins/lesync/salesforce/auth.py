"""OAuth 2.0 access tokens for the Salesforce API: client credentials or JWT bearer.

simple-salesforce can log in too, but only against ``https://<domain>.salesforce.com``; a token
URL is an admin setting here (My Domain, sandbox, the emulator), so the token is fetched by this
module and handed to simple-salesforce as a session id. Tokens are cached until Salesforce says
the session is invalid; then exactly one new token is fetched (``invalidate`` + ``token``).
No secret ever reaches a log line or an exception message.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests

from lesync.salesforce.settings import AuthFlow, SalesforceConnectionSettings

log = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180  # Salesforce wants exp within 3 minutes


class SalesforceAuthError(RuntimeError):
    """The token endpoint refused us; the message says what to fix (and holds no secret)."""


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    instance_url: str

    def __repr__(self) -> str:  # keep the token out of logs and tracebacks
        return f"AccessToken(instance_url={self.instance_url!r}, access_token='***')"


def make_http_session(ca_file: str | None) -> requests.Session:
    """A ``requests.Session`` that trusts ``ca_file`` when given.

    ``trust_env=False`` because ``REQUESTS_CA_BUNDLE`` in the environment would otherwise win
    over ``Session.verify`` (requests merges environment settings into every request).
    """
    session = requests.Session()
    if ca_file:
        session.verify = ca_file
        session.trust_env = False
    return session


class TokenProvider:
    """Fetches and caches one access token for a connection."""

    def __init__(self, settings: SalesforceConnectionSettings, session: requests.Session | None = None):
        self.settings = settings
        self.session = session or make_http_session(settings.ca_file)
        self.logins = 0
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def token(self) -> AccessToken:
        """The cached token, fetching one first if there is none."""
        with self._lock:
            if self._token is None:
                self._token = self._fetch()
                self.logins += 1
                log.info("Salesforce: new access token for %s", self._token.instance_url)
            return self._token

    def invalidate(self, stale: AccessToken | None = None) -> None:
        """Forget the token (only ``stale`` if given, so parallel callers fetch one new token)."""
        with self._lock:
            if stale is None or self._token == stale:
                self._token = None

    def _fetch(self) -> AccessToken:
        if self.settings.auth_flow is AuthFlow.JWT_BEARER:
            return self._jwt_bearer()
        return self._client_credentials()

    def _client_credentials(self) -> AccessToken:
        """Form-encoded id and secret; on ``invalid_client`` once more as HTTP Basic."""
        secret = self.settings.client_secret.get_secret_value() if self.settings.client_secret else ""
        form = {"grant_type": "client_credentials", "client_id": self.settings.client_id}
        response = self._post({**form, "client_secret": secret})
        if response.status_code in (400, 401) and _error_code(response) == "invalid_client":
            log.info("Salesforce: client id/secret in the body refused; trying HTTP Basic")
            response = self._post(
                {"grant_type": "client_credentials"}, auth=(self.settings.client_id, secret)
            )
        return self._parse(response)

    def _jwt_bearer(self) -> AccessToken:
        assertion = jwt.encode(self._jwt_claims(), self._private_key(), algorithm="RS256")
        return self._parse(self._post({"grant_type": JWT_GRANT, "assertion": assertion}))

    def _jwt_claims(self) -> dict[str, Any]:
        return {
            "iss": self.settings.client_id,
            "sub": self.settings.username,
            "aud": self.settings.audience,
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }

    def _private_key(self) -> str:
        if self.settings.private_key:
            return self.settings.private_key.get_secret_value()
        return Path(self.settings.private_key_file or "").read_text()

    def _post(self, form: dict[str, str], auth: tuple[str, str] | None = None) -> requests.Response:
        try:
            return self.session.post(
                self.settings.token_url, data=form, auth=auth, timeout=self.settings.timeout
            )
        except requests.RequestException as exc:
            raise SalesforceAuthError(
                f"Salesforce token endpoint {self.settings.token_url} unreachable: {type(exc).__name__}"
            ) from None

    def _parse(self, response: requests.Response) -> AccessToken:
        if response.status_code != 200:
            raise SalesforceAuthError(self._failure_message(response))
        body = response.json()
        instance_url = self.settings.instance_url or body.get("instance_url")
        if not body.get("access_token") or not instance_url:
            raise SalesforceAuthError("Salesforce token response lacks access_token or instance_url")
        return AccessToken(access_token=body["access_token"], instance_url=instance_url.rstrip("/"))

    def _failure_message(self, response: requests.Response) -> str:
        code, description = _error_code(response), _error_description(response)
        message = (
            f"Salesforce refused the {self.settings.auth_flow.value} login at {self.settings.token_url} "
            f"(HTTP {response.status_code} {code or ''}: {description or 'no description'})."
        )
        if self.settings.auth_flow is AuthFlow.CLIENT_CREDENTIALS and self.settings.uses_generic_login_host:
            message += (
                " Salesforce serves the client-credentials flow only on the org's My Domain: set the "
                "token URL to https://<your-domain>.my.salesforce.com/services/oauth2/token."
            )
        return message


def _error_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_code(response: requests.Response) -> str | None:
    return _error_body(response).get("error")


def _error_description(response: requests.Response) -> str | None:
    return _error_body(response).get("error_description")
