"""Service-level metrics: the documented examples computed by hand, and the edge cases."""

from __future__ import annotations

import pytest
from lpexamples import chat_surveys, default_mapping, messaging, org_fields

from lesync.mapping import transform_record
from lesync.mapping.catalog import catalog_getter
from lesync.mapping.metrics import chat_timeline, messaging_timeline


def metric(name: str, record: dict, channel: str):
    return catalog_getter(name, channel)(record)


# --------------------------------------------------------------------------------------------
# The documented examples, by hand (times from the fixtures' timeL values)

CHAT_EXPECTED = {
    # chatRequestedTimeL 1485969115781 -> first agent line 1485969123246
    "queueWaitSeconds": 7.465,
    # first visitor line 1485969136179 -> next agent line 1485969371501
    "firstResponseSeconds": 235.322,
    # one wait only (the visitor wrote twice before the agent answered)
    "averageResponseSeconds": 235.322,
    "longestResponseSeconds": 235.322,
    # first agent line 1485969123246 -> endTimeL 1485970007735
    "handleTimeSeconds": 884.489,
    "agentsInvolved": 1,
    "abandoned": False,
    # last agent line 1485969645197 -> endTimeL 1485970007735
    "closeAfterLastMessageSeconds": 362.538,
    "visitorMessageCount": 2,
    "agentMessageCount": 4,
}

MESSAGING_EXPECTED = {
    # startTimeL 1472481024565 -> first agent message 1472483659564
    "queueWaitSeconds": 2634.999,
    # consumer seq 0 and agent seq 1 share a millisecond: the answer is the later seq
    "firstResponseSeconds": 0.0,
    # waits 0.0 and 1472483742568 -> 1508840692962 (the documented example spans a year)
    "averageResponseSeconds": round((0 + 36356950.394) / 2, 3),
    "longestResponseSeconds": 36356950.394,
    # status OPEN: not decided yet
    "handleTimeSeconds": None,
    "abandoned": None,
    "closeAfterLastMessageSeconds": None,
    # the assigned agent in agentParticipants and the second agent who wrote
    "agentsInvolved": 2,
    "visitorMessageCount": 2,
    "agentMessageCount": 2,
}


@pytest.mark.parametrize("name", sorted(CHAT_EXPECTED))
def test_chat_example(name):
    assert metric(name, chat_surveys(), "chat") == CHAT_EXPECTED[name]


@pytest.mark.parametrize("name", sorted(MESSAGING_EXPECTED))
def test_messaging_example(name):
    assert metric(name, messaging(), "messaging") == MESSAGING_EXPECTED[name]


def test_closed_messaging_example_has_handle_and_close_times():
    record = messaging()
    record["info"]["status"] = "CLOSE"
    assert metric("handleTimeSeconds", record, "messaging") == round(
        (1472500733000 - 1472483659564) / 1000, 3
    )
    # endTimeL is before the last (year-later) message: no negative time, no value
    assert metric("closeAfterLastMessageSeconds", record, "messaging") is None
    assert metric("abandoned", record, "messaging") is False


def test_default_mapping_writes_the_metrics():
    row = transform_record(chat_surveys(), "chat", default_mapping(), org_fields()).to_dict()
    assert row["errors"] == []
    fields = row["fields"]
    assert fields["Queue_Wait_Seconds__c"] == 7.465
    assert fields["First_Response_Seconds__c"] == 235.322
    assert fields["Handle_Time_Seconds__c"] == 884.489
    assert fields["Abandoned__c"] is False
    assert fields["Agents_Involved__c"] == 1
    assert fields["Close_After_Last_Message_Seconds__c"] == 362.538


# --------------------------------------------------------------------------------------------
# Hand-made edge cases (messaging)


def conversation(messages, *, status="CLOSE", participants=(), start=1_000_000_000_000, end=None):
    """A messaging record: messages as (seconds after start, sentBy, participantId[, audience])."""
    records = []
    for seq, item in enumerate(messages):
        at, sent_by, who, *rest = item
        records.append(
            {
                "seq": seq,
                "timeL": start + at * 1000,
                "sentBy": sent_by,
                "participantId": who,
                "audience": rest[0] if rest else "ALL",
                "type": "TEXT_PLAIN",
                "messageData": {"msg": {"text": "x"}},
            }
        )
    return {
        "info": {
            "conversationId": "c1",
            "status": status,
            "startTimeL": start,
            "endTimeL": start + (end or 0) * 1000 if status == "CLOSE" else -1,
        },
        "messageRecords": records,
        "agentParticipants": list(participants),
    }


BOT = {"agentId": "bot-1", "userTypeName": "Bot", "role": "AGENT"}
HUMAN = {"agentId": "a-1", "userTypeName": "Human", "role": "ASSIGNED_AGENT"}


