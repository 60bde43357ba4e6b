"""Who is calling: OAuth 1.0 HMAC-SHA1 signatures (the 4 strings) or a Sentinel bearer token.

Signatures are checked with oauthlib's server-side helpers, not a hand-rolled base string, so
the emulator agrees with any standard client. Each failure says what was wrong, as a client
author needs to know (unknown key vs. wrong signature vs. clock skew).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from urllib.parse import parse_qsl, urlsplit

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from lesync.emulators.liveperson.config import KeySet, LivePersonEmulatorConfig
from lesync.emulators.liveperson.errors import ApiError

OAUTH_REQUIRED = (
    "oauth_consumer_key",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
)


class Authenticator:
    """Checks callers against the configured key sets; issues and checks bearer tokens."""

    def __init__(self, config: LivePersonEmulatorConfig, now_ms):
        self.config = config
        self.now_ms = now_ms  # the emulator clock: bearer tokens expire on it
        self.by_consumer_key = {k.consumer_key: k for k in config.keysets()}
        self.by_client_id = {k.oauth2_client_id: k for k in config.keysets()}
        self._tokens: dict[str, tuple[KeySet, int]] = {}
        self._signing_key = hashlib.sha256(f"lp-emulator:{config.seed}".encode()).digest()
        self._lock = threading.Lock()

    # --- Sentinel (OAuth 2.0 client credentials) --------------------------------------------

    def issue_token(self, account_id: str, form_body: bytes) -> dict:
        form = dict(parse_qsl(form_body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "unsupported_grant_type: grant_type must be client_credentials")
        keyset = self.by_client_id.get(form.get("client_id", ""))
        if keyset is None or not hmac.compare_digest(
            form.get("client_secret", ""), keyset.oauth2_client_secret
        ):
            raise ApiError(401, "invalid_client: unknown client_id or wrong client_secret")
        lifetime = self.config.token_lifetime_s
        expires_ms = self.now_ms() + lifetime * 1000
        token = self._jwt(account_id, keyset.oauth2_client_id, expires_ms)
        with self._lock:
            self._tokens[token] = (keyset, expires_ms)
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}

    def _jwt(self, account_id: str, client_id: str, expires_ms: int) -> str:
        header = {"kid": "lp-emulator", "typ": "JWT", "alg": "HS256"}
        issued = self.now_ms() // 1000
        claims = {
            "aud": account_id,
            "azp": client_id,
            "scope": "msg.history eng.history",
            "iss": "Sentinel",
            "exp": expires_ms // 1000,
            "iat": issued,
            "jti": secrets.token_hex(8),
        }
        signing_input = f"{_b64(json.dumps(header))}.{_b64(json.dumps(claims))}"
        mac = hmac.new(self._signing_key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"

    def _bearer(self, token: str) -> KeySet:
        with self._lock:
            known = self._tokens.get(token)
        if known is None:
            raise ApiError(401, "Invalid bearer token: not issued by this Sentinel")
        keyset, expires_ms = known
        if self.now_ms() >= expires_ms:
            raise ApiError(401, "Bearer token expired: request a new one from Sentinel")
        return keyset

    # --- every data call ---------------------------------------------------------------------

    def authenticate(self, method: str, url: str, headers: dict[str, str]) -> KeySet:
        """The key set behind this request, or ApiError(401)."""
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            return self._bearer(authorization[7:].strip())
        query = urlsplit(url).query
        if not authorization.lower().startswith("oauth ") and "oauth_signature" not in query:
            raise ApiError(401, "Missing authorization: sign with OAuth 1.0 or send a Bearer token")
        return self._oauth1(method, url, query, authorization)

    def _oauth1(self, method: str, url: str, query: str, authorization: str) -> KeySet:
        headers = {"Authorization": authorization} if authorization else {}
        try:
            params = oauth_signature.collect_parameters(
                uri_query=query, headers=headers, exclude_oauth_signature=False
            )
            oauth = dict(p for p in params if p[0].startswith("oauth_"))
        except (ValueError, TypeError) as exc:
            raise ApiError(401, f"Malformed OAuth authorization: {exc}") from exc
        missing = [name for name in OAUTH_REQUIRED if not oauth.get(name)]
        if missing:
            raise ApiError(401, f"Malformed OAuth authorization: missing {', '.join(missing)}")
        keyset = self._check_oauth_fields(oauth)
        request = OAuthRequest(url, http_method=method, headers=headers)
        request.params = [p for p in params if p[0] != "oauth_signature"]
        request.signature = oauth["oauth_signature"]
        if not oauth_signature.verify_hmac_sha1(request, keyset.consumer_secret, keyset.access_token_secret):
            raise ApiError(
                401, "OAuth signature mismatch: wrong app secret or token secret, or the request was altered"
            )
        return keyset

    def _check_oauth_fields(self, oauth: dict[str, str]) -> KeySet:
        keyset = self.by_consumer_key.get(oauth["oauth_consumer_key"])
        if keyset is None:
            raise ApiError(401, "Unknown consumer key (app key): no such API key for this account")
        if oauth.get("oauth_token") != keyset.access_token:
            raise ApiError(401, "Invalid access token: oauth_token does not belong to this app key")
        if oauth["oauth_signature_method"] != "HMAC-SHA1":
            raise ApiError(
                401, f"Unsupported signature method {oauth['oauth_signature_method']}: use HMAC-SHA1"
            )
        try:
            skew = abs(time.time() - int(oauth["oauth_timestamp"]))
        except ValueError as exc:
            raise ApiError(401, "Malformed OAuth timestamp") from exc
        if skew > self.config.timestamp_tolerance_s:
            raise ApiError(
                401,
                (
                    f"Stale OAuth timestamp: {int(skew)} s from server time "
                    f"(max {self.config.timestamp_tolerance_s} s); check the clock"
                ),
            )
        return keyset

    @staticmethod
    def require_history_permission(keyset: KeySet) -> None:
        if not keyset.history_permission:
            raise ApiError(403, "Forbidden: this API key lacks the data permission for conversation history")


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
