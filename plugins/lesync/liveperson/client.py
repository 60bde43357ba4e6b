"""``LivePersonClient``: one account, one session, one auth, discovery and call statistics.

The stream modules (``enghist``, ``messaging``) hold what is specific to each API; this class
holds what they share: where a service lives, how a request is signed and sent, what it cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests

from lesync.liveperson import discovery, enghist, messaging
from lesync.liveperson.auth import BearerToken, oauth1, token_request_form
from lesync.liveperson.http import Call, Transport
from lesync.liveperson.settings import PAGE_LIMIT, SERVICE_SENTINEL, SORT, LivePersonSettings


class LivePersonClient:
    """Talks to one LivePerson account; usable with or without Airflow."""

    def __init__(self, settings: LivePersonSettings, session: requests.Session | None = None):
        self.settings = settings
        self.transport = Transport(settings, session)
        self.partial_refetched = 0
        if settings.auth == "oauth2":
            self._bearer: BearerToken | None = BearerToken(self._fetch_token, settings)
            self._auth: Any = self._bearer
            self.transport.on_unauthorized = self._bearer.invalidate
        else:
            self._bearer = None
            self._auth = oauth1(settings)

    def __repr__(self) -> str:
        return f"LivePersonClient(account_id={self.settings.account_id!r}, auth={self.settings.auth!r})"

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
        ``discovery``, ``tokens``, ``by_id``, ``partial_refetched`` and ``by_endpoint``."""
        return {**self.transport.stats.as_dict(), "partial_refetched": self.partial_refetched}

    # -- streams (the table of contents; see enghist.py and messaging.py) --------------------------

    def chats(self, start: datetime, end: datetime, skills: list[int] | None = None) -> Iterator[dict]:
        """Ended chats that started in [start, end), each once, whole."""
        return enghist.chats_in_window(self, start, end, skills)

    def chat(self, engagement_id: str) -> dict | None:
        """One ended chat by engagement id, or ``None``."""
        return enghist.chat_by_id(self, engagement_id)

    def conversations(
        self, start: datetime, end: datetime, skills: list[int] | None = None, update_search: bool = True
    ) -> Iterator[dict]:
        """Messaging conversations that started or changed in [start, end), each once, whole;
        with ``update_search=False`` only those that started in it (a run's later slices)."""
        return messaging.conversations_in_window(self, start, end, skills, update_search=update_search)

    def conversation(self, conversation_id: str) -> dict | None:
        """One messaging conversation by id (open or closed), or ``None``."""
        return messaging.conversation_by_id(self, conversation_id)

    # -- shared plumbing ------------------------------------------------------------------------

    def service_url(self, service: str) -> str:
        """``https://<host>`` of a LivePerson service, discovered once per process."""
        return discovery.base_url(
            self.settings.domain_api_url, self.settings.account_id, service, self._discover
        )

    def search_page(
        self, api: str, service: str, path: str, body: dict, offset: int, extra_params: dict | None = None
    ) -> dict:
        """One page (``limit=100``, ``sort=start:asc``, ``source`` always) of a search."""
        params = {"offset": offset, "limit": PAGE_LIMIT, "sort": SORT, "source": self.settings.source}
        params.update(extra_params or {})
        return self.post(api, service, path, body, params, kind="page") or {}

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