def test_bot_only_conversation_is_answered_but_has_no_agent_metrics():
    record = conversation(
        [(0, "Consumer", "v"), (2, "Agent", "bot-1"), (5, "Consumer", "v"), (6, "Agent", "bot-1")],
        participants=[BOT],
        end=60,
    )
    assert metric("abandoned", record, "messaging") is False  # a bot answered
    for name in ("queueWaitSeconds", "firstResponseSeconds", "averageResponseSeconds", "handleTimeSeconds"):
        assert metric(name, record, "messaging") is None, name
    assert metric("agentsInvolved", record, "messaging") == 0
    assert metric("closeAfterLastMessageSeconds", record, "messaging") == 54.0


def test_bot_then_transfer_to_a_human():
    record = conversation(
        [
            (0, "Consumer", "v"),
            (1, "Agent", "bot-1"),
            (10, "Consumer", "v"),
            (40, "Agent", "a-1"),  # the human, after a transfer
            (50, "Consumer", "v"),
            (55, "Consumer", "v"),
            (70, "Agent", "a-2"),  # a second human after another transfer
        ],
        participants=[BOT, HUMAN],
        end=100,
    )
    record["transfers"] = [{"timeL": 1}, {"timeL": 2}]
    line = messaging_timeline(record)
    assert [event[1] for event in line.events] == ["consumer", "bot", "consumer", "agent"] + [
        "consumer",
        "consumer",
        "agent",
    ]
    assert metric("queueWaitSeconds", record, "messaging") == 40.0
    assert metric("firstResponseSeconds", record, "messaging") == 40.0
    assert metric("averageResponseSeconds", record, "messaging") == 30.0  # waits 40 and 20
    assert metric("longestResponseSeconds", record, "messaging") == 40.0
    assert metric("handleTimeSeconds", record, "messaging") == 60.0
    assert metric("agentsInvolved", record, "messaging") == 2
    assert metric("transferCount", record, "messaging") == 2


def test_abandoned_when_nobody_answers_and_open_is_undecided():
    record = conversation([(0, "Consumer", "v"), (30, "Consumer", "v")], end=300)
    assert metric("abandoned", record, "messaging") is True
    assert metric("queueWaitSeconds", record, "messaging") is None
    assert metric("closeAfterLastMessageSeconds", record, "messaging") == 270.0
    still_open = conversation([(0, "Consumer", "v")], status="OPEN")
    assert metric("abandoned", still_open, "messaging") is None
    assert metric("handleTimeSeconds", still_open, "messaging") is None


def test_private_messages_are_not_answers_and_spellings_do_not_matter():
    record = conversation(
        [
            (0, "consumer", "v"),
            (5, "AGENT", "a-1", "AGENTS_AND_MANAGERS"),  # a private note is no answer
            (9, "agent", "a-1", "all"),
        ],
        end=20,
    )
    assert metric("firstResponseSeconds", record, "messaging") == 9.0
    assert metric("visitorMessageCount", record, "messaging") == 1
    assert metric("agentMessageCount", record, "messaging") == 2  # as LivePerson labels them


def test_no_consumer_message_is_not_abandoned():
    record = conversation([(0, "Agent", "a-1")], end=10)
    assert metric("abandoned", record, "messaging") is False
    assert metric("firstResponseSeconds", record, "messaging") is None


# --------------------------------------------------------------------------------------------
# Chat edge cases


def test_chat_agent_only_lines_and_system_lines_are_not_messages():
    record = chat_surveys()
    lines = record["transcript"]["lines"]
    lines[2]["subType"] = "only_to_rep"  # the first agent line becomes agent-only (lower case)
    line = chat_timeline(record)
    assert all(event[1] in ("consumer", "agent") for event in line.events)
    # the first agent line the visitor saw is now 1485969371501
    assert metric("queueWaitSeconds", record, "chat") == round((1485969371501 - 1485969115781) / 1000, 3)


def test_open_chat_has_no_close_metrics():
    record = chat_surveys()
    record["info"]["ended"] = False
    assert metric("handleTimeSeconds", record, "chat") is None
    assert metric("abandoned", record, "chat") is None


def test_metrics_never_raise_on_odd_records():
    odd = [{}, {"info": None}, {"messageRecords": "x"}, {"transcript": {"lines": [None, 3, {"timeL": "x"}]}}]
    for record in odd:
        for name in CHAT_EXPECTED:
            for channel in ("chat", "messaging"):
                catalog_getter(name, channel)(record)


def test_a_list_where_a_subtype_or_audience_belongs_does_not_blank_the_metrics():
    """An unhashable value (a list) in ``subType`` / ``audience`` is a visible line, not a reason to
    lose every metric of the record."""
    chat = chat_surveys()
    chat["transcript"]["lines"][0]["subType"] = ["REGULAR"]
    assert {name: metric(name, chat, "chat") for name in CHAT_EXPECTED} == CHAT_EXPECTED
    record = conversation([(0, "consumer", "v", ["ALL"]), (9, "agent", "a-1", {"x": 1})], end=20)
    assert metric("firstResponseSeconds", record, "messaging") == 9.0
    assert metric("agentMessageCount", record, "messaging") == 1
