"""Engagement History API (chat): ended chats in a window, and one chat by engagement id.

Cost in calls: ceil(chats in each slice / 100) pages per slice (at least one), plus one
by-id call per ``isPartial`` record; a slice is at most ``CHAT_MAX_INTERVAL`` long.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lesync.liveperson.settings import SERVICE_CHAT
from lesync.liveperson.streams import Stream, find_by_id, search, search_body, started_within
from lesync.liveperson.windows import api_slices, retention_window
from lesync.window import Window, from_epoch_ms, validate_window

if TYPE_CHECKING:
    from lesync.liveperson.client import LivePersonClient

SEARCH_PATH = "/interaction_history/api/account/{account}/interactions/search"
CHATS = Stream(
    api="chat",
    service=SERVICE_CHAT,
    search_path=SEARCH_PATH,
    by_id_path=SEARCH_PATH,  # the same search, filtered by engagementId
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
        for record in search(client, CHATS, body, f"chat {piece.start:%Y-%m-%d %H:%M}"):
            key = CHATS.record_id(record)
            if key in seen or not started_within(record, window):
                continue
            if key is not None:
                seen.add(key)
            yield client.whole(CHATS, record, lambda k, r=record: chat_by_id(client, k, started_around(r)))


def chat_by_id(
    client: LivePersonClient, engagement_id: str, started: Window | None = None
) -> dict[str, Any] | None:
    """One chat by engagement id; ``None`` when not found or not ended (ended chats only).

    ``start`` is required on every search, also with ``engagementId`` (which only lifts the
    length limit): ``started`` when the chat's start is known, else the 13-month retention."""
    window = started or retention_window(datetime.now(UTC))
    body = {**search_body(window), "engagementId": str(engagement_id)}
    return find_by_id(client, CHATS, str(engagement_id), body)


def started_around(record: dict[str, Any]) -> Window | None:
    """A window holding the record's ``startTimeL`` (the search body rounds it out), if known."""
    started = (record.get("info") or {}).get("startTimeL")
    if not isinstance(started, int) or isinstance(started, bool):
        return None
    return Window(from_epoch_ms(started), from_epoch_ms(started + 1))
