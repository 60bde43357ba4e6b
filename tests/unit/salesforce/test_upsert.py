"""Upsert mechanics with recorded-style answers: Collections batching, Bulk CSV in and out."""

from __future__ import annotations

import csv
import io
import json

from sf_fakes import BASE

from lesync.salesforce import BulkUpload, UpsertSettings, run_bulk_job, upsert_collections
from lesync.salesforce.upsert import CollectionsBatcher, parse_bulk_error, poll_waits

SETTINGS = UpsertSettings(bulk_poll_seconds=0)
UPSERT_URL = f"{BASE}composite/sobjects/Chat_Transcript__c/LP_Conversation_Id__c"


def records(count: int) -> list[dict]:
    return [{"LP_Conversation_Id__c": f"c{i}", "Agent_Name__c": f"agent {i}"} for i in range(count)]


def echo_results(request, context):
    sent = request.json()["records"]
    return [
        {"id": f"a0L{i:015d}", "success": True, "created": True, "errors": []}
        if r["Agent_Name__c"] != "agent 3"
        else {
            "success": False,
            "errors": [{"statusCode": "STRING_TOO_LONG", "message": "too long", "fields": ["X"]}],
        }
        for i, r in enumerate(sent)
    ]


def test_collections_send_200_a_call_and_read_every_element(http, client):
    http.patch(UPSERT_URL, json=echo_results)
    outcomes = list(upsert_collections(client, SETTINGS, records(450)))
    calls = [r for r in http.request_history if r.method == "PATCH"]
    assert [len(r.json()["records"]) for r in calls] == [200, 200, 50]
    assert all(r.json()["allOrNone"] is False for r in calls)
    assert calls[0].json()["records"][0]["attributes"] == {"type": "Chat_Transcript__c"}
    failed = [o for _, o in outcomes if not o.success]
    assert [(o.external_id, o.errors[0].code, o.errors[0].fields) for o in failed] == [
        ("c3", "STRING_TOO_LONG", ("X",))
    ]
    assert len(outcomes) == 450


def test_collections_call_failure_marks_its_records_failed_and_retryable(http, client):
    http.patch(UPSERT_URL, status_code=500, json=[{"errorCode": "UNKNOWN", "message": "boom"}])
    outcomes = [o for _, o in upsert_collections(client, SETTINGS, records(3))]
    assert {o.errors[0].code for o in outcomes} == {"HTTP_5XX"}
    assert all(o.retryable(SETTINGS.retryable_codes) for o in outcomes)


def test_bulk_csv_is_rfc4180_with_shared_header_and_results_matched_by_external_id(http, client):
    header = ["LP_Conversation_Id__c", "Agent_Name__c", "Transcript__c"]
    upload = BulkUpload(header, "LP_Conversation_Id__c")
    upload.add({"LP_Conversation_Id__c": "c1", "Transcript__c": 'a, "b"\nline 2'})
    upload.add({"LP_Conversation_Id__c": "c2", "Agent_Name__c": "Zoë"})
    jobs = f"{BASE}jobs/ingest"
    http.post(jobs, json={"id": "750J", "state": "Open"})
    http.put(f"{jobs}/750J/batches", status_code=201)
    http.patch(f"{jobs}/750J", json={"state": "UploadComplete"})
    http.get(f"{jobs}/750J", [{"json": {"state": "InProgress"}}, {"json": {"state": "JobComplete"}}])
    success = 'sf__Id,sf__Created,LP_Conversation_Id__c,Agent_Name__c,Transcript__c\n"a0L2",false,c2,Zoë,\n'
    failed = (
        "sf__Id,sf__Error,LP_Conversation_Id__c,Agent_Name__c,Transcript__c\n"
        ',"STRING_TOO_LONG:too long:Transcript__c --",c1,,"a, ""b""\nline 2"\n'
    )
    http.get(f"{jobs}/750J/successfulResults/", text=success)
    http.get(f"{jobs}/750J/failedResults/", text=failed)
    http.get(f"{jobs}/750J/unprocessedrecords/", text="LP_Conversation_Id__c\n")

    outcomes = {o.external_id: (r, o) for r, o in run_bulk_job(client, SETTINGS, upload, dict)}

    uploaded = http.request_history[2]
    assert uploaded.headers["Content-Type"] == "text/csv"
    body = uploaded.body.read() if hasattr(uploaded.body, "read") else uploaded.body
    text = body.decode("utf-8")
    assert text == 'LP_Conversation_Id__c,Agent_Name__c,Transcript__c\nc1,,"a, ""b""\nline 2"\nc2,Zoë,\n'
    assert list(csv.reader(io.StringIO(text)))[1] == ["c1", "", 'a, "b"\nline 2']
    job = json.loads(http.request_history[1].text)
    assert (job["operation"], job["externalIdFieldName"], job["lineEnding"]) == (
        "upsert",
        "LP_Conversation_Id__c",
        "LF",
    )
    assert (
        outcomes["c2"][1].success and not outcomes["c2"][1].created and outcomes["c2"][1].record_id == "a0L2"
    )
    record, failure = outcomes["c1"]
    assert failure.errors[0].code == "STRING_TOO_LONG" and failure.errors[0].fields == ("Transcript__c",)
    assert record["Transcript__c"] == 'a, "b"\nline 2'  # kept whole for a retry
    upload.close()


