"""``LivePersonClient``: one account, one session, one auth, discovery and call statistics.

The stream modules (``enghist``, ``messaging``) hold what is specific to each API; this class
holds what they share: where a service lives, how a request is signed and sent, what it cost.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import requests

from lesync.liveperson import discovery, enghist, messaging
from lesync.liveperson.auth import BearerToken, oauth1, token_request_form
from lesync.liveperson.errors import LivePersonAuthError, LivePersonError, LivePersonPermissionError
from lesync.liveperson.http import Call, Limiter, Transport
from lesync.liveperson.settings import PAGE_LIMIT, SERVICE_SENTINEL, SORT, LivePersonSettings
from lesync.liveperson.streams import Stream, is_partial, mark_partial

log = logging.getLogger(__name__)

# Counted by the client itself (the transport counts calls): what became of partial records, and
# how many conversations were re-checked by id.
OUTCOMES = ("partial_refetched", "partial_failed", "rechecked")


class LivePersonClient:
    """Talks to one LivePerson account; usable with or without Airflow."""

    def __init__(
        self,
        settings: LivePersonSettings,
        session: requests.Session | None = None,
        limiter: Limiter | None = None,
    ):
        """``limiter``: called before every request, blocks until it may go (``http.rate_limiter``)."""
        self.settings = settings
        self.transport = Transport(settings, session, limiter=limiter)
        self._outcomes: Counter[str] = Counter({name: 0 for name in OUTCOMES})
        if settings.auth == "oauth2":
            self._bearer: BearerToken | None = BearerToken(self._fetch_token, settings)
            self._auth: Any = self._bearer
            self.transport.on_unauthorized = self._bearer.invalidate
        else:
            self._bearer = None
            self._auth = oauth1(settings)

    def __repr__(self) -> str:
        return f"LivePersonClient(account_id={self.settings.account_id!r}, auth={self.settings.auth!r})"

    def use_limiter(self, limiter: Limiter | None) -> None:
        """Share a rate budget from now on (e.g. the account's, across tasks and workers)."""
        self.transport.limiter = limiter

    def close(self) -> None:
        """Close pooled connections (a long-lived worker should not keep sockets open)."""
        self.transport.session.close()

    def __enter__(self) -> LivePersonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def stats(self) -> dict[str, Any]:
        """Calls made so far: ``calls`` (every request, retries included), ``pages``, ``retries``,
        ``discovery``, ``tokens``, ``by_id``, ``by_endpoint``; and records: ``partial_refetched``,
        ``partial_failed`` (kept partial and marked), ``rechecked`` (re-read by id)."""
        return {**self.transport.stats.as_dict(), **self._outcomes}

    # -- streams (the table of contents; see enghist.py and messaging.py) --------------------------

    def chats(self, start: datetime, end: datetime, skills: list[int] | None = None) -> Iterator[dict]:
        """Ended chats that started in [start, end), each once, whole."""
        return enghist.chats_in_window(self, start, end, skills)

    def chat(self, engagement_id: str) -> dict | None:
        """One ended chat by engagement id (searched over the 13-month retention), or ``None``."""
        return enghist.chat_by_id(self, engagement_id)

    def conversations(
        self,
        start: datetime,
        end: datetime,
        skills: list[int] | None = None,
        update_search: bool = True,
        content: Iterable[str] | None = None,
    ) -> Iterator[dict]:
        """Messaging conversations that started or changed in [start, end), each once, whole;
        with ``update_search=False`` only those that started in it (a run's later slices).
        ``content``: the ``contentToRetrieve`` parts (default ``settings.DEFAULT_CONTENT``)."""
        return messaging.conversations_in_window(
            self, start, end, skills, update_search=update_search, content=content
        )

    def conversation(self, conversation_id: str, content: Iterable[str] | None = None) -> dict | None:
        """One messaging conversation by id (open or closed), or ``None``."""
        return messaging.conversation_by_id(self, conversation_id, content)

    def conversations_by_ids(
        self, conversation_ids: Iterable[str], content: Iterable[str] | None = None
    ) -> Iterator[dict]:
        """The current record of each conversation id (one call each), counted as ``rechecked``."""
        for record in messaging.conversations_by_ids(self, conversation_ids, content):
            self._outcomes["rechecked"] += 1
            yield record

    def whole(self, stream: Stream, record: dict, fetch: Callable[[str], dict | None]) -> dict:
        """The record itself, or, when LivePerson marked it ``isPartial``, the whole one by id.

        A partial record that cannot be fetched whole (not found, a refused or failed call) is
        kept and marked (``streams.mark_partial``) rather than failing the extract; only wrong or
        insufficient keys, which would fail every next call too, are raised."""
        if not is_partial(record):
            return record
        key = stream.record_id(record)
        try:
            found = fetch(key) if key else None
            reason = "not found by id" if found is None else None
        except (LivePersonAuthError, LivePersonPermissionError):
            raise
        except LivePersonError as exc:
            found, reason = None, f"fetching it whole failed: {exc}"
        if found is None:
            self._outcomes["partial_failed"] += 1
            log.warning("LivePerson %s %s is partial and was kept as is (%s)", stream.api, key, reason)
            return mark_partial(record, str(reason))
        self._outcomes["partial_refetched"] += 1
        return found

    # -- shared plumbing ------------------------------------------------------------------------

    def service_url(self, service: str) -> str:
        """``https://<host>`` of a LivePerson service, discovered once per process."""
        return discovery.base_url(
            self.settings.domain_api_url, self.settings.account_id, service, self._discover
        )

    def search_page(self, stream: Stream, body: dict, offset: int) -> dict:
        """One page (``limit=100``, ``sort=start:asc``, ``source`` always) of a stream's search."""
        params = {"offset": offset, "limit": PAGE_LIMIT, "sort": SORT, "source": self.settings.source}
        params.update(stream.params)
        return self.post(stream.api, stream.service, stream.search_path, body, params, kind="page") or {}

    def post(
        self, api: str, service: str, path: str, body: dict, params: dict | None = None, kind: str = "page"
    ) -> Any:
        """POST JSON to ``path`` (relative to the service, ``{account}`` filled in), signed."""
        relative = path.format(account=self.settings.account_id)
        call = Call(
            method="POST",
            url=f"{self.service_url(service)}{relative}",
            endpoint=f"POST {path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}",
            kind=kind,
            api=api,
            params=params or {"source": self.settings.source},
            json=body,
            auth=self._auth,
        )
        return self.transport.send(call)

    def _discover(self, url: str) -> Any:
        call = Call(
            method="GET",
            url=url,
            endpoint="GET baseURI.json",
            kind="discovery",
            api="discovery",
            params={"version": "1.0"},
        )
        return self.transport.send(call)

    def _fetch_token(self) -> dict:
        path = f"/sentinel/api/v2/account/{self.settings.account_id}/app/token"
        call = Call(
            method="POST",
            url=f"{self.service_url(SERVICE_SENTINEL)}{path}",
            endpoint="POST app/token",
            kind="token",
            api="token",
            data=token_request_form(self.settings),
        )
        return self.transport.send(call) or {}
