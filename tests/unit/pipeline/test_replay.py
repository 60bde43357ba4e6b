"""By-id extraction for replays: archive first, LivePerson by id for the rest, units per channel."""

from __future__ import annotations

import pytest

from lesync.contracts import ExtractResult
from lesync.pipeline.replay import archived, extract_by_id, replay_units
from lesync.pipeline.staging import read_jsonl_gz, write_jsonl_gz


class FakeClient:
    """The LivePerson client's by-id surface: one call per lookup, counted like the real one."""

    def __init__(self, chats: dict[str, dict], conversations: dict[str, dict]):
        self._chats, self._conversations = chats, conversations
        self.stats = {"calls": 0, "pages": 0, "retries": 0}
        self.asked: list[str] = []

    def chat(self, engagement_id: str):
        self.stats = {**self.stats, "calls": self.stats["calls"] + 1}
        self.asked.append(engagement_id)
        return self._chats.get(engagement_id)

    def conversation(self, conversation_id: str):
        self.stats = {**self.stats, "calls": self.stats["calls"] + 1}
        self.asked.append(conversation_id)
        return self._conversations.get(conversation_id)


def chat(engagement_id: str, text: str = "hi") -> dict:
    return {"info": {"engagementId": engagement_id}, "transcript": {"lines": [{"text": text}]}}


def test_units_group_per_channel_dedupe_and_cap():
    pending = [
        {"channel": "chat", "liveperson_id": "b", "raw_path": "/x/raw.gz"},
        {"channel": "chat", "liveperson_id": "a"},
        {"channel": "chat", "liveperson_id": "b", "raw_path": "/y/other.gz"},  # first path wins
        {"channel": "messaging", "liveperson_id": "m"},
        {"channel": "chat", "liveperson_id": "c"},
    ]
    units = replay_units(pending, ids_per_unit=2)
    assert [(u["channel"], u["slice"], u["ids"]) for u in units] == [
        ("chat", "byid-000", {"a": None, "b": "/x/raw.gz"}),
        ("chat", "byid-001", {"c": None}),
        ("messaging", "byid-000", {"m": None}),
    ]


def test_archive_is_read_once_per_file_and_stops_when_all_found(tmp_path):
    path = tmp_path / "chat-000-0000.jsonl.gz"
    write_jsonl_gz(path, [chat("1"), chat("2"), chat("3")])
    found = dict(archived("chat", {"1": str(path), "3": str(path), "9": str(tmp_path / "gone.gz")}))
    assert sorted(found) == ["1", "3"]


def test_extract_by_id_prefers_the_archive_and_fetches_the_rest(tmp_path):
    raw = tmp_path / "old" / "chat-000-0000.jsonl.gz"
    write_jsonl_gz(raw, [chat("1", "archived copy")])
    client = FakeClient({"1": chat("1", "live copy"), "2": chat("2")}, {})
    unit = {"channel": "chat", "slice": "byid-000", "ids": {"1": str(raw), "2": None, "3": None}}
    result = extract_by_id(client, unit, tmp_path / "raw")
    assert isinstance(result, ExtractResult)
    assert client.asked == ["2", "3"]  # "1" came from the archive: no call
    assert (result.records, result.from_archive, result.calls, result.not_found) == (2, 1, 2, ["3"])
    staged = [record for path in result.paths for record in read_jsonl_gz(path)]
    assert [r["transcript"]["lines"][0]["text"] for r in staged] == ["archived copy", "hi"]
    assert ExtractResult.from_xcom(result.as_xcom()) == result


@pytest.mark.parametrize("channel", ["messaging"])
def test_messaging_by_id_uses_the_conversation_lookup(tmp_path, channel):
    record = {"info": {"conversationId": "m1", "status": "CLOSE"}}
    client = FakeClient({}, {"m1": record})
    result = extract_by_id(client, {"channel": channel, "slice": "byid-000", "ids": {"m1": None}}, tmp_path)
    assert result.records == 1 and client.asked == ["m1"]


def test_archive_folder_is_searched_per_channel_without_decoding_other_lines(tmp_path):
    raw = tmp_path / "run" / "raw"
    write_jsonl_gz(raw / "chat-000-0000.jsonl.gz", [chat(str(i)) for i in range(50)])
    write_jsonl_gz(raw / "messaging-000-0000.jsonl.gz", [{"info": {"conversationId": "7"}}])
    found = dict(archived("chat", {"7": str(raw), "49": str(raw), "x": str(raw)}))
    assert sorted(found) == ["49", "7"]
    assert found["7"]["info"]["engagementId"] == "7"  # the chat, not the messaging record "7"
