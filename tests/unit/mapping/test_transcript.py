"""Transcript rendering: one line per message, private lines left out, HTML and rich content."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from lpexamples import chat_surveys, messaging

from lesync.mapping.convert import format_transcript_time
from lesync.mapping.transcript import html_to_text, render_chat, render_messaging, summarise_rich_content


def chat_with(*lines: dict) -> dict:
    base = {
        "time": "2017-02-01 17:12:03.246+0000",
        "timeL": 1485969123246,
        "by": "Agent Smith",
        "source": "agent",
        "subType": "REGULAR",
        "textType": "plain",
        "text": "",
    }
    return {"transcript": {"lines": [dict(base, **line) for line in lines]}}


def test_chat_example_renders_one_line_per_message():
    text = render_chat(chat_surveys())
    lines = text.split("\n")
    assert len(lines) == 9
    assert lines[0] == (
        "[2017-02-01 17:11:55 UTC] [system] Thank you for choosing to chat with us.  "
        "An agent will be with you shortly."
    )
    assert lines[2] == "[2017-02-01 17:12:03 UTC] liorr@liveperson.com: hello"
    assert lines[3] == "[2017-02-01 17:12:16 UTC] You: I love your service"


def test_agent_only_lines_are_left_out_unless_asked_and_then_marked():
    record = chat_with({"text": "hi"}, {"text": "secret note", "subType": "ONLY_TO_REP"})
    assert render_chat(record) == "[2017-02-01 17:12:03 UTC] Agent Smith: hi"
    kept = render_chat(record, include_private=True).split("\n")
    assert kept[1] == "[2017-02-01 17:12:03 UTC] [private] Agent Smith: secret note"


def test_html_lines_become_text():
    record = chat_with(
        {
            "textType": "html",
            "text": "Hello <b>there</b>&nbsp;&amp; welcome<br>see "
            '<a href="https://ex.com/help">help</a><script>x()</script>',
        }
    )
    assert render_chat(record) == (
        "[2017-02-01 17:12:03 UTC] Agent Smith: Hello there & welcome\n    see help (https://ex.com/help)"
    )


def test_html_to_text_keeps_plain_text_and_survives_broken_markup():
    assert html_to_text("5 > 3 and no tags") == "5 > 3 and no tags"
    assert html_to_text("<p>one</p><p>two") == "one\ntwo"
    assert html_to_text("<a href='x'>x</a>") == "x"


def test_rich_content_line_is_summarised():
    card = {
        "type": "vertical",
        "elements": [
            {"type": "image", "url": "u"},
            {"type": "text", "text": "Now on sale!"},
            {"type": "button", "title": "Buy", "click": {}},
        ],
    }
    record = chat_with({"textType": "rich-content", "text": "", "json": json.dumps(card)})
    assert render_chat(record).endswith("Agent Smith: [rich content: Now on sale! | button: Buy | image]")
    assert summarise_rich_content("{not json") == "[rich content]"


def test_unicode_rtl_and_emoji_are_preserved():
    record = chat_with({"text": "שלום עולם 👋🏽 — مرحبا", "source": "visitor", "by": "Zoë"})
    assert render_chat(record) == "[2017-02-01 17:12:03 UTC] Zoë: שלום עולם 👋🏽 — مرحبا"


def test_multiline_messages_indent_continuations_and_drop_control_characters():
    record = chat_with({"text": "first\r\nsecond\x07"})
    assert render_chat(record) == "[2017-02-01 17:12:03 UTC] Agent Smith: first\n    second"


def test_messaging_example_participants_transfers_and_rich_content():
    lines = render_messaging(messaging()).split("\n")
    assert lines == [
        "[2016-08-29 15:14:19 UTC] Visitor Test: Hi there #4",
        "[2016-08-29 15:14:19 UTC] michal@lp.com: Hi there, dear consumer! [quick replies: Hello | Howdy]",
        "[2016-08-29 15:15:42 UTC] Visitor Test: I love your service",
        "[2017-06-22 10:29:24 UTC] [system] "
        "Transferred from skill Unassigned to skill cats by michal1 (reason: Skill)",
        "[2017-06-22 10:32:42 UTC] [system] "
        "Transferred from skill cats to skill lpsocial by michal (reason: Skill)",
        "[2017-10-24 10:24:52 UTC] Agent: [rich content: Now on sale! | 2 images] [quick replies: Yes | No]",
    ]


def message(seq: int, **changes) -> dict:
    base = {
        "type": "TEXT_PLAIN",
        "messageData": {"msg": {"text": f"m{seq}"}},
        "seq": seq,
        "participantId": "p1",
        "timeL": 1472483659564 + seq,
        "audience": "ALL",
        "sentBy": "Consumer",
    }
    return dict(base, **changes)


def test_private_messages_files_and_links():
    record = {
        "consumerParticipants": [{"participantId": "p1", "firstName": "Ana"}],
        "messageRecords": [
            message(0),
            message(1, audience="AGENTS_AND_MANAGERS", sentBy="Agent", participantId="a1"),
            message(
                2,
                type="HOSTED_FILE",
                messageData={
                    "file": {"caption": "receipt", "relativePath": "/files/abc/photo.png", "fileType": "PNG"}
                },
            ),
            message(3, type="TEXT_HTML", messageData={"msg": {"text": "<i>fine</i>"}}),
            message(4, type="LINK", messageData={"link": {"uri": "https://ex.com"}}),
        ],
    }
    lines = render_messaging(record).split("\n")
    assert lines == [
        "[2016-08-29 15:14:19 UTC] Ana: m0",
        "[2016-08-29 15:14:19 UTC] Ana: receipt [file: photo.png]",
        "[2016-08-29 15:14:19 UTC] Ana: fine",
        "[2016-08-29 15:14:19 UTC] Ana: [link: https://ex.com]",
    ]
    assert "[private] Agent: m1" in render_messaging(record, include_private=True)


def test_messages_are_ordered_by_time_then_sequence():
    record = {"messageRecords": [message(2, timeL=10), message(1, timeL=10), message(0, timeL=5)]}
    texts = [line.rsplit(": ", 1)[1] for line in render_messaging(record).split("\n")]
    assert texts == ["m0", "m1", "m2"]


def test_rendering_odd_records_never_raises_and_is_deterministic():
    for record in (
        {},
        {"transcript": {"lines": [None, 1, {"text": None}]}},
        {"messageRecords": [None, {"messageData": "x"}, {"type": "WEIRD", "messageData": {}}]},
    ):
        assert render_chat(record) == render_chat(record)
        assert render_messaging(record) == render_messaging(record)
    assert (
        render_messaging({"messageRecords": [{"type": "WEIRD", "messageData": {}, "sentBy": "Agent"}]})
        == "[time unknown] Agent: [weird]"
    )


EPOCH_MILLIS = st.integers(100_000_000_000, 10**13) | st.integers(-(10**12), -100_000_000_000)


@given(EPOCH_MILLIS, st.booleans())
def test_line_times_read_as_the_calendar_says(millis, as_text):
    """Stamps are cached by minute; any instant, in either spelling, reads as datetime prints it."""
    moment = datetime.fromtimestamp(millis // 1000, UTC)
    value = moment.strftime("%Y-%m-%d %H:%M:%S.000+0000") if as_text else millis
    assert format_transcript_time(value) == moment.strftime("%Y-%m-%d %H:%M:%S UTC")
