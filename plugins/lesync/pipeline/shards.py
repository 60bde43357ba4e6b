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
- Consecutive raw files (parts of at most 5,000 records) are packed into shards of about
  ``shard_rows`` rows; each shard lists what it must skip: the losing copies in its files.
"""

from __future__ import annotations

import hashlib
import json
import logging
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lesync.mapping.transform import conversation_id, detect_channel
from lesync.pipeline import transform as stage
from lesync.pipeline.staging import as_path, read_jsonl_gz

log = logging.getLogger(__name__)

INDEX_FOLDER = "index"
#: A record whose channel nobody can tell (no file prefix, no telling shape): never transformed.
UNKNOWN = None
#: A record without a LivePerson id: transformed, never merged with another.
NO_ID = ""


def index_path(raw_path: Any) -> Any:
    """``<folder>/index/<name>`` for the raw file ``<folder>/<name>``."""
    path = as_path(raw_path)
    return path.parent / INDEX_FOLDER / path.name


def index_entry(record: dict[str, Any], file_channel: str | None) -> dict[str, Any]:
    """What the index keeps of one staged record: its dedupe key and version (the channel as the
    transform will tell it: the file's, else the record's shape)."""
    channel = file_channel or detect_channel(record)
    key = dedupe_key(record, channel)
    return {"k": key, "v": list(stage.record_version(record, channel)) if channel else [0, 0, 0, 0]}


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
    for _, record, found in stage._heads([raw_path], [channel]):
        key = dedupe_key(record, found)
        yield key, stage.record_version(record, found) if key is not UNKNOWN else ()


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


def pack(files: list[RawFile], shard_rows: int | None) -> list[list[RawFile]]:
    """Consecutive files into groups of about ``shard_rows`` rows (a group closes before the file
    that would take it past the size; ``None``: one group). Never an empty list of groups."""
    groups: list[list[RawFile]] = [[]]
    rows = 0
    for raw in files:
        if shard_rows is not None and groups[-1] and rows + raw.rows > shard_rows:
            groups.append([])
            rows = 0
        groups[-1].append(raw)
        rows += raw.rows
    return groups


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


def plan_shards(files: list[RawFile], shard_rows: int | None) -> tuple[list[Shard], dict[str, int]]:
    """The run's shards: the newest copy of each conversation found, files packed, skips listed."""
    stats = newest_copies(files)
    shards = []
    for number, group in enumerate(pack(files, shard_rows)):
        skip = [[position, line] for position, raw in enumerate(group) for line in sorted(raw.losers)]
        rows = sum(raw.rows for raw in group)
        shards.append(Shard(number, [raw.path for raw in group], rows, skip, _label(number, group)))
    log.info(
        "shard: %d record(s) in %d file(s), %d older cop(ies) skipped, %d unrecognised: %d shard(s) of "
        "at most %s row(s)",
        stats["records_read"],
        len(files),
        stats["duplicates"],
        stats["unrecognised"],
        len(shards),
        shard_rows or "all",
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
