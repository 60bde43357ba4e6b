"""The transform stage: staged raw files -> one staged rows file, streamed, deduped by id."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lesync.mapping import fields_meta_from_schema, load_mapping
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
    assert set(rows[0]) == {"conversation_id", "channel", "status", "fields", "transcript_file", "errors"}
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


def test_channel_from_record_shape_and_envelopes(tmp_path, mapping, meta):
    raw = tmp_path / "page-7.jsonl.gz"  # a name that says nothing
    write_jsonl_gz(raw, [chat_copy("c9"), {"channel": "messaging", "record": msg_record()}, {"info": {}}])
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
    assert rows[0]["errors"][0]["field"] == "Visitor_Email__c"


def test_channel_of_override(tmp_path, mapping, meta):
    raw = tmp_path / "chat-looks-like-chat.jsonl.gz"
    write_jsonl_gz(raw, [msg_record()])
    result = stage.transform_files(
        [raw], tmp_path / "rows.jsonl.gz", mapping, meta, channel_of={str(raw): "messaging"}
    )
    assert result["by_channel"] == {"chat": 0, "messaging": 1}


def test_streaming_reads_records_one_at_a_time(tmp_path, mapping, meta, monkeypatch):
    """Memory stays flat: at most one record is alive between reads (the reader is a generator)."""
    write_jsonl_gz(tmp_path / "chat-big.jsonl.gz", (chat_copy(f"id-{i}") for i in range(300)))
    consumed = []
    real_reader = stage.read_jsonl_gz

    def counting_reader(path):
        for record in real_reader(path):
            consumed.append(1)
            yield record

    monkeypatch.setattr(stage, "read_jsonl_gz", counting_reader)
    result = stage.transform_files(
        [tmp_path / "chat-big.jsonl.gz"], tmp_path / "rows.jsonl.gz", mapping, meta
    )
    assert result["rows"] == 300
    assert len(consumed) == 600  # two passes, nothing cached between them


def test_version_prefers_closed_then_latest_times():
    record = msg_record()
    opened = stage.record_version(record, "messaging")
    record["info"]["status"] = "CLOSE"
    assert stage.record_version(record, "messaging") > opened
    assert stage.channel_from_name("s3://bucket/run/messaging-0003.jsonl.gz") == "messaging"
    assert stage.channel_from_name("/x/page.jsonl.gz") is None
