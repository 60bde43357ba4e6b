"""Messaging Interactions API: conversations that started or changed in a window, and one by id.

A messaging conversation can stay open for days, so selecting by start time alone never brings
back the closed version of one synced while open. The API ANDs its filters, so a window takes
two searches, deduped by conversation id:

1. ``start`` in [start, end) (split into API-sized slices): everything that began in the window;
2. ``start`` in [start - lookback, start] AND ``latestUpdateTime.from = start``: what began
   earlier and changed in the window (closed, new messages). ``lookback`` defaults to the API
   maximum (~3 months) and may reach the 13-month retention (then several slices).

A run cut into consecutive slices needs search 2 only for its first slice: ``latestUpdateTime``
has no upper bound, so the first slice's search 2 (updated since the run's start) already holds
every conversation that began before the run and changed at any time since; a later slice's
search 2 would only add conversations begun in earlier slices of the same run (fetched there by
search 1) or a subset of the first slice's. Later slices pass ``update_search=False``.

Cost in calls per window: sum over search-1 slices of max(1, ceil(n / 100)) + sum over search-2
slices of max(1, ceil(m / 100)) + one by-id call per ``isPartial`` record, where m counts the
conversations started before the window and updated in it (usually few): so ~pages + 1.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lesync.liveperson.enghist import started_within
from lesync.liveperson.paging import Stream, record_id, search_unique
from lesync.liveperson.settings import SERVICE_MESSAGING
from lesync.pipeline.windows import (
    MESSAGING_MAX_INTERVAL,
    RETENTION,
    Window,
    api_slices,
    round_down,
    round_up,
    to_epoch_ms,
    validate_window,
)

if TYPE_CHECKING:
    from lesync.liveperson.client import LivePersonClient

log = logging.getLogger(__name__)

CONVERSATIONS = Stream(
    api="messaging",
    service=SERVICE_MESSAGING,
    search_path="/messaging_history/api/account/{account}/conversations/search",
    records_key="conversationHistoryRecords",
    id_key="conversationId",
    extra_params=(("v", "2"),),
)
BY_ID_PATH = "/messaging_history/api/account/{account}/conversations/conversation/search"
OPEN = "OPEN"


def conversations_in_window(
    client: LivePersonClient,
    start: datetime,
    end: datetime,
    skills: list[int] | None = None,
    lookback: timedelta = MESSAGING_MAX_INTERVAL,
    update_search: bool = True,
) -> Iterator[dict[str, Any]]:
    """Conversations that started in [start, end) or started earlier and changed since ``start``.

    ``update_search=False`` skips the second part (started earlier, changed since ``start``): for
    the slices of a run after its first one, whose own update search already covers them.
    """
    window = validate_window(start, end)
    seen: set[str] = set()
    for piece in api_slices("messaging", window.start, window.end):
        for record in _search(client, search_body(piece, skills), f"messaging {piece.start:%Y-%m-%d %H:%M}"):
            if started_within(record, window) and _first_time(record, seen):
                yield complete(client, record)
    if not update_search:
        return
    for piece in lookback_slices(window, lookback):
        body = search_body(piece, skills)
        body["latestUpdateTime"] = {"from": to_epoch_ms(round_down(window.start))}
        for record in _search(client, body, f"messaging updated since {window.start:%Y-%m-%d %H:%M}"):
            if _first_time(record, seen):
                yield complete(client, record)


def conversation_by_id(client: LivePersonClient, conversation_id: str) -> dict[str, Any] | None:
    """One conversation, open or closed, with all its SDEs; ``None`` when unknown."""
    page = client.post(
        CONVERSATIONS.api,
        CONVERSATIONS.service,
        BY_ID_PATH,
        {"conversationId": str(conversation_id)},
        params={"source": client.settings.source, "v": "2"},
        kind="by_id",
    )
    for record in (page or {}).get(CONVERSATIONS.records_key) or []:
        if record_id(record, CONVERSATIONS) == str(conversation_id):
            return record
    return None


def is_open(record: dict[str, Any]) -> bool:
    return (record.get("info") or {}).get("status") == OPEN


def search_body(window: Window, skills: list[int] | None = None) -> dict[str, Any]:
    """Search body; bounds pre-rounded outward to 10 minutes so the API's rounding loses nothing."""
    body: dict[str, Any] = {
        "start": {"from": to_epoch_ms(round_down(window.start)), "to": to_epoch_ms(round_up(window.end))}
    }
    if skills:
        body["skillIds"] = [int(skill) for skill in skills]
    return body


def lookback_slices(window: Window, lookback: timedelta) -> list[Window]:
    """Start ranges for search 2: [start - lookback, start], bounded by the 13-month retention."""
    lookback = min(lookback, RETENTION)
    if lookback <= timedelta(0):
        return []
    return api_slices("messaging", window.start - lookback, window.start)


def complete(client: LivePersonClient, record: dict[str, Any]) -> dict[str, Any]:
    """The record itself, or, when LivePerson marked it ``isPartial``, the whole one by id."""
    if not (record.get("info") or {}).get("isPartial"):
        return record
    key = record_id(record, CONVERSATIONS)
    whole = conversation_by_id(client, key) if key else None
    if whole is None:
        log.warning("LivePerson conversation %s is partial and could not be fetched whole; kept", key)
        return record
    client.partial_refetched += 1
    return whole


def _first_time(record: dict[str, Any], seen: set[str]) -> bool:
    key = record_id(record, CONVERSATIONS)
    if key is None:
        return True
    if key in seen:
        return False
    seen.add(key)
    return True


def _search(client: LivePersonClient, body: dict[str, Any], label: str) -> Iterator[dict[str, Any]]:
    params = dict(CONVERSATIONS.extra_params)

    def fetch(offset: int) -> dict[str, Any]:
        return client.search_page(
            CONVERSATIONS.api, CONVERSATIONS.service, CONVERSATIONS.search_path, body, offset, params
        )

    return search_unique(fetch, CONVERSATIONS, label)
