"""Issue 17, mapping side: unAuthSdes, on_empty: clear, enumerations in any case,
contentToRetrieve from the mapping, and the one record-error shape."""

from __future__ import annotations

import copy

import pytest
from lpexamples import chat_surveys, default_mapping, messaging, org_fields

from lesync.contracts import RecordError
from lesync.mapping import compile_mapping, content_to_retrieve, render, transform_record
from lesync.salesforce.linking import blocked_sets, match_value
from lesync.salesforce.settings import LinkingSettings

# --------------------------------------------------------------------------------------------
# 3. Unauthenticated SDEs


def unauthenticated_visitor() -> dict:
    """The documented messaging example with its personal info moved to ``unAuthSdes`` (v=2)."""
    record = messaging()
    record["unAuthSdes"] = copy.deepcopy(record.pop("sdes"))
    record["consumerParticipants"][0]["email"] = "undefined"
    return record


def test_predefined_fields_read_unauthenticated_sdes():
    row = transform_record(unauthenticated_visitor(), "messaging", default_mapping(), org_fields()).to_dict()
    assert row["fields"]["Visitor_Email__c"] == "dummy@mail.com"
    assert row["fields"]["Visitor_Phone__c"] == "12345678"
    assert row["fields"]["Customer_Id__c"] == "12345678"


def test_authenticated_sdes_win():
    record = messaging()
    record["unAuthSdes"] = copy.deepcopy(record["sdes"])
    record["unAuthSdes"]["events"][1]["personalInfo"]["personalInfo"]["contacts"][0]["personalContact"][
        "email"
    ] = "typed@visitor.example"
    row = transform_record(record, "messaging", default_mapping(), org_fields()).to_dict()
    assert row["fields"]["Visitor_Email__c"] == "dummy@mail.com"


CUSTOMER_ID = "events[sdeType=CUSTOMER_INFO].customerInfo.customerInfo.customerId"


def test_custom_paths_reach_either_container():
    mapping = compile_mapping(
        {
            "transcript": None,
            "fields": [
                {
                    "target": "City__c",
                    "msg_api_field": f"unAuthSdes.{CUSTOMER_ID}",
                },
                {
                    "target": "Country__c",
                    "msg_api_field": f"sdes.{CUSTOMER_ID}",
                },
            ],
        }
    )
    row = transform_record(unauthenticated_visitor(), "messaging", mapping, org_fields()).to_dict()
    assert row["fields"]["City__c"] == "12345678"
    assert "Country__c" not in row["fields"]  # a custom sdes path reads sdes only, as written


def test_linking_sees_the_unauthenticated_email():
    record = unauthenticated_visitor()
    contact = record["unAuthSdes"]["events"][1]["personalInfo"]["personalInfo"]["contacts"][0]
    contact["personalContact"]["email"] = "dana@acme-corp.example"  # mail.com is a blocked free-mail domain
    row = transform_record(record, "messaging", default_mapping(), org_fields()).to_dict()
    linking = LinkingSettings()
    blocked = blocked_sets(linking)
    matched = {
        rule.match.value: match_value(rule, row["fields"].get(rule.value), linking, blocked)
        for rule in linking.rules
        if rule.object == "Contact"
    }
    assert matched["email"] == "dana@acme-corp.example"
    assert matched["phone"] and matched["phone"].endswith("12345678")


# --------------------------------------------------------------------------------------------
# 10. on_empty: clear


def clearing(on_empty: str = "clear", target: str = "Close_Reason__c") -> dict:
    mapping = compile_mapping(
        {"transcript": None, "fields": [{"target": target, "lp_field": "summary", "on_empty": on_empty}]}
    )
    return transform_record(chat_surveys(), "chat", mapping, org_fields()).to_dict()


def test_empty_value_with_on_empty_clear_asks_the_load_to_clear():
    row = clearing()
    assert row["clear"] == ["Close_Reason__c"] and "Close_Reason__c" not in row["fields"]
    assert clearing("keep")["clear"] == []


