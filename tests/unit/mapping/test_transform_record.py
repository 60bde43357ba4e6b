"""Every documented LivePerson example mapped by the default mapping to the expected row."""

from __future__ import annotations

import json

import pytest
from lpexamples import chat_all_sdes, chat_surveys, default_mapping, messaging, org_fields

from lesync.mapping import CATALOG, compile_mapping, detect_channel, transform_record
from lesync.mapping.catalog import catalog_getter


def row_of(record: dict, channel: str, mapping=None, meta="org") -> dict:
    fields_meta = org_fields() if meta == "org" else meta
    return transform_record(record, channel, mapping or default_mapping(), fields_meta).to_dict()


def test_chat_surveys_example():
    row = row_of(chat_surveys(), "chat")
    assert row["conversation_id"] == "qa359315574294967901"
    assert (row["channel"], row["status"], row["errors"]) == ("chat", "closed", [])
    fields = row["fields"]
    assert fields["LP_Conversation_Id__c"] == "qa359315574294967901"
    assert fields["SDK_API_Type__c"] == "Chat"
    assert fields["Status__c"] == "Closed"
    assert fields["Start_Time__c"] == "2017-02-01T17:11:59.916Z"
    assert fields["End_Time__c"] == "2017-02-01T17:26:47.735Z"
    assert fields["Duration_Seconds__c"] == 887
    assert fields["Agent_Name__c"] == "liorr@liveperson.com"
    assert fields["Agent_Id__c"] == "213185812"
    assert fields["Skill_Id__c"] == "-1"
    assert fields["Skill_Name__c"] == "Unassigned"
    assert fields["Agent_Group__c"] == "Main Group"
    assert fields["Visitor_Email__c"] == "irena@gmail.com"  # pre-chat survey "Email"
    assert fields["Goal_Name__c"] == "Interact with visitors"
    assert fields["Campaign_Name__c"] == "Live Chat on your site"
    assert fields["Engagement_Name__c"] == "Sticky chat button"
    assert fields["Browser__c"] == "Chrome 49.0.2623.87"
    assert fields["Operating_System__c"] == "MAC_OSX"
    assert fields["Entry_Page__c"] == "http://hc1d.dev.lprnd.net/smt.jsp?siteid=qa35931557"
    assert fields["MCS__c"] == 60
    assert fields["Close_Reason__c"] == "Rep stopped chat"
    assert fields["Message_Count__c"] == 6
    assert fields["Transcript_Truncated__c"] is False
    assert fields["Transcript__c"].splitlines()[2] == "[2017-02-01 17:12:03 UTC] liorr@liveperson.com: hello"
    # empty strings in the example ("country": "") are never written
    assert "Country__c" not in fields and "City__c" not in fields
    assert row["transcript_file"]["title"] == "chat-qa359315574294967901"
    assert row["transcript_file"]["path_on_client"] == "chat-qa359315574294967901.txt"
    assert row["transcript_file"]["content"] == fields["Transcript__c"]


def test_chat_all_sdes_example():
    fields = row_of(chat_all_sdes(), "chat")["fields"]
    assert fields["Agent_Name__c"] == "Greg"  # agentName when there is no agentFullName
    assert fields["Customer_Type__c"] == "vip"
    assert fields["Customer_Id__c"] == "138766AC"
    assert fields["Marketing_Affiliate__c"] == "Yahoo"
    assert fields["Visitor_Email__c"] == "myname@example.com"  # personalInfo contacts
    assert fields["Visitor_Phone__c"] == "+1 212-788-8877"
    assert fields["Country__c"] == "United States"
    assert fields["City__c"] == "San Jose"
    assert fields["IP_Address__c"] == "192.168.13.209"
    assert "MCS__c" not in fields  # "mcs": null


