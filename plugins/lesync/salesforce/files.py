"""Transcript files on Chat Transcript records: Salesforce Files (default) or legacy Attachments.

A rerun never adds a second file for a conversation: per batch, the files linked to the batch's
records are found through ``ContentDocumentLink`` (whoever uploaded or shared them) with each
document's latest version (one query, or a few when the ids would make the query URL too long;
records the load has just created are skipped: they cannot have a file yet);
an MD5 equal to
Salesforce's ``Checksum`` means nothing to do, a different one adds a new version of the same
document, none adds the file. Inserts go through sObject
Collections create (200 records a call, and a cap on the base64 bytes per request), up to
``calls_in_flight`` calls at once: each call waits on the network and Salesforce's storage, not
on us, and files of different records share no parent to lock. Files over the size cap are
skipped with a logged reason; the record itself still syncs.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce.exceptions import SalesforceError

from lesync.contracts import RecordError
from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.settings import FileKind, FileSettings
from lesync.salesforce.soql import query_in
from lesync.salesforce.upsert import call_error

log = logging.getLogger(__name__)

UPLOADED, UNCHANGED, SKIPPED, FAILED = "uploaded", "unchanged", "skipped", "failed"


@dataclass(frozen=True)
class TranscriptFile:
    """One conversation's transcript file, for the record Salesforce gave it."""

    conversation_id: str
    record_id: str
    title: str
    path_on_client: str
    data: bytes
    #: The record was created by this load: it has no file yet, nothing to look up.
    new_record: bool = False

    @property
    def checksum(self) -> str:
        return hashlib.md5(self.data).hexdigest()  # Salesforce's ContentVersion.Checksum

    @property
    def base64_size(self) -> int:
        return 4 * ((len(self.data) + 2) // 3)


@dataclass
class FileOutcome:
    conversation_id: str
    status: str
    reason: str = ""
    record_id: str | None = None
    errors: list[RecordError] = field(default_factory=list)


def sync_files(
    client: SalesforceClient, settings: FileSettings, files: list[TranscriptFile]
) -> list[FileOutcome]:
    """Upload what is new or changed; one lookup query per ``SOQL`` chunk, inserts in Collections."""
    outcomes, wanted = _skip_oversized(files, settings.max_file_bytes)
    if not wanted:
        return outcomes
    if settings.kind is FileKind.ATTACHMENT:
        return outcomes + _sync_attachments(client, settings, wanted)
    return outcomes + _sync_content_versions(client, settings, wanted)


def _skip_oversized(files: list[TranscriptFile], cap: int) -> tuple[list[FileOutcome], list[TranscriptFile]]:
    skipped, kept = [], []
    for item in files:
        if len(item.data) > cap:
            reason = (
                f"file of {len(item.data):,} bytes is over the {cap:,}-byte cap; record synced without it"
            )
            log.info("Salesforce file skipped for conversation %s: %s", item.conversation_id, reason)
            skipped.append(FileOutcome(item.conversation_id, SKIPPED, reason, item.record_id))
        else:
            kept.append(item)
    return skipped, kept


# ---- Salesforce Files (ContentVersion) ------------------------------------------------------


def _sync_content_versions(
    client: SalesforceClient, settings: FileSettings, files: list[TranscriptFile]
) -> list[FileOutcome]:
    latest = latest_versions(client, files)
    outcomes: list[FileOutcome] = []
    inserts: list[tuple[TranscriptFile, dict[str, Any]]] = []
    for item in files:
        existing = latest.get(item.record_id)
        if existing and (existing.get("Checksum") or "").lower() == item.checksum:
            outcomes.append(FileOutcome(item.conversation_id, UNCHANGED, record_id=item.record_id))
        else:
            inserts.append((item, _content_version(item, existing, settings)))
    return outcomes + _create_all(client, settings, inserts)


def _content_version(item: TranscriptFile, existing: dict | None, settings: FileSettings) -> dict[str, Any]:
    record = {
        "attributes": {"type": "ContentVersion"},
        "Title": item.title,
        "PathOnClient": item.path_on_client,
        "VersionData": base64.b64encode(item.data).decode("ascii"),
    }
    if existing:
        record["ContentDocumentId"] = existing["ContentDocumentId"]
        record["ReasonForChange"] = settings.reason_for_change
    else:
        record["FirstPublishLocationId"] = item.record_id
    return record


#: The files linked to records, each with its latest version, in one query per IN chunk.
LINKED_FILES_SOQL = (
    "SELECT LinkedEntityId, ContentDocumentId, ContentDocument.LatestPublishedVersionId, "
    "ContentDocument.LatestPublishedVersion.Checksum, ContentDocument.LatestPublishedVersion.PathOnClient, "
    "ContentDocument.LatestPublishedVersion.Title FROM ContentDocumentLink WHERE LinkedEntityId IN {}"
)


def latest_versions(client: SalesforceClient, files: list[TranscriptFile]) -> dict[str, dict[str, Any]]:
    """Record id -> the latest version of *our* file on it (matched by PathOnClient or Title).

    Files are found through the records' ``ContentDocumentLink`` rows, so a file someone else
    uploaded or shared to the record counts too (a ``FirstPublishLocationId`` filter misses it and
    a rerun would add a duplicate); each link brings its document's latest version along.
    """
    ours = {item.record_id: item for item in files if not item.new_record}
    if not ours:
        return {}
    latest: dict[str, dict[str, Any]] = {}
    for link in query_in(client, LINKED_FILES_SOQL, list(ours)):
        record_id = link.get("LinkedEntityId")
        version = _latest_of(link)
        item = ours.get(record_id)
        if item is not None and version and record_id not in latest and _is_our_file(version, item):
            latest[record_id] = version
    return latest


def _latest_of(link: dict[str, Any]) -> dict[str, Any] | None:
    document = link.get("ContentDocument") or {}
    version = document.get("LatestPublishedVersion") or None
    if version is None:
        return None
    return {
        **version,
        "Id": document.get("LatestPublishedVersionId"),
        "ContentDocumentId": link["ContentDocumentId"],
    }


def _is_our_file(version: dict[str, Any], item: TranscriptFile) -> bool:
    return version.get("PathOnClient") == item.path_on_client or version.get("Title") == item.title


# ---- legacy Attachment ----------------------------------------------------------------------


def _sync_attachments(
    client: SalesforceClient, settings: FileSettings, files: list[TranscriptFile]
) -> list[FileOutcome]:
    """Attachments have no checksum in SOQL: same name and same size counts as unchanged."""
    by_record = {item.record_id: item for item in files if not item.new_record}
    existing: dict[str, dict[str, Any]] = {}
    soql = "SELECT Id, ParentId, Name, BodyLength FROM Attachment WHERE ParentId IN {}"
    for attachment in query_in(client, soql, list(by_record)):
        item = by_record.get(attachment.get("ParentId"))
        if item and attachment.get("Name") == item.path_on_client:
            existing[item.record_id] = attachment
    outcomes, creates, updates = [], [], []
    for item in files:
        found = existing.get(item.record_id)
        body = base64.b64encode(item.data).decode("ascii")
        if found is None:
            creates.append(
                (
                    item,
                    {
                        "attributes": {"type": "Attachment"},
                        "ParentId": item.record_id,
                        "Name": item.path_on_client,
                        "Body": body,
                        "ContentType": "text/plain",
                    },
                )
            )
        elif int(found.get("BodyLength") or -1) == len(item.data):
            outcomes.append(FileOutcome(item.conversation_id, UNCHANGED, record_id=item.record_id))
        else:
            updates.append((item, {"attributes": {"type": "Attachment"}, "Id": found["Id"], "Body": body}))
    outcomes += _create_all(client, settings, creates)
    outcomes += _create_all(client, settings, updates, method="PATCH")
    return outcomes


# ---- shared ---------------------------------------------------------------------------------


def _create_all(
    client: SalesforceClient,
    settings: FileSettings,
    items: list[tuple[TranscriptFile, dict[str, Any]]],
    method: str = "POST",
) -> list[FileOutcome]:
    """Every chunk's outcomes, in the chunks' order, with up to ``calls_in_flight`` calls at once."""
    chunks = list(_chunks_by_size(items, settings.batch_size, settings.max_request_bytes))
    if settings.calls_in_flight == 1 or len(chunks) <= 1:
        return [outcome for chunk in chunks for outcome in _collections_write(client, chunk, method)]
    with ThreadPoolExecutor(settings.calls_in_flight, thread_name_prefix="lesync-files") as calls:
        written = calls.map(lambda chunk: _collections_write(client, chunk, method), chunks)
        return [outcome for outcomes in written for outcome in outcomes]


def _chunks_by_size(
    items: list[tuple[TranscriptFile, dict[str, Any]]], max_count: int, max_bytes: int
) -> Iterator[list[tuple[TranscriptFile, dict[str, Any]]]]:
    """Batches of at most ``max_count`` records and ``max_bytes`` of base64 (one file may exceed)."""
    chunk: list[tuple[TranscriptFile, dict[str, Any]]] = []
    size = 0
    for item, record in items:
        if chunk and (len(chunk) == max_count or size + item.base64_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append((item, record))
        size += item.base64_size
    if chunk:
        yield chunk


def _collections_write(
    client: SalesforceClient, chunk: list[tuple[TranscriptFile, dict[str, Any]]], method: str
) -> list[FileOutcome]:
    body = {"allOrNone": False, "records": [record for _, record in chunk]}
    try:
        results = client.rest(method, "composite/sobjects", json=body) or []
    except SalesforceError as exc:
        error = call_error(exc)
        return [
            FileOutcome(item.conversation_id, FAILED, error.message, item.record_id, [error])
            for item, _ in chunk
        ]
    outcomes = []
    for index, (item, _) in enumerate(chunk):
        result = results[index] if index < len(results) else {"success": False, "errors": []}
        if result.get("success"):
            outcomes.append(FileOutcome(item.conversation_id, UPLOADED, record_id=item.record_id))
        else:
            errors = [
                RecordError(
                    str(e.get("statusCode") or e.get("errorCode")),
                    str(e.get("message")),
                    tuple(e.get("fields") or ()),
                )
                for e in result.get("errors") or []
            ] or [RecordError("MISSING_RESULT", "no result returned")]
            outcomes.append(
                FileOutcome(item.conversation_id, FAILED, errors[0].message, item.record_id, errors)
            )
    return outcomes
