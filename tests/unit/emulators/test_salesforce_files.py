"""Salesforce Files (ContentVersion, ContentDocument, ContentDocumentLink) and Attachments."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def transcript_id(sf_client) -> str:
    return sf_client.Chat_Transcript__c.create({"LP_Conversation_Id__c": "files-parent"})["id"]


def test_content_version_with_first_publish_location_links_the_record(sf_client, sf_api, transcript_id):
    data = "Visitor: hi\nAgent: hello ✓".encode()
    created = sf_client.ContentVersion.create(
        {"Title": "transcript", "PathOnClient": "transcript.TXT", "VersionData": b64(data),
         "FirstPublishLocationId": transcript_id}
    )  # fmt: skip
    version = sf_client.ContentVersion.get(created["id"])
    assert version["Checksum"] == hashlib.md5(data).hexdigest()
    assert version["ContentSize"] == len(data) and version["FileExtension"] == "txt"
    assert version["IsLatest"] is True and version["VersionNumber"] == "1"
    assert version["VersionData"].endswith(f"/sobjects/ContentVersion/{created['id']}/VersionData")
    assert sf_api("GET", f"/sobjects/ContentVersion/{created['id']}/VersionData").content == data
    links = sf_client.query(
        "SELECT ContentDocumentId, LinkedEntityId FROM ContentDocumentLink "
        f"WHERE LinkedEntityId IN ('{transcript_id}')"
    )
    assert links["totalSize"] == 1
    assert links["records"][0]["ContentDocumentId"] == version["ContentDocumentId"]
    latest = sf_client.query(
        "SELECT Id, ContentDocumentId, Checksum, Title FROM ContentVersion "
        f"WHERE FirstPublishLocationId IN ('{transcript_id}') AND IsLatest = true"
    )
    assert [r["Id"] for r in latest["records"]] == [created["id"]]


def test_new_version_by_content_document_id(sf_client, transcript_id):
    first = sf_client.ContentVersion.create(
        {
            "Title": "chat",
            "PathOnClient": "chat.html",
            "VersionData": b64(b"v1"),
            "FirstPublishLocationId": transcript_id,
        }
    )
    document_id = sf_client.ContentVersion.get(first["id"])["ContentDocumentId"]
    second = sf_client.ContentVersion.create(
        {
            "Title": "chat",
            "PathOnClient": "chat.html",
            "VersionData": b64(b"v2"),
            "ContentDocumentId": document_id,
        }
    )
    versions = sf_client.query(
        f"SELECT Id, VersionNumber, IsLatest FROM ContentVersion WHERE ContentDocumentId = '{document_id}' "
        "ORDER BY VersionNumber"
    )["records"]
    assert [(v["Id"], v["VersionNumber"], v["IsLatest"]) for v in versions] == [
        (first["id"], "1", False),
        (second["id"], "2", True),
    ]
    document = sf_client.query(
        f"SELECT LatestPublishedVersionId FROM ContentDocument WHERE Id = '{document_id}'"
    )
    assert document["records"][0]["LatestPublishedVersionId"] == second["id"]
    links = sf_client.query(f"SELECT Id FROM ContentDocumentLink WHERE ContentDocumentId = '{document_id}'")
    assert links["totalSize"] == 1, "a new version does not link the document again"


def test_content_version_errors(sf_client):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf_client.ContentVersion.create({"Title": "x", "PathOnClient": "x.txt"})
    assert raised.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf_client.ContentVersion.create(
            {
                "Title": "x",
                "PathOnClient": "x.txt",
                "VersionData": b64(b"x"),
                "ContentDocumentId": "069000000000000",
            }
        )
    assert raised.value.content[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"


def test_multipart_content_version(sf_api, transcript_id):
    entity = {"Title": "upload", "PathOnClient": "upload.pdf", "FirstPublishLocationId": transcript_id}
    files = {
        "entity_content": (None, json.dumps(entity), "application/json"),
        "VersionData": ("upload.pdf", b"%PDF-1.4 binary \x00\x01", "application/octet-stream"),
    }
    response = sf_api("POST", "/sobjects/ContentVersion", files=files)
    assert response.status_code == 201, response.text
    body = sf_api("GET", f"/sobjects/ContentVersion/{response.json()['id']}/VersionData").content
    assert body == b"%PDF-1.4 binary \x00\x01"


def test_attachment_insert_and_query(sf_client, sf_api, transcript_id):
    created = sf_client.Attachment.create(
        {"ParentId": transcript_id, "Name": "chat.txt", "Body": b64(b"hello")}
    )
    found = sf_client.query(
        f"SELECT Id, Name, BodyLength, Body FROM Attachment WHERE ParentId = '{transcript_id}'"
    )
    assert found["records"][0]["Id"] == created["id"] and found["records"][0]["BodyLength"] == 5
    assert sf_api("GET", found["records"][0]["Body"]).content == b"hello"


def test_request_body_over_the_size_limit_is_413(sf_api, sf_emulator):
    config = sf_emulator.state.config
    saved, config.max_request_bytes = config.max_request_bytes, 10_000
    try:
        body = {"Title": "big", "PathOnClient": "big.bin", "VersionData": b64(b"x" * 20_000)}
        response = sf_api("POST", "/sobjects/ContentVersion", json=body)
        assert response.status_code == 413
        assert response.json()[0]["errorCode"] == "REQUEST_ENTITY_TOO_LARGE"
    finally:
        config.max_request_bytes = saved
