"""The one place for LivePerson HTTP: session, timeouts, retry policy, error translation, counting.

A ``limiter`` (optional) is called before every request, retries included, and blocks until
the request may go: the account's shared rate budget (``rate_limiter``), so parallel extracts of
one account, in any task or worker, stay under LivePerson's throttling instead of meeting 429s.

Retry policy, as LivePerson asks: 429 waits ``Retry-After`` (at least 1 s); 5xx, timeouts and
dropped connections wait 5, 10, 15 s, then back off exponentially up to a cap; every other 4xx
fails at once with one line saying what to fix. Every attempt is counted, so the extract stage
can report the API calls a window cost.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from lesync.json_codec import decode
from lesync.liveperson.errors import (
    LivePersonAuthError,
    LivePersonError,
    LivePersonPermissionError,
    LivePersonRequestError,
    LivePersonUnavailableError,
)
from lesync.liveperson.settings import LivePersonSettings

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 600.0  # a Retry-After longer than this is a server bug, not advice
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
PERMISSION_NAMES = {
    "chat": "Engagement History",
    "messaging": "Messaging Interactions",
    "token": "OAuth 2.0 (sentinel)",
    "discovery": "Domain API",
}


Limiter = Callable[[], None]


def rate_limiter(take: Callable[[], float], sleep: Callable[[float], None] = time.sleep) -> Limiter:
    """A limiter from a token bucket: ``take`` reserves one request and returns the seconds to
    wait before sending it (e.g. the state store's ``take_rate_tokens`` on the account's key)."""

    def wait_for_token() -> None:
        delay = take()
        if delay > 0:
            sleep(delay)

    return wait_for_token


@dataclass
class CallStats:
    """API calls made by one client. ``calls`` counts every request sent, retries included."""

    calls: int = 0
    pages: int = 0
    retries: int = 0
    discovery: int = 0
    tokens: int = 0
    by_id: int = 0
    by_endpoint: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "pages": self.pages,
            "retries": self.retries,
            "discovery": self.discovery,
            "tokens": self.tokens,
            "by_id": self.by_id,
            "by_endpoint": dict(self.by_endpoint),
        }


@dataclass(frozen=True)
class Call:
    """One logical API call: what it is for (``kind``, ``api``) and what to send."""

    method: str
    url: str
    endpoint: str  # e.g. "POST interactions/search": the key in stats.by_endpoint
    kind: str  # "page" | "discovery" | "token" | "by_id"
    api: str  # "chat" | "messaging" | "token" | "discovery": names the permission in errors
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, str] | None = None
    auth: Any = None


def build_session(settings: LivePersonSettings) -> requests.Session:
    """A session that trusts ``ca_file`` when given (and ignores REQUESTS_CA_BUNDLE then)."""
    session = requests.Session()
    session.headers.update({"Accept": "application/json", "User-Agent": f"{settings.source}/lesync"})
    if settings.ca_file:
        session.verify = settings.ca_file
        session.trust_env = False
    return session


class Transport:
    """Sends calls with retries and turns LivePerson's answers into JSON or one-line errors."""

    def __init__(
        self,
        settings: LivePersonSettings,
        session: requests.Session | None = None,
        on_unauthorized: Callable[[], bool] | None = None,
        limiter: Limiter | None = None,
    ):
        self.settings = settings
        self.session = session or build_session(settings)
        self.stats = CallStats()
        self.on_unauthorized = on_unauthorized  # returns True when a fresh token is worth a retry
        self.limiter = limiter  # blocks until the account's rate budget grants one request

    def send(self, call: Call) -> Any:
        """The JSON body of a successful answer (``None`` for 204)."""
        attempt = server_failures = 0
        renewed_token = False
        while True:
            attempt += 1
            outcome = self._attempt(call)
            if isinstance(outcome, requests.Response) and outcome.status_code < 300:
                body = _json_or_none(outcome)
                if body is not _UNREADABLE:
                    self._count_success(call)
                    return body
                outcome = requests.exceptions.ChunkedEncodingError("truncated JSON body")
            if (
                _is_unauthorized(outcome)
                and call.auth is not None
                and not renewed_token
                and self._renew_token()
            ):
                renewed_token = True
                self._count_retry(call, attempt, 0.0, "401, token renewed")
                continue
            if not _is_throttled(outcome):
                server_failures += 1
            delay = self._retry_delay(outcome, attempt, server_failures)
            if delay is None:
                raise self._failure(call, outcome, attempt)
            self._count_retry(call, attempt, delay, _describe(outcome))
            self.settings.sleep(delay)

    def _attempt(self, call: Call) -> requests.Response | Exception:
        if self.limiter is not None:
            self.limiter()
        self.stats.calls += 1
        self.stats.by_endpoint[call.endpoint] += 1
        try:
            return self.session.request(
                call.method,
                call.url,
                params=call.params,
                json=call.json,
                data=call.data,
                auth=call.auth,
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
            )
        except TRANSIENT_ERRORS as exc:
            return exc

    def _renew_token(self) -> bool:
        return bool(self.on_unauthorized and self.on_unauthorized())

    def _retry_delay(
        self, outcome: requests.Response | Exception, attempt: int, server_failures: int
    ) -> float | None:
        """None: give up. 429 follows Retry-After; 5xx and broken connections the 5-10-15 s
        schedule, counted on their own so earlier 429s do not lengthen it."""
        if attempt >= self.settings.max_attempts:
            return None
        if _is_throttled(outcome):
            return retry_after_delay(outcome.headers.get("Retry-After"), self.settings)
        if isinstance(outcome, Exception) or outcome.status_code in TRANSIENT_STATUSES:
            return backoff_delay(server_failures, self.settings)
        return None

    def _count_success(self, call: Call) -> None:
        if call.kind == "page":
            self.stats.pages += 1
        elif call.kind == "discovery":
            self.stats.discovery += 1
        elif call.kind == "token":
            self.stats.tokens += 1
        elif call.kind == "by_id":
            self.stats.by_id += 1

    def _count_retry(self, call: Call, attempt: int, delay: float, why: str) -> None:
        self.stats.retries += 1
        log.warning(
            "LivePerson %s: %s; retry %d of %d in %.1f s",
            call.endpoint,
            why,
            attempt,
            self.settings.max_attempts - 1,
            delay,
        )

    def _failure(self, call: Call, outcome: requests.Response | Exception, attempt: int) -> LivePersonError:
        if isinstance(outcome, Exception) or outcome.status_code in TRANSIENT_STATUSES:
            message = (
                f"LivePerson {call.endpoint} still failing after {attempt} attempts "
                f"({_describe(outcome)}); try again later or raise max_attempts"
            )
            status = None if isinstance(outcome, Exception) else outcome.status_code
            return LivePersonUnavailableError(self._scrub(message), status)
        return self._client_error(call, outcome)

    def _client_error(self, call: Call, response: requests.Response) -> LivePersonError:
        status, detail = response.status_code, response_message(response)
        label = self.settings.connection_label
        if status == 401 and call.kind == "token":
            error: type[LivePersonError] = LivePersonAuthError
            text = f"LivePerson rejected the OAuth 2.0 client id/secret (check them in {label})"
        elif status == 401:
            error = LivePersonAuthError
            text = _unauthorized_text(self.settings.auth, label)
        elif status == 403:
            error = LivePersonPermissionError
            api = PERMISSION_NAMES.get(call.api, call.api)
            text = f"the app key of {label} lacks the {api} data permission (LivePerson: Data Sources > API)"
        elif status == 400 and call.kind == "token":
            error = LivePersonAuthError
            text = f"LivePerson refused the OAuth 2.0 token request (check client id/secret in {label})"
        elif status == 400 and call.kind == "page":
            error = LivePersonRequestError
            text = (
                f"LivePerson refused the {call.endpoint} request; if the window is longer than the API "
                "allows (chat: one month, messaging: three months), use shorter windows"
            )
        else:
            error = LivePersonRequestError
            text = f"LivePerson answered {status} to {call.endpoint}"
        return error(self._scrub(f"{text}: {detail}" if detail else text), status)

    def _scrub(self, text: str) -> str:
        for secret in self.settings.secrets():
            text = text.replace(secret, "***")
        return text