def test_messaging_example():
    row = row_of(messaging(), "messaging")
    assert row["errors"] == []
    assert (row["channel"], row["status"]) == ("messaging", "open")
    fields = row["fields"]
    assert fields["SDK_API_Type__c"] == "Messaging"
    assert fields["Status__c"] == "Open"
    assert fields["Start_Time__c"] == "2016-08-29T14:30:24.565Z"
    assert fields["Duration_Seconds__c"] == 78.97  # 78970 ms
    assert fields["Agent_Name__c"] == "michal@lp.com"
    assert fields["Visitor_Name__c"] == "Visitor Test"
    assert fields["Visitor_Email__c"] == "dummy@mail.com"  # SDE first; the participant says "undefined"
    assert fields["Visitor_Id__c"] == "f92c9890-2c95-428b-8a32-083528620d31"
    assert fields["CSAT__c"] == 5
    assert fields["MCS__c"] == 67
    assert fields["Transfer_Count__c"] == 2
    assert fields["Message_Count__c"] == 4
    assert fields["Summary__c"] == "summary"
    assert fields["Customer_Id__c"] == "12345678"
    assert fields["Country__c"] == "United States"
    assert fields["Entry_Page__c"] == "https://testPage"
    assert fields["Engagement_Name__c"] == "Engagement-123"
    transcript = fields["Transcript__c"].splitlines()
    assert transcript[0] == "[2016-08-29 15:14:19 UTC] Visitor Test: Hi there #4"
    assert transcript[1].startswith("[2016-08-29 15:14:19 UTC] michal@lp.com: Hi there, dear consumer!")
    assert "[system] Transferred from skill Unassigned to skill cats by michal1" in transcript[3]
    assert transcript[-1].endswith("Agent: [rich content: Now on sale! | 2 images] [quick replies: Yes | No]")
    assert row["transcript_file"]["path_on_client"] == "messaging-e5c58e49-e4a5-40a8-8a18-d6580d1d5630.txt"


def test_catalog_values_on_the_examples():
    chat, sdes, msg = chat_surveys(), chat_all_sdes(), messaging()
    expect = [
        ("preChatName", "chat", chat, "Irena"),
        ("preChatEmail", "chat", chat, "irena@gmail.com"),
        (
            "postChatSurveyAnswers",
            "chat",
            chat,
            "How was the visit ?: It was good\nWill you recommentd us ?: Yes",
        ),
        ("purchaseTotal", "chat", chat, "77.0"),
        ("startReason", "chat", chat, "Visitor request"),
        ("firstResponseSeconds", "chat", chat, 235.322),  # 17:12:16.179 -> 17:16:11.501
        ("visitorMessageCount", "chat", chat, 2),
        ("agentMessageCount", "chat", chat, 4),
        ("customerStatus", "chat", sdes, "cancelled"),
        ("customerBalance", "chat", sdes, "-400.99"),
        ("customerLastPaymentDate", "chat", sdes, {"year": "2014", "month": "10", "day": "15"}),
        ("personalName", "chat", sdes, "ELI"),
        ("personalSurname", "chat", sdes, "leibovitz"),
        ("leadTopic", "chat", sdes, "luxury car test drive 2015"),
        ("leadValue", "chat", sdes, "22.22"),
        ("cartTotal", "chat", sdes, "11.7"),
        ("purchaseOrderId", "chat", sdes, "DRV1534XC"),
        ("marketingChannel", "chat", sdes, "1"),
        ("serviceActivityTopic", "chat", sdes, "order checkbook"),
        ("serviceActivityStatus", "chat", sdes, "0"),
        ("viewedProductName", "chat", sdes, "red high heel shoe"),
        ("visitorErrorMessage", "chat", sdes, "Expiration date missing"),
        ("personalName", "messaging", msg, "dummyName"),
        ("personalEmail", "messaging", msg, "dummy@mail.com"),
        ("customerCompanyBranch", "messaging", msg, "dummyCompanyBranch"),
        ("postChatSurveyAnswers", "messaging", msg, "Confirm Resolution: Yes"),
        ("agentSurveyAnswers", "messaging", msg, "aa: IdanAgent\nnum-10: 2"),
        ("closedBy", "messaging", msg, "AGENT"),
        ("firstResponseSeconds", "messaging", msg, 0.0),
        ("durationSeconds", "messaging", msg, 78.97),
        ("visitorMessageCount", "messaging", msg, 2),
        ("status", "messaging", msg, "OPEN"),
        ("goalName", "messaging", msg, "Interact with visitors"),
        ("lineOfBusiness", "messaging", msg, "lob_123"),
    ]
    for name, channel, record, value in expect:
        assert catalog_getter(name, channel)(record) == value, (name, channel)


