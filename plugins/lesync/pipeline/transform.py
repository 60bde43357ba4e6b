"""The transform stage: staged raw LivePerson records -> one staged file of Salesforce rows.

Streams, never holds a window in memory: a first pass keeps only ``conversation id -> (version,
position)`` to find the newest copy of each conversation (windows overlap, pages shift while
paging, a messaging conversation is fetched open and again closed); a second pass transforms
exactly those copies, in file order, and writes the rows with ``JsonlGzWriter``.

Raw files are gzip JSON lines of untouched records, named ``chat-*.jsonl.gz`` or
``messaging-*.jsonl.gz``; a line may also be an envelope ``{"channel": ..., "record": {...}}``.
When neither says, the record's shape does (``info.engagementId`` chat, ``info.conversationId``
messaging).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from lesync.mapping.convert import parse_instant
from lesync.mapping.limits import FieldsMeta
from lesync.mapping.spec import CompiledMapping
from lesync.mapping.transform import conversation_id, detect_channel, transform_record
from lesync.pipeline.staging import JsonlGzWriter, as_path, read_jsonl_gz

log = logging.getLogger(__name__)

CHANNELS = ("chat", "messaging")
ChannelOf = Callable[[str], str | None] | Mapping[str, str] | None

Position = tuple[int, int]  # (file index, line index)
Version = tuple[int, int, int, int]


def channel_from_name(path: Any) -> str | None:
    """``chat`` / ``messaging`` from a raw file's name prefix."""
    name = os.path.basename(str(path).rstrip("/"))
    for channel in CHANNELS:
        if name.startswith(channel):
            return channel
    return None


def transform_files(
    raw_paths: Iterable[Any],
    out_path: Any,
    mapping: CompiledMapping,
    fields_meta: FieldsMeta | None,
    channel_of: ChannelOf = None,
) -> dict[str, Any]:
    """Transform every raw file into ``out_path`` (gzip JSON lines of rows); returns counts."""
    paths = list(raw_paths)
    winners, stats = _newest_copies(paths, channel_of)
    rows = with_errors = 0
    by_channel = dict.fromkeys(CHANNELS, 0)
    with JsonlGzWriter(out_path) as writer:
        for position, record, channel in _records(paths, channel_of):
            if channel is None or winners.get(_key(record, channel, position)) != position:
                continue
            row = transform_record(record, channel, mapping, fields_meta).to_dict()
            writer.write(row)
            rows += 1
            by_channel[channel] += 1
            with_errors += bool(row["errors"])
    result = {
        "rows_path": str(as_path(out_path)),
        "rows": rows,
        "with_errors": with_errors,
        "by_channel": by_channel,
        "records_read": stats["read"],
        "duplicates": stats["read"] - stats["unrecognised"] - rows,
        "unrecognised": stats["unrecognised"],
    }
    log.info("transform: %s", result)
    return result


def _newest_copies(paths: list[Any], channel_of: ChannelOf) -> tuple[dict[Any, Position], dict[str, int]]:
    """First pass: the position of the newest copy of each conversation."""
    best: dict[Any, tuple[Version, Position]] = {}
    stats = {"read": 0, "unrecognised": 0}
    for position, record, channel in _records(paths, channel_of):
        stats["read"] += 1
        if channel is None:
            stats["unrecognised"] += 1
            log.warning(
                "transform: skipped a record of unknown channel at %s line %d",
                paths[position[0]],
                position[1],
            )
            continue
        key = _key(record, channel, position)
        version = record_version(record, channel)
        current = best.get(key)
        if current is None or version >= current[0]:  # ties: the later copy wins
            best[key] = (version, position)
    return {key: position for key, (_, position) in best.items()}, stats


def _key(record: dict, channel: str, position: Position) -> Any:
    """Dedupe key: (channel, id); a record without id is never merged with another."""
    conv_id = conversation_id(record, channel)
    return (channel, conv_id) if conv_id else ("no-id", position)


def record_version(record: dict, channel: str) -> Version:
    """How new a copy is: closed beats open, then the latest end / message time, then size."""
    info = record.get("info") if type(record) is dict else None
    info = info if type(info) is dict else {}
    closed = 1 if channel == "chat" or str(info.get("status") or "").upper() == "CLOSE" else 0
    end = _millis(info.get("endTimeL")) or _millis(info.get("endTime"))
    items = _conversation_items(record, channel)
    latest = max((_millis(item.get("timeL")) for item in items if type(item) is dict), default=0)
    return closed, end, latest, len(items)


def _conversation_items(record: dict, channel: str) -> list:
    if channel == "chat":
        transcript = record.get("transcript")
        lines = transcript.get("lines") if type(transcript) is dict else None
        return lines if type(lines) is list else []
    messages = record.get("messageRecords")
    return messages if type(messages) is list else []


def _millis(value: Any) -> int:
    instant = parse_instant(value) if value is not None else None
    return instant[0] * 1000 + instant[1] if instant else 0


def _records(paths: list[Any], channel_of: ChannelOf) -> Iterator[tuple[Position, dict, str | None]]:
    """``(position, record, channel)`` for every line of every raw file, envelopes unwrapped."""
    for file_index, path in enumerate(paths):
        file_channel = _file_channel(path, channel_of)
        for line_index, line in enumerate(read_jsonl_gz(path)):
            record, channel = _unwrap(line, file_channel)
            yield (file_index, line_index), record, channel


def _file_channel(path: Any, channel_of: ChannelOf) -> str | None:
    if callable(channel_of):
        return channel_of(str(path))
    if channel_of is not None:
        return channel_of.get(str(path))
    return channel_from_name(path)


def _unwrap(line: Any, file_channel: str | None) -> tuple[dict, str | None]:
    if type(line) is dict and type(line.get("record")) is dict and "info" not in line:
        envelope_channel = line.get("channel")
        channel = envelope_channel if envelope_channel in CHANNELS else file_channel
        return line["record"], channel or detect_channel(line["record"])
    record = line if type(line) is dict else {}
    return record, file_channel or detect_channel(record)
