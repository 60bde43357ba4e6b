"""The transform stage: a shard of staged raw LivePerson records -> one staged file of rows.

Streams, never holds a shard in memory. Which copy of a conversation wins (windows overlap,
pages shift while paging, a messaging conversation is fetched open and again closed) is decided
for the whole run before (``lesync.pipeline.shards``, from the indexes extract writes, else from
the head scan below); a shard's transform decodes and maps only its winning lines, in file
order, skips the older copies undecoded, and writes the rows with ``JsonlGzWriter``.

The head scan, for raw files without an index, decodes a line only as far as the dedupe needs
(its leading members up to ``info`` and the transcript lines or messages, which LivePerson
records carry first; the rest, such as ``sdes`` and surveys, stays undecoded). So each record is
decoded whole once at most.

Raw files are gzip JSON lines of untouched records, named ``chat-*.jsonl.gz`` or
``messaging-*.jsonl.gz``. When the name does not say, the record's shape does
(``info.engagementId`` chat, ``info.conversationId`` messaging).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from json.decoder import scanstring
from typing import Any

from lesync.contracts import CHANNELS
from lesync.json_codec import decode
from lesync.mapping.convert import _EPOCH_MS_THRESHOLD, parse_instant
from lesync.mapping.limits import FieldsMeta
from lesync.mapping.spec import CompiledMapping
from lesync.mapping.transform import detect_channel, transform_record
from lesync.pipeline.staging import JsonlGzWriter, as_path, gz_lines

log = logging.getLogger(__name__)


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
) -> dict[str, Any]:
    """Transform every raw file into ``out_path`` as one shard (its older copies found first)."""
    from lesync.pipeline.shards import RawFile, plan_shards

    paths = list(raw_paths)
    (shard,), _ = plan_shards([RawFile(str(as_path(path)), "") for path in paths], None)
    skip = {(position, line) for position, line in shard.skip}
    return transform_shard(paths, skip, out_path, mapping, fields_meta)


def transform_shard(
    raw_paths: list[Any],
    skip: set[Position],
    out_path: Any,
    mapping: CompiledMapping,
    fields_meta: FieldsMeta | None,
) -> dict[str, Any]:
    """Transform a shard's raw files into ``out_path`` (gzip JSON lines of rows), leaving out the
    lines in ``skip`` (older copies, found by ``lesync.pipeline.shards``) undecoded; returns counts."""
    channels = [channel_from_name(path) for path in raw_paths]
    rows = with_errors = read = duplicates = unrecognised = 0
    by_channel = dict.fromkeys(CHANNELS, 0)
    with JsonlGzWriter(out_path) as writer:
        for position, line in _lines(raw_paths):
            read += 1
            if position in skip:
                duplicates += 1
                continue
            record, channel = _with_channel(_decode(line), channels[position[0]])
            if channel is None:
                unrecognised += 1
                log.warning(
                    "transform: skipped a record of unknown channel at %s line %d",
                    raw_paths[position[0]],
                    position[1],
                )
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
        "records_read": read,
        "duplicates": duplicates,
        "unrecognised": unrecognised,
    }
    log.info("transform: %s", result)
    return result


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
    if type(value) is int:  # epoch ms (or seconds), the common case: what parse_instant makes of it
        return value if abs(value) >= _EPOCH_MS_THRESHOLD else value * 1000
    instant = parse_instant(value) if value is not None else None
    return instant[0] * 1000 + instant[1] if instant else 0


def _lines(paths: list[Any]) -> Iterator[tuple[Position, bytes]]:
    """``(position, undecoded line)`` for every non-blank line of every raw file."""
    for file_index, path in enumerate(paths):
        with gz_lines(path) as lines:
            line_index = 0
            for line in lines:
                if line.isspace():
                    continue
                yield (file_index, line_index), line
                line_index += 1


def _decode(line: bytes) -> Any:
    return decode(line)


def _heads(paths: list[Any], channels: list[str | None]) -> Iterator[tuple[Position, dict, str | None]]:
    """``(position, record, channel)`` for every line of every raw file; a record may be only its
    leading members, as many as its channel, id and version need."""
    for position, line in _lines(paths):
        file_channel = channels[position[0]]
        text = line.decode("utf-8")
        head = _head(text, file_channel)
        record, channel = _with_channel(json.loads(text) if head is None else head, file_channel)
        yield position, record, channel


_DECODER = json.JSONDecoder()
_SCAN = _DECODER.scan_once  # the C scanner json.loads uses: one JSON value at an index
_WHITESPACE = " \t\n\r"
_ITEMS_KEY = {"chat": "transcript", "messaging": "messageRecords"}


def _head(text: str, file_channel: str | None) -> dict | None:
    """The leading top-level members of a record line, decoded one by one and no further than
    the dedupe needs: ``info``, then the channel's ``transcript`` / ``messageRecords``. Only the
    members read are in the dict (the rest, usually half the line, is never decoded). A whole
    record when it ends first; ``None`` when it is not plain (malformed, not an object): decode
    it whole then.

    Stopping early relies on each key appearing once per object, as in every line
    ``JsonlGzWriter`` writes (``json.dumps`` of a dict)."""
    try:
        index = _skip(text, 0)
        if text[index] != "{":
            return None
        index = _skip(text, index + 1)
        record: dict[str, Any] = {}
        while text[index] == '"':
            key, index = scanstring(text, index + 1)
            index = _skip(text, index)
            if text[index] != ":":
                return None
            record[key], index = _SCAN(text, _skip(text, index + 1))
            if "info" in record and (file_channel or type(record["info"]) is dict):
                channel = file_channel or detect_channel(record)
                if channel is None or _ITEMS_KEY.get(channel) in record:
                    return record
            index = _skip(text, index)
            if text[index] != ",":
                break
            index = _skip(text, index + 1)
        if text[index] == "}" and _skip(text, index + 1) == len(text):
            return record  # the whole line (no items...): as json.loads makes it
    except (IndexError, StopIteration, ValueError):
        pass
    return None


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def _with_channel(line: Any, file_channel: str | None) -> tuple[dict, str | None]:
    record = line if type(line) is dict else {}
    return record, file_channel or detect_channel(record)
