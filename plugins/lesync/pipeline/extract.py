"""Extract stage: LivePerson records of a window (or one conversation) into staged files.

Records are written untouched, as gzip JSON lines, ``<out_dir>/<channel>-<slice>-<part>.jsonl.gz``
(the transform stage globs on the ``chat-`` / ``messaging-`` prefix), rolling to a new part every
5,000 records, each with its small index in ``<out_dir>/index/`` (``lesync.pipeline.shards``).
Only paths and counts are returned (XCom-sized); records stream from the API to disk, so memory
holds one page plus the ids seen, whatever the window size.

Each function returns an ``ExtractResult`` (``lesync.contracts``); ``.as_xcom()`` makes the
XCom dict. A partial record LivePerson would not give whole is staged with its
``_lesync.partial`` mark (see ``lesync.liveperson.streams.mark_partial``) and counted in
``partial_failed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from lesync.contracts import CHANNELS, ExtractResult
from lesync.liveperson.client import LivePersonClient
from lesync.liveperson.errors import ConversationNotEndedError, ConversationNotFoundError
from lesync.liveperson.messaging import is_open
from lesync.pipeline.shards import index_entry, index_path
from lesync.pipeline.staging import JsonlGzWriter, as_path, safe_name
from lesync.pipeline.transform import channel_from_name
from lesync.window import validate_window

log = logging.getLogger(__name__)

#: What the raw archive keeps of a record (e.g. the record redacted); None keeps it untouched.
Prepare = Callable[[dict[str, Any]], dict[str, Any]]


def _prepared(records: Iterable[dict[str, Any]], prepare: Prepare | None) -> Iterable[dict[str, Any]]:
    return records if prepare is None else (prepare(record) for record in records)


RECORDS_PER_PART = 5_000
COUNTED = ("calls", "pages", "retries", "partial_refetched", "partial_failed")
RECHECK_LIMIT = 1_000  # open conversations re-checked by id per call: bounded cost, one call each


def extract_window(
    client: LivePersonClient,
    channel: str,
    start: datetime,
    end: datetime,
    out_dir: Any,
    skills: list[int] | None = None,
    slice_id: str = "0",
    update_search: bool = True,
    content: Iterable[str] | None = None,
    prepare: Prepare | None = None,
) -> ExtractResult:
    """Stage every ``channel`` conversation of [start, end); returns paths and counts.

    Messaging also stages conversations that started before ``start`` and changed since it
    (``update_search``, the default). A run cut into slices needs that only once: pass
    ``update_search=False`` for every slice but the first (the one starting at the run's start),
    whose update search already returns, with no upper bound in time, everything that began
    before the run and changed since; later slices would only stage again conversations of the
    run's earlier slices. Chat ignores it (Engagement History has no update search).
    ``content`` is messaging's ``contentToRetrieve`` (what the mapping reads); ``prepare`` turns
    each record into what the raw archive keeps (e.g. redacted), before it is staged.
    """
    _check_channel(channel)
    window = validate_window(start, end)
    before = client.stats
    records = (
        client.chats(window.start, window.end, skills)
        if channel == "chat"
        else client.conversations(
            window.start, window.end, skills, update_search=update_search, content=content
        )
    )
    paths, count = stage_records(_prepared(records, prepare), out_dir, f"{channel}-{safe_name(slice_id)}")
    report = _report(channel, paths, count, before, client.stats, window=window.iso())
    log.info("Extracted %s", _summary(report))
    return report


def extract_conversation(
    client: LivePersonClient,
    channel: str,
    conversation_id: str,
    out_dir: Any,
    content: Iterable[str] | None = None,
    prepare: Prepare | None = None,
) -> ExtractResult:
    """Stage one ended conversation ("Sync Chat"); refuses one that is missing or still open."""
    _check_channel(channel)
    before = client.stats
    record = ended_conversation(client, channel, str(conversation_id), content)
    paths, count = stage_records(
        _prepared([record], prepare), out_dir, f"{channel}-{safe_name(str(conversation_id))}"
    )
    report = _report(channel, paths, count, before, client.stats, conversation_id=str(conversation_id))
    log.info("Extracted %s", _summary(report))
    return report


def recheck_open(
    client: LivePersonClient,
    conversation_ids: Iterable[str],
    out_dir: Any,
    slice_id: str = "recheck",
    content: Iterable[str] | None = None,
    limit: int = RECHECK_LIMIT,
    prepare: Prepare | None = None,
) -> ExtractResult:
    """Stage the current record of messaging conversations synced while open (closed or not).

    Catches a close whether or not the search honours ``latestUpdateTime`` (not clearly
    documented). At most ``limit`` ids per call (one by-id call each); the rest are named in the
    log for the next run. The caller keeps the ids still open (``is_open``) for next time."""
    ids = list(dict.fromkeys(str(i) for i in conversation_ids))
    if len(ids) > limit:
        log.warning(
            "Re-checking %d of %d open conversations; the other %d wait for the next run",
            limit,
            len(ids),
            len(ids) - limit,
        )
        ids = ids[:limit]
    before = client.stats
    records = client.conversations_by_ids(ids, content=content)
    paths, count = stage_records(_prepared(records, prepare), out_dir, f"messaging-{safe_name(slice_id)}")
    report = _report("messaging", paths, count, before, client.stats)
    log.info("Re-checked %d open conversations by id: %s", len(ids), _summary(report))
    return report


def ended_conversation(
    client: LivePersonClient, channel: str, conversation_id: str, content: Iterable[str] | None = None
) -> dict[str, Any]:
    """The conversation's record, or a clear error why Sync Chat cannot take it."""
    if channel == "chat":
        record = client.chat(conversation_id)
        if record is None:
            raise ConversationNotFoundError(
                f"chat {conversation_id} not found or not ended (Engagement History returns ended chats only)"
            )
        return record
    record = client.conversation(conversation_id, content=content)
    if record is None:
        raise ConversationNotFoundError(f"messaging conversation {conversation_id} not found")
    if is_open(record):
        raise ConversationNotEndedError(
            f"conversation {conversation_id} is still open; Sync Chat works only on ended conversations"
        )
    return record


def stage_records(records: Iterable[dict[str, Any]], out_dir: Any, prefix: str) -> tuple[list[str], int]:
    """Write records into ``<prefix>-0000.jsonl.gz``, ``-0001``... of ``RECORDS_PER_PART`` each.

    Each part gets its index (``lesync.pipeline.shards``: per record its dedupe key and version,
    taken now that the record is decoded anyway), so the run's dedupe need not read the parts.
    Parts and indexes left by an earlier attempt of the same slice are removed first, so a retried
    task never leaves a stale extra part, or an index of another part, behind.
    """
    folder = as_path(out_dir)
    _remove_old_parts(folder, prefix)
    channel = channel_from_name(prefix)
    paths: list[str] = []
    total = 0
    iterator = iter(records)
    for part, chunk in enumerate(_chunks(iterator, RECORDS_PER_PART)):
        path = folder / f"{prefix}-{part:04d}.jsonl.gz"
        with JsonlGzWriter(path) as writer, JsonlGzWriter(index_path(path)) as index:
            for record in chunk:
                writer.write(record)
                index.write(index_entry(record, channel))
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
        index_path(old).unlink(missing_ok=True)
        old.unlink()


def _report(
    channel: str,
    paths: list[str],
    records: int,
    before: dict[str, Any],
    after: dict[str, Any],
    window: list[str] | None = None,
    conversation_id: str | None = None,
) -> ExtractResult:
    counts = {key: after[key] - before[key] for key in COUNTED}
    return ExtractResult(
        channel=channel,
        paths=paths,
        records=records,
        window=window,
        conversation_id=conversation_id,
        **counts,
    )


def _summary(report: ExtractResult) -> str:
    return (
        f"{report.records} {report.channel} records into {len(report.paths)} files "
        f"with {report.calls} LivePerson calls ({report.pages} pages, {report.retries} retries, "
        f"{report.partial_refetched} partial refetched, {report.partial_failed} kept partial)"
    )


def _check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
