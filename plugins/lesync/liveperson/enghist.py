"""Engagement History API (chat): ended chats in a window, and one chat by engagement id.

Cost in calls: ceil(chats in each slice / 100) pages per slice (at least one), plus one
by-id call per ``isPartial`` record; a slice is at most ``CHAT_MAX_INTERVAL`` long.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lesync.liveperson.paging import Stream, record_id, search_unique
from lesync.liveperson.settings import SERVICE_CHAT
from lesync.pipeline.windows import Window, api_slices, round_down, round_up, to_epoch_ms, validate_window

if TYPE_CHECKING:
    from lesync.liveperson.client import LivePersonClient

log = logging.getLogger(__name__)

CHATS = Stream(
    api="chat",
    service=SERVICE_CHAT,
    search_path="/interaction_history/api/account/{account}/interactions/search",
    records_key="interactionHistoryRecords",
    id_key="engagementId",
)


def chats_in_window(
    client: LivePersonClient, start: datetime, end: datetime, skills: list[int] | None = None
) -> Iterator[dict[str, Any]]:
    """Ended chats that started in [start, end), each once, refetched whole when partial."""
    window = validate_window(start, end)
    seen: set[str] = set()
    for piece in api_slices("chat", window.start, window.end):
        body = search_body(piece, skills)
        for record in _search(client, body, f"chat {piece.start:%Y-%m-%d %H:%M}"):
            key = record_id(record, CHATS)
            if key in seen or not started_within(record, window):
                continue
            if key is not None:
                seen.add(key)
            yield complete(client, record)


def chat_by_id(client: LivePersonClient, engagement_id: str) -> dict[str, Any] | None:
    """One chat by engagement id (the filter ignores time limits); ``None`` when not found or
    not ended, since the API returns ended chats only."""
    page = client.post(
        CHATS.api,
        CHATS.service,
        CHATS.search_path,
        {"engagementId": str(engagement_id)},
        params={"source": client.settings.source},
        kind="by_id",
    )
    for record in (page or {}).get(CHATS.records_key) or []:
        if record_id(record, CHATS) == str(engagement_id):
            return record
    return None


def search_body(window: Window, skills: list[int] | None = None) -> dict[str, Any]:
    """Search body; bounds pre-rounded outward to 10 minutes so the API's rounding loses nothing."""
    body: dict[str, Any] = {
        "start": {"from": to_epoch_ms(round_down(window.start)), "to": to_epoch_ms(round_up(window.end))}
    }
    if skills:
        body["skillIds"] = [int(skill) for skill in skills]
    return body


def started_within(record: dict[str, Any], window: Window) -> bool:
    """True when the record's ``startTimeL`` is in [start, end) (or unknown: keep it)."""
    started = (record.get("info") or {}).get("startTimeL")
    if not isinstance(started, int | float):
        return True
    return to_epoch_ms(window.start) <= started < to_epoch_ms(window.end)


def complete(client: LivePersonClient, record: dict[str, Any]) -> dict[str, Any]:
    """The record itself, or, when LivePerson marked it ``isPartial``, the whole one by id."""
    if not (record.get("info") or {}).get("isPartial"):
        return record
    key = record_id(record, CHATS)
    whole = chat_by_id(client, key) if key else None
    if whole is None:
        log.warning("LivePerson chat %s is partial and could not be fetched whole; kept as is", key)
        return record
    client.partial_refetched += 1
    return whole


def _search(client: LivePersonClient, body: dict[str, Any], label: str) -> Iterator[dict[str, Any]]:
    def fetch(offset: int) -> dict[str, Any]:
        return client.search_page(CHATS.api, CHATS.service, CHATS.search_path, body, offset)

    return search_unique(fetch, CHATS, label)
