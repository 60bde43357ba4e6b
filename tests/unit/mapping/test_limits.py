"""Salesforce field limits from describe metadata: truncation, type checks, per-field errors."""

from __future__ import annotations

import random

import pytest
from lpexamples import chat_surveys, messaging, org_fields

from lesync.emulators.salesforce.schema import describe_sobject, load_schema
from lesync.mapping import TRUNCATION_MARKER, compile_mapping, fields_meta_from_describe, transform_record
from lesync.mapping.convert import to_date, to_datetime
from lesync.mapping.limits import (
    FieldMeta,
    FieldValueError,
    cut,
    fit_value,
    fits,
    split_text,
    truncate,
    utf16_length,
)


def org(extra_fields: dict) -> dict:
    schema = load_schema(extra={"objects": {"Chat_Transcript__c": {"fields": extra_fields}}})
    return fields_meta_from_describe(describe_sobject(schema, "Chat_Transcript__c"))


def test_text_is_truncated_with_a_marker_counted_within_the_length():
    meta = FieldMeta("Short__c", "string", length=20)
    value = fit_value("x" * 50, meta)
    assert len(value) == 20
    assert value.endswith(TRUNCATION_MARKER)
    assert fit_value("exactly twenty chars", meta) == "exactly twenty chars"


def test_lengths_count_utf16_units_and_never_split_an_emoji():
    assert utf16_length("a😀") == 3
    text, cut = truncate("😀" * 10, 15)
    assert cut and utf16_length(text) <= 15
    assert text.startswith("😀") and "\ud83d" not in text.replace("😀", "")


