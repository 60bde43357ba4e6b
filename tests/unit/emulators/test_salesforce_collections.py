"""sObject Collections: 200 records a call, HTTP 200 with per-record results in order, allOrNone."""

from __future__ import annotations

import base64

CT = "Chat_Transcript__c"
ATTRS = {"attributes": {"type": CT}}


def upsert_body(records, all_or_none=False):
    return {"allOrNone": all_or_none, "records": [{**ATTRS, **r} for r in records]}


def test_create_with_partial_failures_answers_200_in_order(sf_api, sf_emulator):
    records = [
        {"LP_Conversation_Id__c": "col-1"},
        {"LP_Conversation_Id__c": "col-2", "Status__c": "Nope"},
        {"LP_Conversation_Id__c": "col-3", "Transcript__c": "z" * 131073},
        {"LP_Conversation_Id__c": "col-4"},
    ]
    response = sf_api("POST", "/composite/sobjects", json=upsert_body(records))
    assert response.status_code == 200
    results = response.json()
    assert [r["success"] for r in results] == [True, False, False, True]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert results[2]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[0]["id"].startswith("a0L") and results[0]["created"] is True
    stored = {r["LP_Conversation_Id__c"] for r in sf_emulator.state.store.records(CT)}
    assert {"col-1", "col-4"} <= stored and not {"col-2", "col-3"} & stored


def test_all_or_none_rolls_everything_back(sf_api, sf_emulator):
    records = [
        {"LP_Conversation_Id__c": "aon-1"},
        {"LP_Conversation_Id__c": "aon-2", "Duration_Seconds__c": "x"},
    ]
    results = sf_api("POST", "/composite/sobjects", json=upsert_body(records, all_or_none=True)).json()
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_TYPE_ON_FIELD_IN_RECORD"
    stored = {r["LP_Conversation_Id__c"] for r in sf_emulator.state.store.records(CT)}
    assert "aon-1" not in stored


def test_upsert_reports_created_and_updated(sf_api, sf_emulator):
    path = f"/composite/sobjects/{CT}/LP_Conversation_Id__c"
    first = sf_api(
        "PATCH", path, json=upsert_body([{"LP_Conversation_Id__c": "cup-1", "City__c": "A"}])
    ).json()
    assert first[0]["created"] is True and first[0]["success"] is True
    records = [
        {"LP_Conversation_Id__c": "cup-1", "City__c": "B"},
        {"LP_Conversation_Id__c": "cup-2", "City__c": "C"},
        {"LP_Conversation_Id__c": "cup-3", "Visitor_Email__c": "bad"},
    ]
    second = sf_api("PATCH", path, json=upsert_body(records)).json()
    assert [(r["success"], r["created"]) for r in second] == [(True, False), (True, True), (False, False)]
    assert second[0]["id"] == first[0]["id"]
    assert second[2]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    row = next(r for r in sf_emulator.state.store.records(CT) if r["LP_Conversation_Id__c"] == "cup-1")
    assert row["City__c"] == "B"


def test_update_by_id(sf_api, sf_client):
    record_id = sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": "cupd-1"})["id"]
    body = {"records": [{**ATTRS, "id": record_id, "City__c": "Oslo"}, {**ATTRS, "City__c": "no id"}]}
    results = sf_api("PATCH", "/composite/sobjects", json=body).json()
    assert results[0] == {"id": record_id, "success": True, "errors": []}
    assert results[1]["success"] is False
    assert sf_client.Chat_Transcript__c.get(record_id)["City__c"] == "Oslo"


def test_more_than_200_records_is_refused(sf_api):
    records = [{"LP_Conversation_Id__c": f"many-{i}"} for i in range(201)]
    response = sf_api("POST", "/composite/sobjects", json=upsert_body(records))
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_unable_to_lock_row_in_collections(sf_api, sf_emulator):
    sf_emulator.state.lock_rows(["clock-2"], times=1)
    path = f"/composite/sobjects/{CT}/LP_Conversation_Id__c"
    records = [{"LP_Conversation_Id__c": "clock-1"}, {"LP_Conversation_Id__c": "clock-2"}]
    results = sf_api("PATCH", path, json=upsert_body(records)).json()
    assert results[0]["success"] is True
    assert results[1]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    retried = sf_api("PATCH", path, json=upsert_body(records[1:])).json()
    assert retried[0]["success"] is True


def test_get_and_delete(sf_api, sf_client):
    ids = [
        sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": f"cget-{i}"})["id"] for i in range(2)
    ]
    fetched = sf_api(
        "GET", f"/composite/sobjects/{CT}", params={"ids": ",".join(ids), "fields": "LP_Conversation_Id__c"}
    )
    assert [r["LP_Conversation_Id__c"] for r in fetched.json()] == ["cget-0", "cget-1"]
    deleted = sf_api("DELETE", "/composite/sobjects", params={"ids": ",".join(ids)}).json()
    assert [r["success"] for r in deleted] == [True, True]


def test_content_versions_in_a_batch(sf_api, sf_client):
    parent = sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": "cfiles"})["id"]
    records = [
        {
            "attributes": {"type": "ContentVersion"},
            "Title": f"file {i}",
            "PathOnClient": f"file{i}.txt",
            "VersionData": base64.b64encode(f"content {i}".encode()).decode(),
            "FirstPublishLocationId": parent,
        }
        for i in range(3)
    ]
    results = sf_api("POST", "/composite/sobjects", json={"allOrNone": True, "records": records}).json()
    assert all(r["success"] for r in results)
    links = sf_client.query(
        f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{parent}'"
    )
    assert links["totalSize"] == 3
