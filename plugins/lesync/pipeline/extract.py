"""Extract stage: LivePerson records of a window (or one conversation) into staged files.

Records are written untouched, as gzip JSON lines, ``<out_dir>/<channel>-<slice>-<part>.jsonl.gz``
(the transform stage globs on the ``chat-`` / ``messaging-`` prefix), rolling to a new part every
5,000 records. Only paths and counts are returned (XCom-sized); records stream from the API to
disk, so memory holds one page plus the ids seen, whatever the window size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from lesync.liveperson.client import LivePersonClient
from lesync.liveperson.errors import ConversationNotEndedError, ConversationNotFoundError
from lesync.liveperson.messaging import is_open
from lesync.pipeline.staging import JsonlGzWriter, as_path, safe_name
from lesync.pipeline.windows import CHANNELS, validate_window

log = logging.getLogger(__name__)

RECORDS_PER_PART = 5_000
COUNTED = ("calls", "pages", "retries", "partial_refetched")


def extract_window(
    client: LivePersonClient,
    channel: str,
    start: datetime,
    end: datetime,
    out_dir: Any,
    skills: list[int] | None = None,
    slice_id: str = "0",
    update_search: bool = True,
) -> dict[str, Any]:
    """Stage every ``channel`` conversation of [start, end); returns paths and counts.

    Messaging also stages conversations that started before ``start`` and changed since it
    (``update_search``, the default). A run cut into slices needs that only once: pass
    ``update_search=False`` for every slice but the first (the one starting at the run's start),
    whose update search already returns, with no upper bound in time, everything that began
    before the run and changed since; later slices would only stage again conversations of the
    run's earlier slices. Chat ignores it (Engagement History has no update search).
    """
    _check_channel(channel)
    window = validate_window(start, end)
    before = client.stats
    records = (
        client.chats(window.start, window.end, skills)
        if channel == "chat"
        else client.conversations(window.start, window.end, skills, update_search=update_search)
    )
    paths, count = stage_records(records, out_dir, f"{channel}-{safe_name(slice_id)}")
    report = _report(channel, paths, count, before, client.stats, window.iso())
    log.info("Extracted %s", _summary(report))
    return report


def extract_conversation(
    client: LivePersonClient, channel: str, conversation_id: str, out_dir: Any
) -> dict[str, Any]:
    """Stage one ended conversation ("Sync Chat"); refuses one that is missing or still open."""
    _check_channel(channel)
    before = client.stats
    record = ended_conversation(client, channel, str(conversation_id))
    paths, count = stage_records([record], out_dir, f"{channel}-{safe_name(str(conversation_id))}")
    report = _report(channel, paths, count, before, client.stats, None)
    report["conversation_id"] = str(conversation_id)
    log.info("Extracted %s", _summary(report))
    return report


def ended_conversation(client: LivePersonClient, channel: str, conversation_id: str) -> dict[str, Any]:
    """The conversation's record, or a clear error why Sync Chat cannot take it."""
    if channel == "chat":
        record = client.chat(conversation_id)
        if record is None:
            raise ConversationNotFoundError(
                f"chat {conversation_id} not found or not ended (Engagement History returns ended chats only)"
            )
        return record
    record = client.conversation(conversation_id)
    if record is None:
        raise ConversationNotFoundError(f"messaging conversation {conversation_id} not found")
    if is_open(record):
        raise ConversationNotEndedError(
            f"conversation {conversation_id} is still open; Sync Chat works only on ended conversations"
        )
    return record


def stage_records(records: Iterable[dict[str, Any]], out_dir: Any, prefix: str) -> tuple[list[str], int]:
    """Write records into ``<prefix>-0000.jsonl.gz``, ``-0001``... of ``RECORDS_PER_PART`` each.

    Parts left by an earlier attempt of the same slice are removed first, so a retried task never
    leaves a stale extra part behind.
    """
    folder = as_path(out_dir)
    _remove_old_parts(folder, prefix)
    paths: list[str] = []
    total = 0
    iterator = iter(records)
    for part, chunk in enumerate(_chunks(iterator, RECORDS_PER_PART)):
        path = folder / f"{prefix}-{part:04d}.jsonl.gz"
        with JsonlGzWriter(path) as writer:
            for record in chunk:
                writer.write(record)
        paths.append(str(path))
        total += writer.count
    return paths, total


def _chunks(records: Iterator[dict[str, Any]], size: int) -> Iterator[Iterator[dict[str, Any]]]:
    """Lazy chunks of at most ``size``; a chunk is only opened when a record is there for it."""
    while True:
        try:
            first = next(records)
        except StopIteration:
            return
        yield _chunk(first, records, size)


def _chunk(first: dict[str, Any], records: Iterator[dict[str, Any]], size: int) -> Iterator[dict[str, Any]]:
    yield first
    for _, record in zip(range(size - 1), records, strict=False):
        yield record


def _remove_old_parts(folder: Any, prefix: str) -> None:
    if not folder.exists():
        return
    for old in folder.glob(f"{prefix}-[0-9][0-9][0-9][0-9].jsonl.gz"):
        old.unlink()


def _report(
    channel: str,
    paths: list[str],
    records: int,
    before: dict[str, Any],
    after: dict[str, Any],
    window: list[str] | None,
) -> dict[str, Any]:
    report: dict[str, Any] = {"channel": channel, "paths": paths, "records": records}
    report.update({key: after[key] - before[key] for key in COUNTED})
    report["window"] = window
    return report


def _summary(report: dict[str, Any]) -> str:
    return (
        f"{report['records']} {report['channel']} records into {len(report['paths'])} files "
        f"with {report['calls']} LivePerson calls ({report['pages']} pages, {report['retries']} retries, "
        f"{report['partial_refetched']} partial refetched)"
    )


def _check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