def _unauthorized_text(auth: str, label: str) -> str:
    if auth == "oauth2":
        return (
            f"LivePerson rejected the OAuth 2.0 token (check client id/secret and app permissions in {label})"
        )
    return f"LivePerson rejected the app keys (check consumer key/secret and access token/secret of {label})"


def backoff_delay(attempt: int, settings: LivePersonSettings) -> float:
    """5, 10, 15 s for the first retries (LivePerson's advice), then doubling up to the cap."""
    schedule = settings.retry_delays
    if attempt <= len(schedule):
        return min(schedule[attempt - 1], settings.backoff_cap)
    last = schedule[-1] if schedule else 1.0
    return min(last * 2 ** (attempt - len(schedule)), settings.backoff_cap)


def retry_after_delay(header: str | None, settings: LivePersonSettings) -> float:
    """Seconds to wait after a 429: ``Retry-After`` (seconds or HTTP date), never under the floor."""
    seconds = _retry_after_seconds(header)
    if seconds is None:
        seconds = settings.min_retry_after
    return min(max(seconds, settings.min_retry_after), MAX_RETRY_AFTER)


def _retry_after_seconds(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return float(header)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(header).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def response_message(response: requests.Response) -> str:
    """The server's own words (JSON ``message``/``error``...) on one short line."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, list) and body:
        body = body[0]
    if isinstance(body, dict):
        keys = ("message", "errorMessage", "error_description", "error", "errorCode")
        body = next((body[k] for k in keys if isinstance(body.get(k), str) and body[k]), "")
    text = " ".join(str(body or "").split())
    return text[:300]


_UNREADABLE = object()


def _json_or_none(response: requests.Response) -> Any:
    """The body's JSON (``json_codec``: pages decode at C speed, ~3x ``response.json()``, which
    still reads what is not UTF-8, in the charset the response declares)."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return decode(response.content)
    except ValueError:
        pass
    try:
        return response.json()
    except ValueError:
        return _UNREADABLE


def _is_throttled(outcome: requests.Response | Exception) -> bool:
    return isinstance(outcome, requests.Response) and outcome.status_code == 429


def _is_unauthorized(outcome: requests.Response | Exception) -> bool:
    return isinstance(outcome, requests.Response) and outcome.status_code == 401


def _describe(outcome: requests.Response | Exception) -> str:
    if isinstance(outcome, Exception):
        return f"{type(outcome).__name__}"
    return f"HTTP {outcome.status_code}"
