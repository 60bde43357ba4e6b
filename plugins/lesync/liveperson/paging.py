"""Offset paging of one LivePerson search, with the checks that make it complete.

Offsets move when data changes during paging (a conversation added before the current offset
pushes the rest down one), so: pages sorted by start ascending, records deduped by id, and the
unique total compared with ``_metadata.count``. Short of the count, the search is paged once
more from the start (what moved is picked up; what was seen is skipped); still short, it goes on
with a warning that gives the numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lesync.liveperson.streams import Stream

log = logging.getLogger(__name__)


PageFetcher = Callable[[int], dict[str, Any]]


def pages(fetch: PageFetcher, stream: Stream) -> Iterator[tuple[list[dict], dict]]:
    """``(records, _metadata)`` of each page, offset by what actually arrived (never skips)."""
    offset = 0
    while True:
        page = fetch(offset) or {}
        records = page.get(stream.records_key) or []
        metadata = page.get("_metadata") or {}
        yield records, metadata
        offset += len(records)
        count = metadata.get("count")
        if not records or "next" not in metadata or (isinstance(count, int) and offset >= count):
            return


def search_unique(fetch: PageFetcher, stream: Stream, label: str) -> Iterator[dict]:
    """Every record of one search once, checked against ``_metadata.count`` (re-paged once)."""
    seen: set[str] = set()
    expected = 0
    for round_number in (1, 2):
        for records, metadata in pages(fetch, stream):
            expected = max(expected, _count(metadata))
            _warn_if_partial(metadata, label)
            for record in records:
                key = stream.record_id(record)
                if key is not None and key in seen:
                    continue
                if key is not None:
                    seen.add(key)
                yield record
        if len(seen) >= expected:
            return
        if round_number == 1:
            log.info(
                "LivePerson %s: %d unique records of %d counted; paging once more", label, len(seen), expected
            )
    log.warning(
        "LivePerson %s: only %d unique records of %d counted after paging twice; going on",
        label,
        len(seen),
        expected,
    )


def _count(metadata: dict) -> int:
    count = metadata.get("count")
    return count if isinstance(count, int) else 0


def _warn_if_partial(metadata: dict, label: str) -> None:
    shards = metadata.get("shardsStatusResult") or {}
    if shards.get("partialResult"):
        log.warning("LivePerson %s: a page came from a partial shard result (%s)", label, shards)
