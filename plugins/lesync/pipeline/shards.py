"""Which copy of each conversation a run transforms, and how its raw files are cut into shards.

A run's raw files can hold a conversation more than once (slice boundaries, pages that shift,
an open messaging conversation re-checked by id that also falls in a slice, a replay of a
record the window staged again). The newest copy wins (``record_version``; a tie goes to the
later copy), and that choice is made here once for the whole run, so the shards after it can be
transformed and loaded apart, on any worker, and still land every conversation exactly once.

- extract writes next to each raw file an index (``raw/index/<same name>``): per record its
  dedupe key and version, one line per record line. Raw files without one (an archive staged
  before indexes, a torn attempt) are read by the transform's head scan instead.
- ``plan_shards`` merges the indexes. Memory per record: the key's 128-bit hash -> its ordinal
  (about 120 B) plus its version (4 x 8 B): ~160 MB for 1,000,000 conversations. Two different
  conversations share a 128-bit hash with odds of about n² / 2¹²⁹ (3 x 10⁻²⁷ at a million):
  never in practice, where a 64-bit hash (2.7 x 10⁻⁸) saves only 8 B per record.
- Consecutive raw files (parts of at most 5,000 records) are packed into shards of about equal
  rows, at most about ``shard_rows``, as many as fill whole rounds of the loads that may run at
  once (``salesforce_concurrency``); each shard lists what it must skip: the losing copies in its
  files.
"""

from __future__ import annotations

import hashlib
import json
import logging
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from json.decoder import scanstring
from typing import Any

from lesync.mapping.convert import EPOCH_MS_THRESHOLD, parse_instant
from lesync.mapping.transform import conversation_id, detect_channel
from lesync.pipeline import transform as stage
from lesync.pipeline.staging import as_path, read_jsonl_gz

log = logging.getLogger(__name__)

INDEX_FOLDER = "index"
#: A record whose channel nobody can tell (no file prefix, no telling shape): never transformed.
UNKNOWN = None
#: A record without a LivePerson id: transformed, never merged with another.
NO_ID = ""

Version = tuple[int, int, int, int]


def index_path(raw_path: Any) -> Any:
    """``<folder>/index/<name>`` for the raw file ``<folder>/<name>``."""
    path = as_path(raw_path)
    return path.parent / INDEX_FOLDER / path.name


def index_entry(record: dict[str, Any], file_channel: str | None) -> dict[str, Any]:
    """What the index keeps of one staged record: its dedupe key and version (the channel as the
    transform will tell it: the file's, else the record's shape)."""
    channel = file_channel or detect_channel(record)
    key = dedupe_key(record, channel)
    return {"k": key, "v": list(record_version(record, channel)) if channel else [0, 0, 0, 0]}


def dedupe_key(record: Any, channel: str | None) -> str | None:
    """``channel:id``; ``NO_ID`` when the record has no id, ``UNKNOWN`` when no channel."""
    if channel is None:
        return UNKNOWN
    conv_id = conversation_id(record, channel)
    return f"{channel}:{conv_id}" if conv_id else NO_ID


def entries(raw_path: Any) -> Iterator[tuple[str | None, tuple[int, ...]]]:
    """``(key, version)`` of every record of a raw file, in line order: from its index, else by
    the transform's head scan of the file itself."""
    index = index_path(raw_path)
    if index.exists():
        for entry in read_jsonl_gz(index):
            yield entry["k"], tuple(entry["v"])
        return
    channel = stage.channel_from_name(raw_path)
    for _, record, found in _heads([raw_path], [channel]):
        key = dedupe_key(record, found)
        yield key, record_version(record, found) if key is not UNKNOWN else ()


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
        return value if abs(value) >= EPOCH_MS_THRESHOLD else value * 1000
    instant = parse_instant(value) if value is not None else None
    return instant[0] * 1000 + instant[1] if instant else 0