def test_a_field_that_cannot_be_null_is_a_row_error():
    row = clearing(target="Transcript_Truncated__c")  # a checkbox: never null in Salesforce
    assert row["clear"] == []
    assert row["errors"][0]["code"] == "INVALID_CLEAR"
    assert row["errors"][0]["fields"] == ["Transcript_Truncated__c"]


def test_on_empty_is_validated():
    with pytest.raises(ValueError, match="on_empty"):
        compile_mapping({"fields": [{"target": "City__c", "lp_field": "city", "on_empty": "blank"}]})


# --------------------------------------------------------------------------------------------
# 11. Enumerations in any spelling


def shout(record: dict, keys: tuple[str, ...], change) -> dict:
    for item in record.get("messageRecords") or record["transcript"]["lines"]:
        for key in keys:
            if isinstance(item.get(key), str):
                item[key] = change(item[key])
    return record


@pytest.mark.parametrize("change", [str.lower, str.upper])
def test_messaging_transcript_and_counts_ignore_case(change):
    plain = messaging()
    changed = shout(messaging(), ("sentBy", "audience", "type"), change)
    # the same lines (a sender without a name is shown by its label, in the record's spelling)
    assert render(changed, "messaging").casefold() == render(plain, "messaging").casefold()
    mapping = default_mapping()
    a = transform_record(plain, "messaging", mapping, org_fields()).to_dict()["fields"]
    b = transform_record(changed, "messaging", mapping, org_fields()).to_dict()["fields"]
    assert a.pop("Transcript__c").casefold() == b.pop("Transcript__c").casefold()
    assert a == b


@pytest.mark.parametrize("change", [str.lower, str.upper])
def test_chat_transcript_and_counts_ignore_case(change):
    plain = chat_surveys()
    plain["transcript"]["lines"][4]["subType"] = "ONLY_TO_REP"
    changed = shout(copy.deepcopy(plain), ("source", "subType", "textType"), change)
    assert render(changed, "chat") == render(plain, "chat")
    assert render(changed, "chat", include_private=True) == render(plain, "chat", include_private=True)
    a = transform_record(plain, "chat", default_mapping(), org_fields()).to_dict()["fields"]
    b = transform_record(changed, "chat", default_mapping(), org_fields()).to_dict()["fields"]
    assert a == b


# --------------------------------------------------------------------------------------------
# contentToRetrieve


def test_default_mapping_asks_for_what_it_reads():
    parts = content_to_retrieve(default_mapping())
    assert parts[:2] == ["campaign", "messageRecords"]
    for part in ("monitoring", "sdes", "unAuthSdes", "transfers", "agentParticipants", "summary"):
        assert part in parts
    assert "consumerParticipants" in parts and "conversationSurveys" in parts
    assert "dialogs" not in parts and "info" not in parts and len(parts) == len(set(parts))


def test_only_what_is_read():
    mapping = compile_mapping(
        {"transcript": None, "fields": [{"target": "City__c", "lp_field": "agentName"}]}
    )
    assert content_to_retrieve(mapping) == []
    with_city = compile_mapping({"transcript": None, "fields": [{"target": "City__c", "lp_field": "city"}]})
    assert content_to_retrieve(with_city) == ["monitoring"]
    sde = compile_mapping(
        {"transcript": None, "fields": [{"target": "City__c", "msg_api_field": "sdes.events[0].x"}]}
    )
    assert content_to_retrieve(sde) == ["sdes", "unAuthSdes"]


def test_a_rendered_transcript_needs_the_messages():
    mapping = compile_mapping({"fields": []})
    assert "messageRecords" in content_to_retrieve(mapping)
    assert "monitoring" not in content_to_retrieve(mapping)


# --------------------------------------------------------------------------------------------
# The one record-error shape


def test_row_errors_are_record_errors():
    mapping = compile_mapping(
        {"transcript": None, "fields": [{"target": "Start_Time__c", "lp_field": "agentName"}]}
    )
    row = transform_record(chat_surveys(), "chat", mapping, org_fields()).to_dict()
    error = RecordError.from_dict(row["errors"][0])
    assert error.fields == ("Start_Time__c",) and error.code == "INVALID_DATE_TIME"
    assert error.as_dict() == row["errors"][0]