def test_catalog_is_large_and_described():
    assert len(CATALOG) >= 55
    for entry in CATALOG.values():
        assert entry.description, entry.name
        assert entry.chat is not None or entry.messaging is not None, entry.name


def test_catalog_getters_never_raise_on_odd_records():
    odd = [
        {},
        {"info": []},
        {"info": {"duration": "x"}, "transcript": {"lines": [1, None, {"timeL": "x"}]}},
        {"messageRecords": "no", "transfers": {}, "sdes": {"events": [None, 3]}},
    ]
    for name in CATALOG:
        for channel in ("chat", "messaging"):
            getter = catalog_getter(name, channel)
            for record in odd:
                if getter is not None:
                    getter(record)


def test_channel_is_detected_from_the_shape():
    assert detect_channel(chat_surveys()) == "chat"
    assert detect_channel(messaging()) == "messaging"
    assert detect_channel({"info": {}}) is None


def test_missing_values_use_the_default_and_empty_ones_are_never_written():
    mapping = compile_mapping(
        {
            "fields": [
                {"target": "Country__c", "lp_field": "country", "default": "Unknown"},
                {"target": "City__c", "lp_field": "city"},
                {"target": "Goal_Name__c", "default": "Fixed goal"},
            ],
            "transcript": None,
        }
    )
    fields = row_of(chat_surveys(), "chat", mapping)["fields"]
    assert fields["Country__c"] == "Unknown"
    assert fields["Goal_Name__c"] == "Fixed goal"
    assert "City__c" not in fields
    assert all(value not in (None, "") for value in fields.values())


def test_custom_paths_per_channel():
    mapping = compile_mapping(
        {
            "transcript": None,
            "fields": [
                {
                    "target": "Account_Number__c",
                    "api_field": "surveys.preChat[displayName=Name].value",
                    "msg_api_field": "consumerParticipants[0].lastName",
                },
            ],
        }
    )
    assert row_of(chat_surveys(), "chat", mapping)["fields"]["Account_Number__c"] == "Irena"
    assert row_of(messaging(), "messaging", mapping)["fields"]["Account_Number__c"] == "Test"


def test_chat_only_custom_path_writes_nothing_for_messaging():
    mapping = compile_mapping(
        {"transcript": None, "fields": [{"target": "Account_Number__c", "api_field": "info.engagementId"}]}
    )
    assert "Account_Number__c" not in row_of(messaging(), "messaging", mapping)["fields"]


def test_record_without_id_is_a_row_with_an_error():
    record = chat_surveys()
    del record["info"]["engagementId"]
    row = row_of(record, "chat")
    assert row["conversation_id"] == ""
    assert row["errors"][0]["fields"] == ["LP_Conversation_Id__c"]
    assert row["errors"][0]["code"] == "MISSING_ID"
    assert row["fields"]["Agent_Name__c"] == "liorr@liveperson.com"


def test_row_is_json_serialisable_and_deterministic():
    first = json.dumps(row_of(messaging(), "messaging"), sort_keys=True)
    second = json.dumps(row_of(messaging(), "messaging"), sort_keys=True)
    assert first == second


def test_unknown_channel_is_rejected():
    with pytest.raises(ValueError, match="channel"):
        transform_record(chat_surveys(), "voice", default_mapping(), None)


def test_open_chat_is_open():
    record = chat_surveys()
    record["info"]["ended"] = False
    row = row_of(record, "chat")
    assert row["status"] == "open"
    assert row["fields"]["Status__c"] == "Open"


def test_each_describe_fits_its_own_fields_when_they_alternate():
    """Entries are resolved once per mapping and describe: a second org (or none) is its own."""
    import dataclasses

    org = org_fields()
    narrow = {**org, "Agent_Name__c": dataclasses.replace(org["Agent_Name__c"], length=8)}
    mapping = default_mapping()
    names = [
        row_of(chat_surveys(), "chat", mapping, meta)["fields"]["Agent_Name__c"]
        for meta in (org, narrow, None, org)
    ]
    assert names[0] == names[2] == names[3] == "liorr@liveperson.com"
    assert names[1] != names[0] and len(names[1]) <= 8
