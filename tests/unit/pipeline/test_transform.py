"""The transform stage: staged raw files -> one staged rows file, streamed, deduped by id."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pytest

from lesync.mapping import fields_meta_from_schema, load_mapping
from lesync.mapping.transform import conversation_id, transform_record
from lesync.pipeline import shards
from lesync.pipeline import transform as stage
from lesync.pipeline.staging import read_jsonl_gz, write_jsonl_gz

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "tests" / "fixtures" / "lp_docs_examples"


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(REPO / "include" / "mappings" / "chat_transcript.yaml")


@pytest.fixture(scope="module")
def meta():
    return fields_meta_from_schema("Chat_Transcript__c")


def chat_record() -> dict:
    data = json.loads(
        (EXAMPLES / "enghist_interactions_search_response.docs_example_surveys.json").read_text()
    )
    return data["interactionHistoryRecords"][0]


def msg_record() -> dict:
    data = json.loads((EXAMPLES / "msghist_conversations_search_response.docs_example.json").read_text())
    return data["conversationHistoryRecords"][0]


def chat_copy(engagement_id: str, end_ms: int | None = None) -> dict:
    record = copy.deepcopy(chat_record())
    record["info"]["engagementId"] = engagement_id
    if end_ms is not None:
        record["info"]["endTimeL"] = end_ms
    return record


def test_rows_written_with_channel_from_file_names(tmp_path, mapping, meta):
    write_jsonl_gz(tmp_path / "chat-0001.jsonl.gz", [chat_copy("c1"), chat_copy("c2")])
    write_jsonl_gz(tmp_path / "messaging-0001.jsonl.gz", [msg_record()])
    result = stage.transform_files(
        [tmp_path / "chat-0001.jsonl.gz", tmp_path / "messaging-0001.jsonl.gz"],
        tmp_path / "rows.jsonl.gz",
        mapping,
        meta,
    )
    assert result["rows"] == 3 and result["with_errors"] == 0
    assert result["by_channel"] == {"chat": 2, "messaging": 1}
    rows = list(read_jsonl_gz(tmp_path / "rows.jsonl.gz"))
    assert [row["conversation_id"] for row in rows] == ["c1", "c2", "e5c58e49-e4a5-40a8-8a18-d6580d1d5630"]
    assert set(rows[0]) == {
        "conversation_id",
        "channel",
        "status",
        "fields",
        "clear",
        "transcript_file",
        "errors",
    }
    assert rows[2]["fields"]["SDK_API_Type__c"] == "Messaging"
    assert result["rows_path"].endswith("rows.jsonl.gz")


def test_dedupe_keeps_the_latest_copy_across_files(tmp_path, mapping, meta):
    older = chat_copy("same", end_ms=1485970007735)
    newer = chat_copy("same", end_ms=1485970099999)
    newer["info"]["agentGroupName"] = "Newest"
    write_jsonl_gz(tmp_path / "chat-a.jsonl.gz", [newer, chat_copy("other")])
    write_jsonl_gz(tmp_path / "chat-b.jsonl.gz", [older])  # a later page, but an older copy
    result = stage.transform_files(
        [tmp_path / "chat-a.jsonl.gz", tmp_path / "chat-b.jsonl.gz"],
        tmp_path / "rows.jsonl.gz",
        mapping,
        meta,
    )
    assert (result["rows"], result["duplicates"]) == (2, 1)
    rows = {row["conversation_id"]: row for row in read_jsonl_gz(tmp_path / "rows.jsonl.gz")}
    assert rows["same"]["fields"]["Agent_Group__c"] == "Newest"


def test_closed_messaging_copy_beats_the_open_one(tmp_path, mapping, meta):
    opened = copy.deepcopy(msg_record())
    closed = copy.deepcopy(msg_record())
    closed["info"]["status"] = "CLOSE"
    closed["info"]["endTimeL"] = 1  # even with an older end time
    write_jsonl_gz(tmp_path / "messaging-1.jsonl.gz", [closed, opened])
    stage.transform_files([tmp_path / "messaging-1.jsonl.gz"], tmp_path / "rows.jsonl.gz", mapping, meta)
    rows = list(read_jsonl_gz(tmp_path / "rows.jsonl.gz"))
    assert [(row["status"], row["fields"]["Status__c"]) for row in rows] == [("closed", "Closed")]


def test_channel_from_record_shape(tmp_path, mapping, meta):
    raw = tmp_path / "page-7.jsonl.gz"  # a name that says nothing
    write_jsonl_gz(raw, [chat_copy("c9"), msg_record(), {"info": {}}])
    result = stage.transform_files([raw], tmp_path / "rows.jsonl.gz", mapping, meta)
    assert result["by_channel"] == {"chat": 1, "messaging": 1}
    assert result["unrecognised"] == 1


def test_rows_with_errors_are_still_written_and_counted(tmp_path, mapping, meta):
    broken = chat_copy("bad")
    broken["surveys"]["preChat"][1]["value"] = "not-an-email"
    no_id = chat_copy("x")
    del no_id["info"]["engagementId"]
    write_jsonl_gz(tmp_path / "chat-1.jsonl.gz", [broken, no_id, copy.deepcopy(no_id)])
    result = stage.transform_files([tmp_path / "chat-1.jsonl.gz"], tmp_path / "rows.jsonl.gz", mapping, meta)
    assert (result["rows"], result["with_errors"]) == (3, 3)  # id-less records are never merged
    rows = list(read_jsonl_gz(tmp_path / "rows.jsonl.gz"))
    assert rows[0]["errors"][0]["fields"] == ["Visitor_Email__c"]


def test_streaming_decodes_each_record_once(tmp_path, mapping, meta, monkeypatch):
    """Memory stays flat: lines are read one at a time, in two passes, nothing cached between
    them. The first pass decodes a line only up to what the dedupe needs; the second decodes
    only the winners, so an older copy is never decoded whole."""
    records = [chat_copy(f"id-{i}") for i in range(300)] + [chat_copy("id-7", end_ms=1)]  # older
    write_jsonl_gz(tmp_path / "chat-big.jsonl.gz", records)
    lines, heads, decoded = [], [], []
    real_lines, real_head, real_decode = stage.raw_lines, shards._head, stage._decode

    def counting_lines(paths):
        for item in real_lines(paths):
            lines.append(1)
            yield item

    def counting_head(text, file_channel):
        head = real_head(text, file_channel)
        heads.append(head)
        return head

    def counting_decode(line):
        decoded.append(1)
        return real_decode(line)

    monkeypatch.setattr(stage, "raw_lines", counting_lines)
    monkeypatch.setattr(shards, "_head", counting_head)
    monkeypatch.setattr(stage, "_decode", counting_decode)
    result = stage.transform_files(
        [tmp_path / "chat-big.jsonl.gz"], tmp_path / "rows.jsonl.gz", mapping, meta
    )
    assert (result["rows"], result["duplicates"]) == (300, 1)
    assert len(lines) == 602  # two passes, nothing cached between them
    assert len(heads) == 301 and len(decoded) == 300
    assert all(set(head) == {"info", "transcript"} for head in heads)  # lineScores, sdes...: skipped


def _reference_rows(paths, mapping, meta) -> list[dict]:
    """What the stage must write: every record decoded whole, the newest copy of each id kept."""
    best, records = {}, []
    for file_index, path in enumerate(paths):
        for line_index, line in enumerate(read_jsonl_gz(path)):
            record, channel = stage.with_channel(line, stage.channel_from_name(path))
            if channel is None:
                continue
            position = (file_index, line_index)
            conv_id = conversation_id(record, channel)
            key = (channel, conv_id) if conv_id else position
            version = shards.record_version(record, channel)
            if key not in best or version >= best[key][0]:
                best[key] = (version, position)
            records.append((position, record, channel))
    winners = {position for _, position in best.values()}
    rows = [transform_record(r, c, mapping, meta).to_dict() for p, r, c in records if p in winners]
    return json.loads(json.dumps(rows, ensure_ascii=False))


def test_rows_are_those_of_decoding_every_record_whole(tmp_path, mapping, meta):
    """Partial decoding in the first pass changes nothing: same rows, same order, same counts,
    whatever the key order, spacing, missing ids or ties."""

    def tagged(record: dict, group: str) -> dict:
        record = copy.deepcopy(record)
        field = "agentGroupName" if "engagementId" in record["info"] else "latestAgentGroupName"
        record["info"][field] = group
        return record

    def last_info(record: dict) -> dict:  # "info" after everything else
        return {**{k: v for k, v in record.items() if k != "info"}, "info": record["info"]}

    opened = copy.deepcopy(msg_record())
    opened["info"]["status"] = "OPEN"
    closed = tagged(msg_record(), "closed")
    closed["info"]["status"] = "CLOSE"
    fewer = tagged(closed, "fewer messages")
    fewer["messageRecords"] = fewer["messageRecords"][:-1]
    no_id = chat_copy("x")
    del no_id["info"]["engagementId"]
    write_jsonl_gz(
        tmp_path / "chat-0.jsonl.gz",
        [tagged(chat_copy("tie"), "first"), chat_copy("c1", end_ms=1485970099999), chat_copy("c2"), no_id],
    )
    write_jsonl_gz(
        tmp_path / "messaging-0.jsonl.gz",
        [closed, opened, fewer],
    )
    lines = [
        json.dumps(tagged(chat_copy("tie"), "second")),  # spaces after ":" and ","
        "",
        json.dumps(last_info(chat_copy("c1", end_ms=1485970000000)), indent=1).replace("\n", " "),
        json.dumps(last_info(tagged(chat_copy("c2"), "info last, a tie, so it wins"))),
        json.dumps(no_id),
        json.dumps({"info": None, "transcript": {"lines": []}}),
        json.dumps(tagged(chat_copy("c4"), "plain")),
        json.dumps({"info": {}, "sdes": {}}),
        "  ",
        json.dumps(tagged(chat_copy("emoji"), "\ud83d\ude00 (escaped emoji) 中")),
    ]
    with gzip.open(tmp_path / "chat-1.jsonl.gz", "wt", encoding="utf-8") as raw:
        raw.write("\n".join(lines) + "\n")
    write_jsonl_gz(tmp_path / "page-2.jsonl.gz", [{"info": {}}, chat_copy("c3"), tagged(closed, "last")])
    paths = [tmp_path / name for name in ("chat-0.jsonl.gz", "messaging-0.jsonl.gz", "chat-1.jsonl.gz")]
    paths.append(tmp_path / "page-2.jsonl.gz")

    result = stage.transform_files(paths, tmp_path / "rows.jsonl.gz", mapping, meta)
    rows = list(read_jsonl_gz(tmp_path / "rows.jsonl.gz"))
    assert rows == _reference_rows(paths, mapping, meta)
    groups = {row["conversation_id"]: row["fields"].get("Agent_Group__c") for row in rows}
    assert groups["tie"] == "second" and groups["c2"] == "info last, a tie, so it wins"
    assert groups["e5c58e49-e4a5-40a8-8a18-d6580d1d5630"] == "last"
    assert (result["records_read"], result["unrecognised"], result["rows"]) == (18, 1, len(rows))
    assert result["duplicates"] == 18 - 1 - len(rows)


def test_version_prefers_closed_then_latest_times():
    record = msg_record()
    opened = shards.record_version(record, "messaging")
    record["info"]["status"] = "CLOSE"
    assert shards.record_version(record, "messaging") > opened
    assert stage.channel_from_name("s3://bucket/run/messaging-0003.jsonl.gz") == "messaging"
    assert stage.channel_from_name("/x/page.jsonl.gz") is None
