"""Files: unchanged by checksum, new versions, size cap, batches by count and bytes."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import replace

from sf_fakes import BASE

from lesync.salesforce import FileSettings, TranscriptFile, sync_files


def item(n: int, data: bytes = b"hello") -> TranscriptFile:
    return TranscriptFile(f"c{n}", f"a0L{n}", f"Transcript c{n}", f"c{n}.txt", data)


def created(request, context):
    return [{"id": f"068{i}", "success": True, "errors": []} for i, _ in enumerate(request.json()["records"])]


def answers(*records_lists):
    return [{"json": {"totalSize": len(r), "done": True, "records": r}} for r in records_lists]


def link(record_id: str, document_id: str, version_id: str, checksum: str, path: str, title: str) -> dict:
    version = {"Checksum": checksum, "PathOnClient": path, "Title": title}
    document = {"LatestPublishedVersionId": version_id, "LatestPublishedVersion": version}
    return {"LinkedEntityId": record_id, "ContentDocumentId": document_id, "ContentDocument": document}


def test_same_checksum_is_unchanged_changed_is_a_new_version_absent_is_inserted(http, client):
    files = [item(1), item(2, b"changed"), item(3)]
    links = [
        link("a0L1", "0691", "0681", hashlib.md5(b"hello").hexdigest(), "c1.txt", "Transcript c1"),
        link("a0L2", "0692", "0682", "old", "c2.txt", "Transcript c2"),
        link("a0L3", "0699", "0689", "x", "agent-notes.pdf", "Notes"),  # someone else's file
    ]
    http.get(f"{BASE}query/", answers(links))
    http.post(f"{BASE}composite/sobjects", json=created)

    outcomes = {o.conversation_id: o.status for o in sync_files(client, FileSettings(), files)}

    assert outcomes == {"c1": "unchanged", "c2": "uploaded", "c3": "uploaded"}
    sent = http.last_request.json()["records"]
    assert sent[0]["ContentDocumentId"] == "0692" and "FirstPublishLocationId" not in sent[0]
    assert sent[1]["FirstPublishLocationId"] == "a0L3" and sent[1]["VersionData"] == "aGVsbG8="
    queries = [r.qs["q"][0].lower() for r in http.request_history if "query" in r.url]
    assert len(queries) == 1
    assert "from contentdocumentlink where linkedentityid in" in queries[0]
    assert "contentdocument.latestpublishedversion.checksum" in queries[0]


def test_no_linked_document_means_one_lookup_and_an_insert(http, client):
    http.get(f"{BASE}query/", answers([]))
    http.post(f"{BASE}composite/sobjects", json=created)
    outcomes = sync_files(client, FileSettings(), [item(1)])
    assert [o.status for o in outcomes] == ["uploaded"]
    assert sum(1 for r in http.request_history if "query" in r.url) == 1


def test_oversized_file_is_skipped_and_batches_split_by_bytes(http, client):
    http.get(f"{BASE}query/", json={"done": True, "records": []})
    http.post(f"{BASE}composite/sobjects", json=created)
    settings = FileSettings(max_file_bytes=1000, max_request_bytes=1500)
    files = [item(n, b"x" * 600) for n in range(4)] + [item(9, b"x" * 1001)]

    outcomes = sync_files(client, settings, files)

    assert sorted(o.status for o in outcomes) == ["skipped"] + ["uploaded"] * 4
    posts = [r for r in http.request_history if r.method == "POST" and "composite" in r.url]
    assert [len(r.json()["records"]) for r in posts] == [1, 1, 1, 1]  # 800 base64 bytes each, 1500 cap


def test_upload_calls_overlap_up_to_calls_in_flight_and_outcomes_keep_their_order():
    """Seven calls of one file each, three at a time: never more than three open, all answered.
    (A client of its own: requests-mock answers one request at a time.)"""

    class SlowClient:
        def __init__(self):
            self.lock, self.open, self.most = threading.Lock(), 0, 0

        def rest(self, method, path, json):
            with self.lock:
                self.open += 1
                self.most = max(self.most, self.open)
            time.sleep(0.05)
            with self.lock:
                self.open -= 1
            return [{"id": "068", "success": True, "errors": []} for _ in json["records"]]

    client = SlowClient()
    files = [replace(item(n), new_record=True) for n in range(7)]  # just created: no lookup

    outcomes = sync_files(client, FileSettings(batch_size=1, calls_in_flight=3), files)

    assert [o.conversation_id for o in outcomes] == [f"c{n}" for n in range(7)]
    assert all(o.status == "uploaded" for o in outcomes)
    assert client.most == 3


def test_one_call_in_flight_sends_them_one_after_another(http, client):
    http.get(f"{BASE}query/", answers([]))
    http.post(f"{BASE}composite/sobjects", json=created)
    outcomes = sync_files(client, FileSettings(batch_size=2, calls_in_flight=1), [item(n) for n in range(5)])
    posts = [r for r in http.request_history if r.method == "POST" and "composite" in r.url]
    assert [len(r.json()["records"]) for r in posts] == [2, 2, 1] and len(outcomes) == 5