def test_rows_of_a_failed_job_carry_its_error_message(http, client):
    upload = BulkUpload(["LP_Conversation_Id__c"], "LP_Conversation_Id__c")
    upload.add({"LP_Conversation_Id__c": "c9"})
    jobs = f"{BASE}jobs/ingest"
    http.post(jobs, json={"id": "750F"})
    http.put(f"{jobs}/750F/batches", status_code=201)
    http.patch(f"{jobs}/750F", json={})
    http.get(f"{jobs}/750F", json={"state": "Failed", "errorMessage": "InvalidBatch"})
    for kind in ("successfulResults", "failedResults", "unprocessedrecords"):
        http.get(f"{jobs}/750F/{kind}/", text="")
    ((record, outcome),) = list(run_bulk_job(client, SETTINGS, upload, dict))
    assert record == {"LP_Conversation_Id__c": "c9"}
    assert outcome.errors[0].code == "BULK_JOB_FAILED" and "InvalidBatch" in outcome.errors[0].message


def test_bulk_error_text_is_split_into_code_message_fields():
    error = parse_bulk_error("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --")
    assert (error.code, error.message, error.fields) == (
        "REQUIRED_FIELD_MISSING",
        "Required fields are missing: [Name]",
        ("Name",),
    )
    assert (
        parse_bulk_error("UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record").code
        == "UNABLE_TO_LOCK_ROW"
    )


def test_bulk_job_is_polled_at_half_a_second_growing_by_half(http, client, sleeps):
    upload = BulkUpload(["LP_Conversation_Id__c"], "LP_Conversation_Id__c")
    upload.add({"LP_Conversation_Id__c": "c1"})
    jobs = f"{BASE}jobs/ingest"
    http.post(jobs, json={"id": "750P"})
    http.put(f"{jobs}/750P/batches", status_code=201)
    http.patch(f"{jobs}/750P", json={})
    http.get(f"{jobs}/750P", [{"json": {"state": "InProgress"}}] * 4 + [{"json": {"state": "JobComplete"}}])
    for kind in ("successfulResults", "failedResults", "unprocessedrecords"):
        http.get(f"{jobs}/750P/{kind}/", text="LP_Conversation_Id__c\n")

    list(run_bulk_job(client, UpsertSettings(), upload, dict))

    assert sleeps == [0.5, 0.75, 1.125, 1.6875, 2.53125]
    upload.close()


def test_poll_waits_are_configurable_floored_and_capped():
    waits = poll_waits(UpsertSettings(bulk_poll_seconds=0, bulk_poll_growth=2, bulk_poll_max_seconds=3))
    assert [next(waits) for _ in range(6)] == [0, 0.5, 1, 2, 3, 3]


def test_collections_calls_respect_the_request_size(http, client):
    http.patch(UPSERT_URL, json=echo_results)
    settings = UpsertSettings(collections_request_bytes=3_000_000)
    long_records = [{**r, "Transcript__c": "x" * 1_000_000} for r in records(12)]
    outcomes = list(upsert_collections(client, settings, long_records))
    assert [len(r.json()["records"]) for r in http.request_history if r.method == "PATCH"] == [2] * 6
    assert len(outcomes) == 12


def test_batcher_gathers_records_added_a_few_at_a_time_into_full_calls(http, client):
    http.patch(UPSERT_URL, json=echo_results)
    batcher = CollectionsBatcher(client, SETTINGS)
    sent, outcomes = records(450), []
    for start in range(0, 450, 7):  # 7 records per "batch" of the load
        for record in sent[start : start + 7]:
            outcomes += batcher.add(record)
        assert len(batcher) < 200
    outcomes += batcher.flush()
    assert [len(r.json()["records"]) for r in http.request_history if r.method == "PATCH"] == [200, 200, 50]
    assert [o.external_id for _, o in outcomes] == [f"c{i}" for i in range(450)]
    assert batcher.flush() == [] and batcher.calls == 3
