"""SOQL: the shapes a sync issues, paging past 2,000 records, and errors for the rest."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

CT = "Chat_Transcript__c"


@pytest.fixture(scope="module")
def seeded(sf_client):
    """2,500 transcripts (through Bulk API 2.0) plus a few with distinct values."""
    rows = [{"LP_Conversation_Id__c": f"q-{i:05d}", "Agent_Name__c": f"Agent {i % 7}"} for i in range(2500)]
    sf_client.bulk2.Chat_Transcript__c.upsert(
        records=rows, external_id_field="LP_Conversation_Id__c", wait=0.1
    )
    account = sf_client.Account.create({"Name": "Acme Bank"})["id"]
    specials = [
        {"LP_Conversation_Id__c": "s-1", "Status__c": "Open", "Duration_Seconds__c": 30,
         "Account__c": account, "Start_Time__c": "2024-05-01T10:00:00Z",
         "Transcript_Truncated__c": True, "Agent_Name__c": "O'Brien"},
        {"LP_Conversation_Id__c": "s-2", "Status__c": "Closed", "Duration_Seconds__c": 300,
         "Start_Time__c": "2024-05-02T10:00:00+02:00"},
        {"LP_Conversation_Id__c": "s-3", "Status__c": "Closed", "Duration_Seconds__c": 3000},
    ]  # fmt: skip
    for record in specials:
        sf_client.Chat_Transcript__c.create(record)
    return account


def ids_of(result) -> list[str]:
    return [r["LP_Conversation_Id__c"] for r in result["records"]]


def test_in_and_or_with_parentheses(sf_client, seeded):
    result = sf_client.query(
        "select LP_Conversation_Id__c from Chat_Transcript__c "
        "WHERE (LP_Conversation_Id__c IN ('s-1', 's-2', 'q-00001') AND Status__c = 'Closed') "
        "OR lp_conversation_id__c = 's-3' ORDER BY LP_Conversation_Id__c"
    )
    assert ids_of(result) == ["s-2", "s-3"]
    assert result["records"][0]["attributes"]["type"] == CT
    assert result["records"][0]["attributes"]["url"].startswith(
        "/services/data/v62.0/sobjects/Chat_Transcript__c/"
    )


def test_numbers_booleans_nulls_and_datetimes(sf_client, seeded):
    def matched(where: str) -> list[str]:
        soql = f"SELECT LP_Conversation_Id__c FROM {CT} WHERE {where} ORDER BY LP_Conversation_Id__c"
        return ids_of(sf_client.query(soql))

    assert matched("Duration_Seconds__c > 100 AND Duration_Seconds__c <= 3000") == ["s-2", "s-3"]
    assert matched("Transcript_Truncated__c = TRUE") == ["s-1"]
    assert matched("Status__c != null AND Start_Time__c = null") == ["s-3"]
    assert matched("Start_Time__c >= 2024-05-02T08:00:01Z") == []
    assert matched("Start_Time__c < 2024-05-02T09:00:00Z") == ["s-1", "s-2"]
    assert matched("Status__c != 'Closed' AND LP_Conversation_Id__c LIKE 's-%'") == ["s-1"]
    assert matched("Agent_Name__c = 'o\\'brien'") == ["s-1"]
    assert matched("NOT LP_Conversation_Id__c LIKE 'q-%' AND Status__c NOT IN ('Open')") == ["s-2", "s-3"]


def test_order_by_desc_limit_and_offset(sf_client, seeded):
    result = sf_client.query(
        f"SELECT Id, Duration_Seconds__c FROM {CT} WHERE Duration_Seconds__c != null "
        "ORDER BY Duration_Seconds__c DESC LIMIT 2"
    )
    assert [r["Duration_Seconds__c"] for r in result["records"]] == [3000.0, 300.0]
    assert result["totalSize"] == 2
    offset = sf_client.query(
        f"SELECT Id, Duration_Seconds__c FROM {CT} WHERE Duration_Seconds__c != null "
        "ORDER BY Duration_Seconds__c ASC NULLS LAST LIMIT 5 OFFSET 1"
    )
    assert [r["Duration_Seconds__c"] for r in offset["records"]] == [300.0, 3000.0]


def test_count(sf_client, seeded):
    result = sf_client.query(f"SELECT COUNT() FROM {CT} WHERE LP_Conversation_Id__c LIKE 'q-%'")
    assert result == {"totalSize": 2500, "done": True, "records": []}


def test_pages_of_2000_and_query_all(sf_client, seeded):
    first = sf_client.query(f"SELECT Id FROM {CT} WHERE LP_Conversation_Id__c LIKE 'q-%'")
    assert first["totalSize"] == 2500 and first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/")
    everything = sf_client.query_all(
        f"SELECT Id, LP_Conversation_Id__c FROM {CT} WHERE LP_Conversation_Id__c LIKE 'q-%'"
    )
    assert everything["totalSize"] == 2500
    assert len({r["Id"] for r in everything["records"]}) == 2500


def test_relationship_fields(sf_client, seeded):
    result = sf_client.query(f"SELECT Id, Account__r.Name FROM {CT} WHERE Account__r.Name = 'Acme Bank'")
    assert result["totalSize"] == 1
    assert result["records"][0]["Account__r"]["Name"] == "Acme Bank"
    assert result["records"][0]["Account__r"]["attributes"]["type"] == "Account"


def test_query_all_includes_deleted_records(sf_client, seeded):
    record_id = sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": "deleted-1"})["id"]
    sf_client.Chat_Transcript__c.delete(record_id)
    soql = f"SELECT Id, IsDeleted FROM {CT} WHERE LP_Conversation_Id__c = 'deleted-1'"
    assert sf_client.query(soql)["totalSize"] == 0
    archived = sf_client.query(soql, include_deleted=True)
    assert archived["records"][0]["IsDeleted"] is True


@pytest.mark.parametrize(
    "soql, code",
    [
        ("SELECT FROM Chat_Transcript__c", "MALFORMED_QUERY"),
        ("SELECT Id FROM Chat_Transcript__c WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Chat_Transcript__c GROUP BY Name", "MALFORMED_QUERY"),
        ("SELECT Id FROM Chat_Transcript__c WHERE Duration_Seconds__c = '12'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Chat_Transcript__c WHERE Name = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id, Nope__c FROM Chat_Transcript__c", "INVALID_FIELD"),
        ("SELECT Id FROM Chat_Transcript__c WHERE Nope__c = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Chat_Transcript__c WHERE Transcript__c = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
        ("SELECT Id FROM Chat_Transcript__c WHERE Id = 'nope'", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_unsupported_or_wrong_soql_is_a_400_not_a_crash(sf_client, soql, code):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf_client.query(soql)
    assert raised.value.content[0]["errorCode"] == code
    assert raised.value.content[0]["message"]


def test_statement_over_100000_characters_is_malformed(sf_emulator):
    """Checked in-process: a GET URL that long is refused by the HTTP layer before SOQL is parsed."""
    from lesync.emulators.salesforce.errors import SalesforceApiError

    values = ",".join(f"'{i:010d}'" for i in range(8400))
    soql = f"SELECT Id FROM {CT} WHERE LP_Conversation_Id__c IN ({values})"
    assert len(soql) > 100_000
    with pytest.raises(SalesforceApiError) as raised:
        sf_emulator.state.queries.run(soql, "62.0")
    assert raised.value.status == 400 and raised.value.errors[0]["errorCode"] == "MALFORMED_QUERY"


def test_content_document_link_needs_a_filter_by_linked_or_document_id(sf_client):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf_client.query("SELECT Id, LinkedEntityId FROM ContentDocumentLink")
    assert "Implementation restriction" in raised.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest):
        sf_client.query("SELECT Id FROM ContentDocumentLink WHERE ShareType = 'V'")
    record_id = sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": "q-no-file"})["id"]
    found = sf_client.query(f"SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId IN ('{record_id}')")
    assert found["totalSize"] == 0


def test_file_shared_by_another_user_is_found_through_its_link_not_its_publish_location(
    sf_client, sf_emulator
):
    record_id = sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": "q-shared"})["id"]
    document_id = sf_emulator.state.share_file(record_id, "Notes", "notes.txt", b"hi")
    by_location = sf_client.query(
        f"SELECT Id FROM ContentVersion WHERE FirstPublishLocationId = '{record_id}'"
    )
    links = sf_client.query(
        f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{record_id}'"
    )
    assert by_location["totalSize"] == 0
    assert [link["ContentDocumentId"] for link in links["records"]] == [document_id]


def test_two_hop_relationship_fields_of_a_link(sf_client, sf_emulator):
    record_id = sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": "q-two-hops"})["id"]
    document_id = sf_emulator.state.share_file(record_id, "Notes", "notes.txt", b"hi")
    (found,) = sf_client.query(
        "SELECT ContentDocumentId, ContentDocument.LatestPublishedVersion.Checksum, "
        "ContentDocument.LatestPublishedVersion.PathOnClient FROM ContentDocumentLink "
        f"WHERE LinkedEntityId = '{record_id}'"
    )["records"]
    version = found["ContentDocument"]["LatestPublishedVersion"]
    assert found["ContentDocumentId"] == document_id
    assert (
        version["PathOnClient"] == "notes.txt" and version["Checksum"] == "49f68a5c8493ec2c0bf489821c21fc3b"
    )
    assert version["attributes"]["type"] == "ContentVersion"
    with pytest.raises(SalesforceMalformedRequest):
        sf_client.query(
            f"SELECT ContentDocument.Nope.Title FROM ContentDocumentLink WHERE LinkedEntityId = '{record_id}'"
        )
