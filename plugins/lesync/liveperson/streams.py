"""What the two history APIs share, written once and driven by a ``Stream`` description.

``enghist.py`` and ``messaging.py`` say what differs (paths, keys, how a window is searched);
the search body, the paged search, the lookup by id and the partial-record check live here.
Counting is the client's and the transport's own business: nothing here touches a counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lesync.liveperson.paging import search_unique
from lesync.liveperson.windows import round_down, round_up
from lesync.window import Window, to_epoch_ms

if TYPE_CHECKING:
    from lesync.liveperson.client import LivePersonClient

PARTIAL_MARK = "_lesync"  # top-level key lesync adds to a record it could not get whole


@dataclass(frozen=True)
class Stream:
    """What differs between the two search APIs."""

    api: str  # "chat" | "messaging": names the permission in errors
    service: str  # discovery name
    search_path: str  # relative to the service, "{account}" filled in by the client
    by_id_path: str  # where one record is looked up by id
    records_key: str  # list of records in the response
    id_key: str  # the record's id inside ``info``, and the by-id body's filter
    params: tuple[tuple[str, str], ...] = ()  # query parameters beyond offset/limit/sort/source

    def record_id(self, record: dict[str, Any]) -> str | None:
        info = record.get("info") if isinstance(record, dict) else None
        value = info.get(self.id_key) if isinstance(info, dict) else None
        return None if value is None else str(value)


def search_body(window: Window, skills: list[int] | None = None) -> dict[str, Any]:
    """Search body; bounds pre-rounded outward to 10 minutes so the API's rounding loses nothing."""
    body: dict[str, Any] = {
        "start": {"from": to_epoch_ms(round_down(window.start)), "to": to_epoch_ms(round_up(window.end))}
    }
    if skills:
        body["skillIds"] = [int(skill) for skill in skills]
    return body


def search(client: LivePersonClient, stream: Stream, body: dict[str, Any], label: str) -> Iterator[dict]:
    """Every record of one search once, paged by offset and checked against the count."""

    def fetch(offset: int) -> dict[str, Any]:
        return client.search_page(stream, body, offset)

    return search_unique(fetch, stream, label)


def find_by_id(client: LivePersonClient, stream: Stream, key: str, body: dict[str, Any]) -> dict | None:
    """The record whose id is ``key`` from one by-id call (``body`` holds the id filter), or None."""
    page = client.post(
        stream.api,
        stream.service,
        stream.by_id_path,
        body,
        params={"source": client.settings.source, **dict(stream.params)},
        kind="by_id",
    )
    for record in (page or {}).get(stream.records_key) or []:
        if stream.record_id(record) == str(key):
            return record
    return None


def is_partial(record: dict[str, Any]) -> bool:
    return bool((record.get("info") or {}).get("isPartial"))


def started_within(record: dict[str, Any], window: Window) -> bool:
    """True when the record's ``startTimeL`` is in [start, end) (or unknown: keep it)."""
    started = (record.get("info") or {}).get("startTimeL")
    if not isinstance(started, int | float):
        return True
    return to_epoch_ms(window.start) <= started < to_epoch_ms(window.end)


def mark_partial(record: dict[str, Any], reason: str) -> dict[str, Any]:
    """The partial record, kept, with ``{"_lesync": {"partial": true, "reason": ...}}`` on top, so
    the transform can flag the row as incomplete instead of the whole extract failing."""
    return {**record, PARTIAL_MARK: {"partial": True, "reason": reason}}


def partial_reason(record: dict[str, Any]) -> str | None:
    """Why lesync kept this record partial, or None for a record as LivePerson sent it."""
    mark = record.get(PARTIAL_MARK)
    return str(mark.get("reason")) if isinstance(mark, dict) and mark.get("partial") else None
