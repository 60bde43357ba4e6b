"""A thin client over simple-salesforce, plus the transport policy it lacks.

simple-salesforce does the REST calls (query paging, describe, limits, ``restful``). It is built
from ``instance_url`` + ``session_id`` and a ``requests.Session`` of ours, because it logs in only
against ``*.salesforce.com`` (our token URL may be a My Domain, a sandbox or the emulator) and has
no refresh for a directly given session. Our session (``SalesforceSession``) adds, for every call
simple-salesforce or this module makes:

* the current access token (a new one once on ``INVALID_SESSION_ID``, then the call again),
* retries with backoff on 429, 5xx, dropped connections, timeouts and the concurrent
  long-running request limit (``REQUEST_LIMIT_EXCEEDED: ConcurrentPerOrgLongTxn``), injectable sleep,
* the API budget: counts calls, reads ``Sforce-Limit-Info``, refuses calls into the reserve; the
  daily limit (``REQUEST_LIMIT_EXCEEDED: TotalRequests``) fails fast, never retried.

Bulk API 2.0 uploads and result downloads (CSV, not JSON) go through ``raw`` on the same session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.util import exception_handler

from lesync.salesforce.auth import AccessToken, TokenProvider, make_http_session
from lesync.salesforce.budget import ApiBudget, ApiBudgetExceededError
from lesync.salesforce.settings import BudgetSettings, SalesforceConnectionSettings

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
#: POSTs are retried only when the request surely was not processed (no duplicate creates).
UNPROCESSED_STATUS = frozenset({429, 503})
MAX_BACKOFF_SECONDS = 60.0
#: Refused or dropped connections, timeouts, and a response cut off half-way.
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class SalesforceSession(requests.Session):
    """``requests.Session`` with token injection, one re-login, retries and budget accounting."""

    def __init__(
        self,
        tokens: TokenProvider,
        budget: ApiBudget,
        settings: SalesforceConnectionSettings,
        sleep: Sleep = time.sleep,
    ):
        super().__init__()
        if settings.ca_file:
            self.verify = settings.ca_file
            self.trust_env = False  # REQUESTS_CA_BUNDLE would override verify otherwise
        self.tokens = tokens
        self.budget = budget
        self.settings = settings
        self.sleep = sleep

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.settings.timeout)
        token = self.tokens.token()
        response = self._with_retries(method, url, token, *args, **kwargs)
        if response.status_code == 401 and _is_invalid_session(response):
            log.info("Salesforce: session expired or invalid; fetching a new token once")
            self.tokens.invalidate(token)
            response = self._with_retries(method, url, self.tokens.token(), *args, **kwargs)
        if _is_daily_limit(response):
            raise ApiBudgetExceededError(
                "Salesforce answered REQUEST_LIMIT_EXCEEDED (TotalRequests): the org's daily API limit "
                "is spent; rerun when the 24-hour window has moved on"
            )
        return response

    def _with_retries(self, method: str, url: str, token: AccessToken, *args: Any, **kwargs: Any):
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {token.access_token}"
        for attempt in range(self.settings.max_retries + 1):
            self.budget.check()
            self.budget.count_call()
            last_try = attempt == self.settings.max_retries
            try:
                response = super().request(method, url, *args, headers=headers, **kwargs)
            except TRANSIENT_ERRORS as exc:
                if last_try or not _may_retry_failure(method, exc):
                    raise
                self._wait(attempt, None, f"{type(exc).__name__} on {method} {_path(url)}")
                _rewind(kwargs.get("data"))
                continue
            self.budget.observe_header(response.headers.get("Sforce-Limit-Info"))
            if last_try or not _may_retry(method, response):
                return response
            self._wait(
                attempt,
                response.headers.get("Retry-After"),
                f"HTTP {response.status_code} on {method} {_path(url)}",
            )
            _rewind(kwargs.get("data"))
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, retry_after: str | None, what: str) -> None:
        delay = min(self.settings.backoff_seconds * 2**attempt, MAX_BACKOFF_SECONDS)
        if retry_after:
            try:
                delay = max(delay, float(retry_after))
            except ValueError:
                pass
        log.warning("Salesforce: %s; retry %d in %.1f s", what, attempt + 1, delay)
        self.sleep(delay)


def _may_retry(method: str, response: requests.Response) -> bool:
    """Transient statuses (a POST only when surely unprocessed), and the concurrent-request limit:
    a refused request, so safe to repeat whatever the method."""
    status = response.status_code
    if status == 403:
        return _is_concurrent_limit(response)
    if status not in TRANSIENT_STATUS:
        return False
    return method.upper() != "POST" or status in UNPROCESSED_STATUS


def _limit_message(response: requests.Response) -> str | None:
    """The message of a ``REQUEST_LIMIT_EXCEEDED`` answer (``None`` for any other answer)."""
    if response.status_code != 403:
        return None
    for item in _error_list(response):
        if isinstance(item, dict) and item.get("errorCode") == "REQUEST_LIMIT_EXCEEDED":
            return str(item.get("message") or "")
    return None


def _is_concurrent_limit(response: requests.Response) -> bool:
    """``ConcurrentPerOrgLongTxn Limit exceeded``: too many long-running requests right now."""
    return "ConcurrentPerOrgLongTxn" in (_limit_message(response) or "")


def _is_daily_limit(response: requests.Response) -> bool:
    """Any other ``REQUEST_LIMIT_EXCEEDED`` (``TotalRequests Limit exceeded``): the 24-hour limit."""
    message = _limit_message(response)
    return message is not None and "ConcurrentPerOrgLongTxn" not in message


def _may_retry_failure(method: str, exc: Exception) -> bool:
    """A POST whose connection dropped may have been processed: retry only a failed connect."""
    return method.upper() != "POST" or isinstance(exc, requests.ConnectTimeout)


def _rewind(data: Any) -> None:
    """An uploaded file object must start from its beginning again on a retry."""
    if hasattr(data, "seek"):
        data.seek(0)


def _path(url: str) -> str:
    return url.split("?", 1)[0].split("/services/", 1)[-1]


def _error_list(response: requests.Response) -> list:
    try:
        body = response.json()
    except ValueError:
        return []
    return body if isinstance(body, list) else [body]


def _error_code(response: requests.Response) -> str | None:
    for item in _error_list(response):
        if isinstance(item, dict) and item.get("errorCode"):
            return item["errorCode"]
    return None


def _is_invalid_session(response: requests.Response) -> bool:
    return _error_code(response) in ("INVALID_SESSION_ID", None)


class SalesforceClient:
    """One connection's API: simple-salesforce for REST, ``raw`` for what it cannot do."""

    def __init__(self, sf: Salesforce, session: SalesforceSession):
        self.sf = sf
        self.session = session

    @property
    def budget(self) -> ApiBudget:
        return self.session.budget

    @property
    def api_calls(self) -> int:
        """HTTP requests made to the API (retries included), as Salesforce bills them."""
        return self.budget.calls

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, max) of the org's daily API limit as last seen; hand it to the next task's client."""
        budget = self.budget
        return (budget.used, budget.max) if budget.used is not None and budget.max is not None else None

    @property
    def sleep(self) -> Sleep:
        return self.session.sleep

    @property
    def base_url(self) -> str:
        """``https://<instance>/services/data/vNN.N/``."""
        return self.sf.base_url

    def query_all(self, soql: str) -> Iterator[dict[str, Any]]:
        """Records of a SOQL query, following ``nextRecordsUrl``."""
        yield from self.sf.query_all_iter(soql)

    def describe(self, object_name: str) -> dict[str, Any]:
        return getattr(self.sf, object_name).describe()

    def limits(self) -> dict[str, Any]:
        """``/limits``; also primes the API budget."""
        limits = self.sf.limits()
        self.budget.observe_limits(limits)
        return limits

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        """JSON REST call relative to the versioned base URL (``composite/sobjects``...)."""
        return self.sf.restful(path, method=method, **kwargs)

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A call simple-salesforce has no helper for (CSV bodies and answers); raises on >= 300."""
        headers = {**self.sf.headers, **(kwargs.pop("headers", None) or {})}
        response = self.session.request(method, self.base_url + path, headers=headers, **kwargs)
        if response.status_code >= 300:
            exception_handler(response, name=path)
        return response


def build_client(
    settings: SalesforceConnectionSettings,
    budget_settings: BudgetSettings | None = None,
    sleep: Sleep = time.sleep,
    tokens: TokenProvider | None = None,
    known_usage: tuple[int, int] | None = None,
) -> SalesforceClient:
    """A ready client: fetches the first token (to learn the instance URL) and nothing else.

    ``known_usage`` (used, max), e.g. the previous task's ``SalesforceClient.api_usage``, lets the
    budget refuse even the first call at the ceiling (the token answer carries no usage)."""
    tokens = tokens or TokenProvider(settings, make_http_session(settings.ca_file))
    budget = ApiBudget((budget_settings or BudgetSettings()).reserve_fraction)
    if known_usage:
        budget.observe(*known_usage)
    session = SalesforceSession(tokens, budget, settings, sleep=sleep)
    token = tokens.token()
    sf = Salesforce(
        instance_url=token.instance_url,
        session_id=token.access_token,  # only a placeholder: SalesforceSession sets the live token
        version=settings.api_version,
        session=session,
    )
    return SalesforceClient(sf, session)


__all__ = ["SalesforceClient", "SalesforceError", "SalesforceSession", "build_client"]
