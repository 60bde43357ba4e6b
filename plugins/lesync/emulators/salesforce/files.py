"""What the org does around Files and Attachments when a record is inserted.

ContentVersion: checksum, size, extension and version number are computed; without
``ContentDocumentId`` a new ContentDocument is created, with it the version is added to that
document (``IsLatest`` moves); ``FirstPublishLocationId`` links the document to the record.
Attachment: ``BodyLength``.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import error

if TYPE_CHECKING:
    from .store import Store


def missing_content(object_name: str, record: dict[str, Any], creating: bool) -> list[dict[str, Any]]:
    """A new ContentVersion needs its bytes (the schema marks VersionData optional for updates)."""
    if object_name == "ContentVersion" and creating and record.get("VersionData") in (None, b""):
        return [
            error("REQUIRED_FIELD_MISSING", "Required fields are missing: [VersionData]", ["VersionData"])
        ]
    return []


def before_insert(store: Store, object_name: str, record: dict[str, Any]) -> None:
    if object_name == "ContentVersion":
        _prepare_version(store, record)
    elif object_name == "Attachment":
        record["BodyLength"] = len(record.get("Body") or b"")


def after_insert(store: Store, object_name: str, record_id: str, record: dict[str, Any]) -> None:
    if object_name != "ContentVersion":
        return
    document_id = record["ContentDocumentId"]
    for other in store.find_ids("ContentVersion", "ContentDocumentId", document_id):
        if other != record_id:
            store.set_system("ContentVersion", other, {"IsLatest": False})
    store.set_system(
        "ContentDocument",
        document_id,
        {
            "LatestPublishedVersionId": record_id,
            "ContentSize": record["ContentSize"],
            "Title": record["Title"],
        },
    )
    if record.get("FirstPublishLocationId") and record["VersionNumber"] == "1":
        store.insert_system(
            "ContentDocumentLink",
            {
                "ContentDocumentId": document_id,
                "LinkedEntityId": record["FirstPublishLocationId"],
                "ShareType": "V",
                "Visibility": "AllUsers",
            },
        )


def _prepare_version(store: Store, record: dict[str, Any]) -> None:
    data = record.get("VersionData") or b""
    record["Checksum"] = hashlib.md5(data).hexdigest()  # noqa: S324 - Salesforce's checksum is MD5
    record["ContentSize"] = len(data)
    record["FileExtension"] = (
        PurePosixPath(record.get("PathOnClient") or "").suffix.lstrip(".").lower() or None
    )
    record["IsLatest"] = True
    document_id = record.get("ContentDocumentId")
    if document_id:
        versions = store.find_ids("ContentVersion", "ContentDocumentId", document_id)
        record["VersionNumber"] = str(len(versions) + 1)
        return
    record["VersionNumber"] = "1"
    record["ContentDocumentId"] = store.insert_system(
        "ContentDocument", {"Title": record.get("Title"), "ContentSize": len(data)}
    )
