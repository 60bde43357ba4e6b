"""The transform stage: a shard of staged raw LivePerson records -> one staged file of rows.

Streams, never holds a shard in memory. Which copy of a conversation wins (windows overlap,
pages shift while paging, a messaging conversation is fetched open and again closed) is decided
for the whole run before (``lesync.pipeline.shards``, from the indexes extract writes, else from
its head scan); a shard's transform decodes and maps only its winning lines, in file order,
skips the older copies undecoded, and writes the rows with ``JsonlGzWriter``.

Raw files are gzip JSON lines of untouched records, named ``chat-*.jsonl.gz`` or
``messaging-*.jsonl.gz``. When the name does not say, the record's shape does
(``info.engagementId`` chat, ``info.conversationId`` messaging).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from lesync.contracts import CHANNELS
from lesync.json_codec import decode
from lesync.mapping.limits import FieldsMeta
from lesync.mapping.spec import CompiledMapping
from lesync.mapping.transform import detect_channel, transform_record
from lesync.pipeline.staging import JsonlGzWriter, as_path, gz_lines

log = logging.getLogger(__name__)


Position = tuple[int, int]  # (file index, line index)

#: Rows live for one run (the load reads them once), so they are packed fast rather than small:
#: level 1 takes about 60 % of level 5's CPU for files about a third larger (measured on the
#: benchmark's 19,963 rows: 0.27 s / 10.7 MB against 0.47 s / 7.9 MB).
ROWS_COMPRESSLEVEL = 1


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
    with JsonlGzWriter(out_path, ROWS_COMPRESSLEVEL) as writer:
        for position, line in raw_lines(raw_paths):
            read += 1
            if position in skip:
                duplicates += 1
                continue
            record, channel = with_channel(_decode(line), channels[position[0]])
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


def raw_lines(paths: list[Any]) -> Iterator[tuple[Position, bytes]]:
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


def with_channel(line: Any, file_channel: str | None) -> tuple[dict, str | None]:
    """A decoded line as a record (anything but an object as an empty one) and its channel: the
    file's, else what the record's shape tells (``None`` when neither says)."""
    record = line if type(line) is dict else {}
    return record, file_channel or detect_channel(record)
