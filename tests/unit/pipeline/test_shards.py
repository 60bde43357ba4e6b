"""The run's dedupe and shards: extract's index, the newest copy per conversation, packing."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lesync.mapping import fields_meta_from_schema, load_mapping
from lesync.pipeline import shards
from lesync.pipeline.extract import stage_records
from lesync.pipeline.shards import (
    RawFile,
    entries,
    index_path,
    pack,
    plan_shards,
    read_skip,
    shard_count,
    write_skip,
)
from lesync.pipeline.staging import read_jsonl_gz, write_jsonl_gz
from lesync.pipeline.transform import transform_shard

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "tests" / "fixtures" / "lp_docs_examples"


def chat(engagement_id: str | None, end_ms: int = 1_485_970_007_735, lines: int = 1) -> dict:
    data = json.loads(
        (EXAMPLES / "enghist_interactions_search_response.docs_example_surveys.json").read_text()
    )
    record = copy.deepcopy(data["interactionHistoryRecords"][0])
    if engagement_id is None:
        record["info"].pop("engagementId", None)
    else:
        record["info"]["engagementId"] = engagement_id
    record["info"]["endTimeL"] = end_ms
    record["transcript"]["lines"] = record["transcript"]["lines"][:lines]
    return record


def staged(folder: Path, prefix: str, records: list[dict]) -> str:
    (path,), _ = stage_records(records, folder, prefix)
    return path


def raw(path: str, tag: str = "") -> RawFile:
    return RawFile(path, tag)


def test_extract_writes_an_index_that_says_what_the_head_scan_says(tmp_path):
    path = staged(tmp_path, "chat-000", [chat("c1"), chat("c2", end_ms=2), chat(None)])
    indexed = list(entries(path))
    index_path(path).unlink()
    scanned = list(entries(path))
    assert indexed == scanned
    assert [key for key, _ in indexed] == ["chat:c1", "chat:c2", shards.NO_ID]
    assert indexed[0][1] > indexed[1][1]  # c1 ended later than c2


def test_the_newest_copy_wins_across_units_and_the_older_is_skipped(tmp_path):
    first = staged(tmp_path, "chat-000", [chat("c1", end_ms=1_000), chat("c2")])
    second = staged(tmp_path, "chat-001", [chat("c1", end_ms=2_000), chat("c3")])
    files = [raw(first), raw(second)]
    stats = shards.newest_copies(files)
    assert stats == {"records_read": 4, "duplicates": 1, "unrecognised": 0}
    assert files[0].losers == [0] and files[1].losers == []
    assert [f.rows for f in files] == [1, 2]


def test_a_newer_copy_earlier_in_the_run_beats_a_later_older_one(tmp_path):
    first = staged(tmp_path, "chat-000", [chat("c1", end_ms=9_000)])
    second = staged(tmp_path, "chat-001", [chat("c1", end_ms=1_000)])
    files = [raw(first), raw(second)]
    shards.newest_copies(files)
    assert files[0].losers == [] and files[1].losers == [0]


def test_a_tie_goes_to_the_later_copy(tmp_path):
    first = staged(tmp_path, "chat-000", [chat("c1")])
    second = staged(tmp_path, "chat-001", [chat("c1")])
    files = [raw(first), raw(second)]
    shards.newest_copies(files)
    assert files[0].losers == [0] and files[1].losers == []


def test_records_without_an_id_are_never_merged(tmp_path):
    path = staged(tmp_path, "chat-000", [chat(None), chat(None)])
    files = [raw(path)]
    assert shards.newest_copies(files)["duplicates"] == 0
    assert files[0].rows == 2


def test_records_of_unknown_channel_are_counted_and_not_transformed(tmp_path):
    path = tmp_path / "page.jsonl.gz"  # no channel prefix, no index: the head scan reads it
    write_jsonl_gz(path, [{"something": "else"}, chat("c1")])
    (shard,), stats = plan_shards([raw(str(path))], None)
    assert stats["unrecognised"] == 1
    mapping = load_mapping(REPO / "include" / "mappings" / "chat_transcript.yaml")
    result = transform_shard(
        shard.paths, set(), tmp_path / "rows.jsonl.gz", mapping, fields_meta_from_schema("Chat_Transcript__c")
    )
    assert result["unrecognised"] == 1 and result["rows"] == 1 and result["records_read"] == 2


@pytest.mark.parametrize(
    ("size", "groups"),
    [
        (None, [[3, 3, 3]]),
        (9, [[3, 3, 3]]),
        (6, [[3], [3, 3]]),
        (5, [[3], [3], [3]]),
        (7, [[3], [3, 3]]),
        (1, [[3], [3], [3]]),
    ],
)
def test_packing_keeps_files_whole_and_in_order(size, groups):
    files = [RawFile(f"chat-00{n}", "", records=3) for n in range(3)]
    packed = pack(files, size)
    assert [[f.rows for f in group] for group in packed] == groups
    assert [f.path for group in packed for f in group] == ["chat-000", "chat-001", "chat-002"]


@pytest.mark.parametrize(
    ("rows", "size", "rounds_of", "count"),
    [
        (100_000, 20_000, 4, 8),
        (100_000, 20_000, 1, 5),
        (100_000, 20_000, 5, 5),
        (20_000, 20_000, 4, 1),
        (20_001, 20_000, 4, 4),
        (0, 10, 4, 1),
        (100, None, 4, 1),
    ],
)
def test_shard_count_fills_whole_rounds_of_loads(rows, size, rounds_of, count):
    assert shard_count(rows, size, rounds_of) == count


def test_shards_are_balanced_and_never_far_above_the_size():
    """20 days of 5,000 a day on 4 load slots: 8 shards (2 full rounds), not 5 (the fifth alone)."""
    files = [RawFile(f"chat-{n:03d}", "", records=5_000) for n in range(20)]
    packed = pack(files, 20_000, rounds_of=4)
    sizes = [sum(f.rows for f in group) for group in packed]
    assert len(packed) == 8 and sum(sizes) == 100_000
    assert max(sizes) - min(sizes) <= 5_000 and max(sizes) <= 20_000
    assert [f.path for group in packed for f in group] == [f.path for f in files]


def test_files_without_rows_do_not_open_shards():
    files = [
        RawFile("chat-000", "", records=4),
        RawFile("chat-001", "", records=0),
        RawFile("chat-002", "", records=4),
    ]
    packed = pack(files, 4, rounds_of=2)
    assert [[f.path for f in group] for group in packed] == [["chat-000"], ["chat-001", "chat-002"]]


def test_a_run_without_records_is_one_empty_shard():
    (shard,), stats = plan_shards([], 100)
    assert shard.paths == [] and shard.rows == 0 and stats["records_read"] == 0


def test_shards_together_transform_every_conversation_once(tmp_path):
    """A conversation in two shards: only the shard holding its newest copy transforms it."""
    units = [
        staged(tmp_path / "raw", "chat-000", [chat("a", end_ms=5_000), chat("b"), chat("dup", end_ms=1)]),
        staged(tmp_path / "raw", "chat-001", [chat("c"), chat("d")]),
        staged(tmp_path / "raw", "chat-002", [chat("dup", end_ms=7_000, lines=2), chat("e")]),
    ]
    planned, stats = plan_shards([raw(path, f"chat {n:03d}") for n, path in enumerate(units)], 2)
    assert len(planned) == 3 and stats["duplicates"] == 1
    assert planned[0].skip == [[0, 2]] and planned[2].skip == []
    assert planned[0].label == "shard 0: chat 000"
    mapping = load_mapping(REPO / "include" / "mappings" / "chat_transcript.yaml")
    meta = fields_meta_from_schema("Chat_Transcript__c")
    rows = []
    for shard in planned:
        write_skip(shard, tmp_path / f"skip-{shard.name}.json")
        skip = read_skip(tmp_path / f"skip-{shard.name}.json")
        out = tmp_path / f"rows-{shard.name}.jsonl.gz"
        transform_shard(shard.paths, skip, out, mapping, meta)
        rows += list(read_jsonl_gz(out))
    ids = [row["conversation_id"] for row in rows]
    assert sorted(ids) == ["a", "b", "c", "d", "dup", "e"]
    newest = next(row for row in rows if row["conversation_id"] == "dup")
    assert newest["fields"] == transform_of(chat("dup", end_ms=7_000, lines=2), mapping, meta)


def transform_of(record: dict, mapping, meta) -> dict:
    from lesync.mapping.transform import transform_record

    return transform_record(record, "chat", mapping, meta).to_dict()["fields"]
