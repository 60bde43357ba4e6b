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

Every search and by-id call sends ``contentToRetrieve`` (``content``; by default
``settings.DEFAULT_CONTENT``, which holds ``monitoring``, absent from the API's own default set):
once given, only the listed parts come back.

Whether the real API honours ``latestUpdateTime`` is not clearly documented, so a conversation
synced while open is also re-checked by id (``conversations_by_ids``) until it closes.

Cost in calls per window: sum over search-1 slices of max(1, ceil(n / 100)) + sum over search-2
slices of max(1, ceil(m / 100)) + one by-id call per ``isPartial`` record, where m counts the
conversations started before the window and updated in it (usually few): so ~pages + 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lesync.liveperson.settings import SERVICE_MESSAGING, content_to_retrieve
from lesync.liveperson.streams import Stream, find_by_id, search, search_body, started_within
from lesync.liveperson.windows import MESSAGING_MAX_INTERVAL, RETENTION, api_slices, round_down
from lesync.window import Window, to_epoch_ms, validate_window

if TYPE_CHECKING:
    from lesync.liveperson.client import LivePersonClient

CONVERSATIONS = Stream(
    api="messaging",
    service=SERVICE_MESSAGING,
    search_path="/messaging_history/api/account/{account}/conversations/search",
    by_id_path="/messaging_history/api/account/{account}/conversations/conversation/search",
    records_key="conversationHistoryRecords",
    id_key="conversationId",
    params=(("v", "2"),),  # v=2: unauthenticated engagement attributes too, under unAuthSdes
)
OPEN = "open"


def conversations_in_window(
    client: LivePersonClient,
    start: datetime,
    end: datetime,
    skills: list[int] | None = None,
    lookback: timedelta = MESSAGING_MAX_INTERVAL,
    update_search: bool = True,
    content: Iterable[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Conversations that started in [start, end) or started earlier and changed since ``start``.

    ``update_search=False`` skips the second part (started earlier, changed since ``start``): for
    the slices of a run after its first one, whose own update search already covers them.
    """
    window = validate_window(start, end)
    parts = content_to_retrieve(content)
    seen: set[str] = set()
    for piece in api_slices("messaging", window.start, window.end):
        body = {**search_body(piece, skills), **content_field(parts)}
        for record in search(client, CONVERSATIONS, body, f"messaging {piece.start:%Y-%m-%d %H:%M}"):
            if started_within(record, window) and _first_time(record, seen):
                yield _whole(client, record, parts)
    if not update_search:
        return
    for piece in lookback_slices(window, lookback):
        body = {**search_body(piece, skills), **content_field(parts)}
        body["latestUpdateTime"] = {"from": to_epoch_ms(round_down(window.start))}
        for record in search(
            client, CONVERSATIONS, body, f"messaging updated since {window.start:%Y-%m-%d %H:%M}"
        ):
            if _first_time(record, seen):
                yield _whole(client, record, parts)


def content_field(parts: list[str]) -> dict[str, list[str]]:
    """``{"contentToRetrieve": parts}``, or nothing when no part is asked for (an empty list would
    ask for nothing at all)."""
    return {"contentToRetrieve": parts} if parts else {}


def conversation_by_id(
    client: LivePersonClient, conversation_id: str, content: Iterable[str] | None = None
) -> dict[str, Any] | None:
    """One conversation, open or closed, with all its SDEs; ``None`` when unknown."""
    body = {"conversationId": str(conversation_id), **content_field(content_to_retrieve(content))}
    return find_by_id(client, CONVERSATIONS, str(conversation_id), body)


def conversations_by_ids(
    client: LivePersonClient, conversation_ids: Iterable[str], content: Iterable[str] | None = None
) -> Iterator[dict[str, Any]]:
    """The current record of each id (one call each; unknown ids are skipped): the re-check of
    conversations synced while open, whether or not the search honours ``latestUpdateTime``."""
    parts = content_to_retrieve(content)
    for conversation_id in dict.fromkeys(str(i) for i in conversation_ids):
        record = conversation_by_id(client, conversation_id, parts)
        if record is not None:
            yield record


def is_open(record: dict[str, Any]) -> bool:
    """Status compared case-insensitively: the docs spell enumerations more than one way."""
    return str((record.get("info") or {}).get("status") or "").casefold() == OPEN


def lookback_slices(window: Window, lookback: timedelta) -> list[Window]:
    """Start ranges for search 2: [start - lookback, start], bounded by the 13-month retention."""
    lookback = min(lookback, RETENTION)
    if lookback <= timedelta(0):
        return []
    return api_slices("messaging", window.start - lookback, window.start)


def _whole(client: LivePersonClient, record: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    return client.whole(CONVERSATIONS, record, lambda key: conversation_by_id(client, key, parts))


def _first_time(record: dict[str, Any], seen: set[str]) -> bool:
    key = CONVERSATIONS.record_id(record)
    if key is None:
        return True
    if key in seen:
        return False
    seen.add(key)
    return True
