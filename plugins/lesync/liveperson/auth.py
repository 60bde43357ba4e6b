"""Request signing: OAuth 1.0 API keys, or OAuth 2.0 client-credentials bearer tokens.

OAuth 1.0 signs every request (HMAC-SHA1, a fresh nonce per attempt, so retries sign again).
OAuth 2.0 tokens come from the ``sentinel`` service and are renewed ``token_renew_margin``
seconds before they expire, so a long extract never sends a token that dies in flight.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import requests
from requests_oauthlib import OAuth1

from lesync.liveperson.errors import LivePersonAuthError
from lesync.liveperson.settings import LivePersonSettings

log = logging.getLogger(__name__)

DEFAULT_TOKEN_LIFETIME = 3600.0  # LivePerson documents "about one hour"; used when nothing says
CHATTY_LOGGERS = ("oauthlib", "requests_oauthlib")


def quiet_signing_logs() -> None:
    """oauthlib and requests-oauthlib log the keys, tokens and signed headers at DEBUG: keep them
    at INFO or above so a task run with DEBUG logging never prints key material."""
    for name in CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET included: it would follow the root down
            logger.setLevel(logging.INFO)


def oauth1(settings: LivePersonSettings) -> OAuth1:
    """An ``OAuth1`` signer from the four API key strings (header signatures)."""
    quiet_signing_logs()
    return OAuth1(
        client_key=_secret(settings.consumer_key),
        client_secret=_secret(settings.consumer_secret),
        resource_owner_key=_secret(settings.access_token),
        resource_owner_secret=_secret(settings.access_token_secret),
        signature_method="HMAC-SHA1",
        signature_type="AUTH_HEADER",
    )


def token_request_form(settings: LivePersonSettings) -> dict[str, str]:
    """The sentinel client-credentials form body (holds the secret: never log it)."""
    return {
        "client_id": _secret(settings.client_id),
        "client_secret": _secret(settings.client_secret),
        "grant_type": "client_credentials",
    }


def token_lifetime(body: dict[str, Any]) -> float:
    """Seconds a sentinel token lives: ``expires_in``, else the JWT's ``exp - iat``, else an hour.

    Lifetime rather than ``exp`` itself, so a skewed server clock cannot make us renew too late.
    """
    expires_in = body.get("expires_in")
    if isinstance(expires_in, int | float | str) and str(expires_in).replace(".", "", 1).isdigit():
        return float(expires_in)
    claims = _jwt_claims(str(body.get("access_token", "")))
    if isinstance(claims.get("exp"), int | float) and isinstance(claims.get("iat"), int | float):
        return max(float(claims["exp"] - claims["iat"]), 0.0)
    return DEFAULT_TOKEN_LIFETIME


def _jwt_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


class BearerToken(requests.auth.AuthBase):
    """``Authorization: Bearer`` with a token fetched on first use and renewed before expiry."""

    def __init__(self, fetch: Callable[[], dict[str, Any]], settings: LivePersonSettings):
        self._fetch = fetch
        self._settings = settings
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()
        self.issued = 0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.current()}"
        return request

    def __repr__(self) -> str:
        return f"BearerToken(issued={self.issued})"

    def current(self) -> str:
        with self._lock:
            if self._token is None or self._settings.clock() >= self._renew_at:
                self._renew()
            assert self._token is not None
            return self._token

    def invalidate(self) -> bool:
        """Forget the token after a 401, so the retry fetches a fresh one."""
        with self._lock:
            self._token = None
        return True

    def _renew(self) -> None:
        body = self._fetch() or {}
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise LivePersonAuthError(
                f"LivePerson sentinel answered without an access_token ({self._settings.connection_label})"
            )
        lifetime = token_lifetime(body)
        margin = min(self._settings.token_renew_margin, lifetime / 2)
        self._token = token
        self._renew_at = self._settings.clock() + lifetime - margin
        self.issued += 1
        log.info("LivePerson OAuth 2.0 token obtained; renewing in %.0f s", lifetime - margin)


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""