def _units(text: str) -> int:
    """UTF-16 units one character at a time (the reference the fast paths must match)."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _cut_by_hand(text: str, limit: int) -> str:
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text


def test_cut_and_length_match_a_character_by_character_count():
    rng = random.Random(11)
    # emoji and other astral characters, lone surrogates (json.loads makes them from "\ud83d"),
    # and a high and a low surrogate side by side that UTF-16 would pair up
    alphabet = ["a", " ", "\n", "é", "א", "—", "中", "\uffff", "😀", "👍", "\U0010ffff", "\ud83d", "\ude00"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        limit = rng.randint(1, 50)
        assert utf16_length(text) == _units(text)
        assert fits(text, limit) == (_units(text) <= limit)
        head = cut(text, limit)
        assert head == _cut_by_hand(text, limit), (text, limit)
        assert text.startswith(head) and utf16_length(head) <= limit
        truncated, was_cut = truncate(text, limit)
        assert utf16_length(truncated) <= limit and was_cut == (_units(text) > limit)


def test_cut_never_splits_an_emoji_in_a_long_transcript():
    line = "Agent: מה מספר ההזמנה? 👍 Sure — let me check 😀\n"
    text = line * 5_000  # ~250,000 units
    for limit in (32_768, 32_769, 131_072, 131_073):
        head = cut(text, limit)
        assert utf16_length(head) in (limit, limit - 1)  # one less only before an emoji
        assert text.startswith(head)
        assert not ("\ud800" <= head[-1] <= "\udfff")  # no half of a surrogate pair
        assert head == _cut_by_hand(text, limit)
    parts, truncated = split_text(text, [32_768, 32_768])
    assert truncated and parts[-1].endswith(TRUNCATION_MARKER)
    assert all(utf16_length(part) <= 32_768 for part in parts)
    assert text.startswith(parts[0]) and text[len(parts[0]) :].startswith(parts[1][:-20])


def test_type_errors_name_the_field():
    cases = [
        (FieldMeta("MCS__c", "double"), "abc", "INVALID_TYPE_ON_FIELD_IN_RECORD"),
        (FieldMeta("Visitor_Email__c", "email", 80), "undefined user", "INVALID_EMAIL_ADDRESS"),
        (
            FieldMeta("Status__c", "picklist", 255, picklist_values=frozenset({"Open", "Closed"})),
            "CLOSE",
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
        (FieldMeta("Name", "string", 80, createable=False), "x", "INVALID_FIELD_FOR_INSERT_UPDATE"),
        (FieldMeta("Start_Time__c", "datetime"), "yesterday", "INVALID_DATE_TIME"),
        (FieldMeta("Flag__c", "boolean"), "maybe", "INVALID_TYPE_ON_FIELD_IN_RECORD"),
        (FieldMeta("Account__c", "reference"), "not an id", "MALFORMED_ID"),
        (FieldMeta("Count__c", "int"), 1.5, "INVALID_TYPE_ON_FIELD_IN_RECORD"),
    ]
    for meta, value, code in cases:
        with pytest.raises(FieldValueError) as caught:
            fit_value(value, meta)
        assert caught.value.code == code, meta.name
        assert meta.name in str(caught.value)


def test_values_fitted_by_the_field_type():
    assert fit_value("-400.99", FieldMeta("B__c", "double")) == -400.99
    assert fit_value(1485969119916, FieldMeta("T__c", "datetime")) == "2017-02-01T17:11:59.916Z"
    assert (
        fit_value("2017-02-01 17:11:59.916+0000", FieldMeta("T__c", "datetime")) == "2017-02-01T17:11:59.916Z"
    )
    assert fit_value({"year": "2014", "month": "10", "day": "15"}, FieldMeta("D__c", "date")) == "2014-10-15"
    assert fit_value("true", FieldMeta("F__c", "boolean")) is True
    assert fit_value(-1, FieldMeta("S__c", "string", 255)) == "-1"
    assert fit_value("a\x00b\x07c\nd", FieldMeta("S__c", "string", 255)) == "abc\nd"


def test_datetime_conversions():
    assert to_datetime("2017-02-01 17:11:59.916+0000") == "2017-02-01T17:11:59.916Z"
    assert to_datetime("2017-02-01 19:11:59.916+0200") == "2017-02-01T17:11:59.916Z"
    assert to_datetime("2017-02-01T17:11:59Z") == "2017-02-01T17:11:59.000Z"
    assert to_datetime("1485969119916") == "2017-02-01T17:11:59.916Z"  # SDE serverTimeStamp strings
    assert to_datetime(1485969119) == "2017-02-01T17:11:59.000Z"  # epoch seconds
    assert to_date(1485969119916) == "2017-02-01"


def test_bad_values_become_row_errors_and_the_rest_is_loaded():
    fields_meta = org({"Mcs_Text__c": {"type": "double"}, "Tiny__c": {"type": "string", "length": 12}})
    mapping = compile_mapping(
        {
            "transcript": None,
            "fields": [
                {"target": "Mcs_Text__c", "lp_field": "agentName"},  # text into a double
                {"target": "Status__c", "lp_field": "status"},  # CLOSE is not Open/Closed
                {"target": "Visitor_Email__c", "api_field": "info.visitorName"},  # "You" is no email
                {"target": "Name", "lp_field": "skillName"},  # auto-number, not createable
                {"target": "No_Such_Field__c", "lp_field": "city"},
                {"target": "Tiny__c", "lp_field": "agentName"},
                {"target": "Agent_Name__c", "lp_field": "agentName"},
            ],
        }
    )
    row = transform_record(chat_surveys(), "chat", mapping, fields_meta).to_dict()
    codes = {error["fields"][0]: error["code"] for error in row["errors"]}
    assert codes == {
        "Mcs_Text__c": "INVALID_TYPE_ON_FIELD_IN_RECORD",
        "Status__c": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "Visitor_Email__c": "INVALID_EMAIL_ADDRESS",
        "Name": "INVALID_FIELD_FOR_INSERT_UPDATE",
    }
    assert row["fields"]["Tiny__c"] == "liorr@livepe"  # too short for the marker: a hard cut
    assert row["fields"]["Agent_Name__c"] == "liorr@liveperson.com"
    assert "No_Such_Field__c" not in row["fields"]


def test_unknown_target_field_is_an_invalid_field_error():
    mapping = compile_mapping(
        {"transcript": None, "fields": [{"target": "No_Such__c", "lp_field": "city", "default": "x"}]}
    )
    row = transform_record(chat_surveys(), "chat", mapping, org_fields()).to_dict()
    assert row["errors"] == [
        {
            "code": "INVALID_FIELD",
            "message": "No_Such__c does not exist on the object (check the mapping's target)",
            "fields": ["No_Such__c"],
        }
    ]


def test_conversion_error_in_mapping_is_a_row_error():
    mapping = compile_mapping(
        {
            "transcript": None,
            "fields": [{"target": "Start_Time__c", "lp_field": "agentName", "convert": "datetime"}],
        }
    )
    row = transform_record(chat_surveys(), "chat", mapping, org_fields()).to_dict()
    assert row["errors"][0]["fields"] == ["Start_Time__c"]
    assert row["errors"][0]["code"] == "INVALID_DATE_TIME"


def long_chat(lines: int) -> dict:
    record = chat_surveys()
    template = record["transcript"]["lines"][3]
    record["transcript"]["lines"] = [dict(template, text=f"line {i} " + "x" * 90) for i in range(lines)]
    return record


def test_long_transcript_is_truncated_in_the_field_and_whole_in_the_file():
    fields_meta = org({"Transcript__c": {"type": "textarea", "length": 5000}})
    mapping = compile_mapping({"transcript": {"truncated_flag_field": "Transcript_Truncated__c"}})
    row = transform_record(long_chat(200), "chat", mapping, fields_meta).to_dict()
    field = row["fields"]["Transcript__c"]
    assert len(field) <= 5000 and field.endswith(TRUNCATION_MARKER)
    assert row["fields"]["Transcript_Truncated__c"] is True
    assert len(row["transcript_file"]["content"]) > 20000
    assert row["transcript_file"]["content"].count("\n") == 199


def test_long_transcript_split_into_parts():
    fields_meta = org(
        {
            "Transcript__c": {"type": "textarea", "length": 5000},
            "Transcript_2__c": {"type": "textarea", "length": 5000},
            "Transcript_3__c": {"type": "textarea", "length": 5000},
        }
    )
    mapping = compile_mapping(
        {
            "transcript": {
                "mode": "field",
                "split_parts": True,
                "part_fields": ["Transcript_2__c", "Transcript_3__c"],
                "truncated_flag_field": "Transcript_Truncated__c",
            }
        }
    )
    row = transform_record(long_chat(100), "chat", mapping, fields_meta).to_dict()
    fields = row["fields"]
    assert row["transcript_file"] is None
    parts = [fields["Transcript__c"], fields["Transcript_2__c"], fields["Transcript_3__c"]]
    assert all(len(part) <= 5000 for part in parts)
    assert "".join(parts) == transform_record(long_chat(100), "chat", mapping, None).fields["Transcript__c"]
    assert parts[0].endswith("\n")  # cut on a line break
    assert fields["Transcript_Truncated__c"] is False
    short = transform_record(long_chat(3), "chat", mapping, fields_meta).to_dict()["fields"]
    assert "Transcript_2__c" not in short  # unused parts are not written (never blanked)


def test_split_text_marks_overflow():
    parts, truncated = split_text("a\n" * 100, [50, 50])
    assert truncated and parts[-1].endswith(TRUNCATION_MARKER)
    assert split_text("short", [50, 50]) == (["short"], False)


def test_emulator_describe_drives_limits_not_constants():
    shorter = org({"Agent_Name__c": {"type": "string", "length": 10}})
    mapping = compile_mapping(
        {"transcript": None, "fields": [{"target": "Agent_Name__c", "lp_field": "agentName"}]}
    )
    assert (
        transform_record(messaging(), "messaging", mapping, shorter).fields["Agent_Name__c"] == "michal@lp."
    )
    longer = org({"Agent_Name__c": {"type": "string", "length": 20}})
    value = transform_record(messaging(), "messaging", mapping, longer).fields["Agent_Name__c"]
    assert value == "michal@lp.com"


def test_liveperson_no_time_markers_are_no_value():
    # An open messaging conversation has endTimeL -1: no end yet, never 1969-12-31.
    assert to_datetime(-1) is None and to_datetime(0) is None and to_datetime("-1") is None
    assert to_date(-1) is None
    assert to_datetime(1) == "1970-01-01T00:00:01.000Z"  # small numbers are epoch seconds


def test_open_conversation_gets_no_end_time():
    from pathlib import Path

    from lesync.mapping import fields_meta_from_schema, load_mapping, transform_record

    mapping = load_mapping(Path(__file__).resolve().parents[3] / "include/mappings/chat_transcript.yaml")
    record = {"info": {"conversationId": "c-1", "status": "OPEN", "startTimeL": 1795000000000, "endTimeL": -1,
                       "endTime": "undefined"}}  # fmt: skip
    row = transform_record(record, "messaging", mapping, fields_meta_from_schema()).to_dict()
    assert row["errors"] == []
    assert "End_Time__c" not in row["fields"] and row["fields"]["Start_Time__c"].startswith("2026-")
    assert row["fields"]["Status__c"] == "Open"


def test_lone_surrogates_become_replacement_characters():
    import json

    from lesync.mapping.limits import clean_text

    text = json.loads('"before \\ud83d after \\u0007bell"')
    assert clean_text(text) == "before \ufffd after bell"
    assert clean_text(text).encode("utf-8")  # now encodable
    assert clean_text("😀 fine") == "😀 fine"