def _heads(paths: list[Any], channels: list[str | None]) -> Iterator[tuple[stage.Position, dict, str | None]]:
    """``(position, record, channel)`` for every line of every raw file; a record may be only its
    leading members, as many as its channel, id and version need."""
    for position, line in stage.raw_lines(paths):
        file_channel = channels[position[0]]
        text = line.decode("utf-8")
        head = _head(text, file_channel)
        record, channel = stage.with_channel(json.loads(text) if head is None else head, file_channel)
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
    ``JsonlGzWriter`` writes (an encoded dict)."""
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


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest(), "big")


@dataclass
class RawFile:
    """One raw file of the run as the shards see it."""

    path: str
    tag: str  # how its unit reads in a shard's label
    records: int = 0
    losers: list[int] = field(default_factory=list)  # lines holding an older copy

    @property
    def rows(self) -> int:
        return self.records - len(self.losers)


def newest_copies(files: list[RawFile]) -> dict[str, int]:
    """Fill each file's ``records`` and ``losers`` (older copies of a conversation, anywhere in
    the run); returns counts (records read, duplicates, unrecognised)."""
    best: dict[int, int] = {}  # key hash -> ordinal of the newest copy so far
    versions = array("q")  # 4 per ordinal
    starts: list[int] = []  # first ordinal of each file
    losers: list[int] = []
    unrecognised = 0
    for raw in files:
        starts.append(len(versions) // 4)
        for key, version in entries(raw.path):
            ordinal = len(versions) // 4
            versions.extend(version or (0, 0, 0, 0))
            raw.records += 1
            if key is UNKNOWN:
                unrecognised += 1  # counted here; the transform skips it (and says where)
                continue
            if key == NO_ID:
                continue
            digest = _hash(key)
            current = best.get(digest)
            if current is None:
                best[digest] = ordinal
            elif _version(versions, ordinal) >= _version(versions, current):
                best[digest] = ordinal  # ties: the later copy wins
                losers.append(current)
            else:
                losers.append(ordinal)
    for ordinal in losers:
        number = bisect_right(starts, ordinal) - 1
        files[number].losers.append(ordinal - starts[number])
    read = len(versions) // 4
    return {"records_read": read, "duplicates": len(losers), "unrecognised": unrecognised}


def _version(versions: array, ordinal: int) -> tuple[int, ...]:
    return tuple(versions[ordinal * 4 : ordinal * 4 + 4])


def shard_count(rows: int, shard_rows: int | None, rounds_of: int = 1) -> int:
    """How many shards ``rows`` make: one up to ``shard_rows``; above it enough for shards of at
    most ``shard_rows``, rounded up to a multiple of ``rounds_of`` (the loads that may write at
    once), so every round of loads is full: 100,000 rows in shards of 20,000 on 4 slots are 8
    shards (2 full rounds), not 5 (a second round of one shard while three slots wait)."""
    if shard_rows is None or rows <= shard_rows:
        return 1
    count = -(-rows // shard_rows)
    return -(-count // rounds_of) * rounds_of


def pack(files: list[RawFile], shard_rows: int | None, rounds_of: int = 1) -> list[list[RawFile]]:
    """Consecutive files into ``shard_count`` groups of about equal rows (more, a round at a time,
    while a group of several files would pass ``shard_rows``). Never an empty list."""
    total = sum(raw.rows for raw in files)
    count = shard_count(total, shard_rows, rounds_of)
    groups = _split(files, count, total)
    while shard_rows is not None and count < total and _too_big(groups, shard_rows):
        count += rounds_of
        groups = _split(files, count, total)
    return groups


def _split(files: list[RawFile], count: int, total: int) -> list[list[RawFile]]:
    """Each file to the group its middle row falls in; groups left empty are dropped."""
    if count == 1:
        return [list(files)]
    groups: list[list[RawFile]] = [[] for _ in range(count)]
    before = 0
    for raw in files:
        middle = before + raw.rows / 2
        groups[min(count - 1, int(middle * count / total))].append(raw)
        before += raw.rows
    return [group for group in groups if group]


def _too_big(groups: list[list[RawFile]], shard_rows: int) -> bool:
    """A group of several files above the size (one file alone is as small as a shard gets)."""
    return any(len(group) > 1 and sum(raw.rows for raw in group) > shard_rows for group in groups)


@dataclass
class Shard:
    """One shard: its raw files, and the lines of them to skip (older copies)."""

    number: int
    paths: list[str]
    rows: int
    skip: list[list[int]]  # [file position in ``paths``, line]
    label: str

    @property
    def name(self) -> str:
        return f"{self.number:03d}"

    def as_xcom(self, skip_path: Any) -> dict[str, Any]:
        return {
            "shard": self.name,
            "label": self.label,
            "paths": self.paths,
            "rows": self.rows,
            "skipped": len(self.skip),
            "skip_path": str(skip_path) if self.skip else None,
        }


def plan_shards(
    files: list[RawFile], shard_rows: int | None, rounds_of: int = 1
) -> tuple[list[Shard], dict[str, int]]:
    """The run's shards: the newest copy of each conversation found, files packed (in a multiple
    of ``rounds_of`` shards when more than one), skips listed."""
    stats = newest_copies(files)
    shards = []
    for number, group in enumerate(pack(files, shard_rows, rounds_of)):
        skip = [[position, line] for position, raw in enumerate(group) for line in sorted(raw.losers)]
        rows = sum(raw.rows for raw in group)
        shards.append(Shard(number, [raw.path for raw in group], rows, skip, _label(number, group)))
    log.info(
        "shard: %d record(s) in %d file(s), %d older cop(ies) skipped, %d unrecognised: %d shard(s) "
        "(about %s row(s) at most; a multiple of %d when more than one)",
        stats["records_read"],
        len(files),
        stats["duplicates"],
        stats["unrecognised"],
        len(shards),
        shard_rows or "all",
        rounds_of,
    )
    return shards, stats


def _label(number: int, group: list[RawFile]) -> str:
    """``shard 2: chat 2026-11-03..messaging 2026-11-01`` (its first and last unit)."""
    tags = list(dict.fromkeys(raw.tag for raw in group))
    if not tags:
        return f"shard {number}: nothing"
    return f"shard {number}: {tags[0]}" + (f"..{tags[-1]}" if len(tags) > 1 else "")


def write_skip(shard: Shard, path: Any) -> None:
    """The shard's skip list as one small JSON file (usually a few entries)."""
    target = as_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(shard.skip))


def read_skip(path: Any) -> set[tuple[int, int]]:
    if not path:
        return set()
    return {(position, line) for position, line in json.loads(as_path(path).read_text())}
