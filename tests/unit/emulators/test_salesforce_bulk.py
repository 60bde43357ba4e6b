"""Bulk API 2.0 ingest through simple-salesforce, results parsed with the csv module."""

from __future__ import annotations

import csv
import io
import time

import pytest
from simple_salesforce.exceptions import SalesforceOperationError

CT = "Chat_Transcript__c"
EXT = "LP_Conversation_Id__c"


def upsert(sf_client, rows):
    return sf_client.bulk2.Chat_Transcript__c.upsert(records=rows, external_id_field=EXT, wait=0.05)


def results(sf_api, job_id, kind) -> list[dict[str, str]]:
    response = sf_api("GET", f"/jobs/ingest/{job_id}/{kind}/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text, newline="")))


def stored(sf_emulator, conversation_id):
    return next(r for r in sf_emulator.state.store.records(CT) if r[EXT] == conversation_id)


def test_upsert_reports_created_rows_and_keeps_newlines(sf_client, sf_api, sf_emulator):
    transcript = 'Visitor: hi, "there"\nAgent: hello\r\nVisitor: bye'
    rows = [{EXT: f"bulk-{i}", "Transcript__c": transcript, "Agent_Name__c": f"A{i}"} for i in range(20)]
    outcome = upsert(sf_client, rows)
    assert outcome[0]["numberRecordsProcessed"] == 20 and outcome[0]["numberRecordsFailed"] == 0
    succeeded = results(sf_api, outcome[0]["job_id"], "successfulResults")
    assert len(succeeded) == 20
    assert {r["sf__Created"] for r in succeeded} == {"true"}
    assert all(r["Transcript__c"] == transcript for r in succeeded)
    assert [r[EXT] for r in succeeded] != [f"bulk-{i}" for i in range(20)], (
        "result rows are not in input order"
    )
    assert stored(sf_emulator, "bulk-3")["Transcript__c"] == transcript
    assert stored(sf_emulator, "bulk-3")["Name"].startswith("CT-")


def test_second_upsert_updates_empty_keeps_and_na_clears(sf_client, sf_api, sf_emulator):
    upsert(sf_client, [{EXT: "bulk-keep", "Agent_Name__c": "Ann", "City__c": "Oslo", "Country__c": "NO"}])
    outcome = upsert(
        sf_client, [{EXT: "bulk-keep", "Agent_Name__c": "", "City__c": "#N/A", "Country__c": "SE"}]
    )
    succeeded = results(sf_api, outcome[0]["job_id"], "successfulResults")
    assert succeeded[0]["sf__Created"] == "false"
    row = stored(sf_emulator, "bulk-keep")
    assert (row["Agent_Name__c"], row["City__c"], row["Country__c"]) == ("Ann", None, "SE")


def test_value_over_the_bulk_cap_fails_that_row(sf_client, sf_api):
    rows = [{EXT: "bulk-long", "Transcript__c": "x" * 32_001}, {EXT: "bulk-short", "Transcript__c": "ok"}]
    outcome = upsert(sf_client, rows)
    assert outcome[0]["numberRecordsFailed"] == 1
    failed = results(sf_api, outcome[0]["job_id"], "failedResults")
    assert failed[0][EXT] == "bulk-long" and failed[0]["sf__Id"] == ""
    error = failed[0]["sf__Error"]
    assert error.startswith("STRING_TOO_LONG:Transcript: data value too large:")
    assert "(max length=32000)" in error and ":Transcript__c" in error
    assert len(failed[0]["Transcript__c"]) == 32_001
    # the same value is fine through REST, whose limit is the field's own 131,072
    assert sf_client.Chat_Transcript__c.upsert(f"{EXT}/bulk-long", {"Transcript__c": "x" * 32_001}) == 201


def test_validation_errors_per_row(sf_client, sf_api):
    rows = [
        {EXT: "bulk-v1", "Status__c": "Nope", "Duration_Seconds__c": ""},
        {EXT: "bulk-v2", "Status__c": "", "Duration_Seconds__c": "abc"},
        {EXT: "", "Status__c": "Open", "Duration_Seconds__c": "1"},
    ]
    outcome = upsert(sf_client, rows)
    failed = {
        r[EXT]: r["sf__Error"].split(":")[0] for r in results(sf_api, outcome[0]["job_id"], "failedResults")
    }
    assert failed == {
        "bulk-v1": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "bulk-v2": "INVALID_TYPE_ON_FIELD_IN_RECORD",
        "": "MISSING_ARGUMENT",
    }


def test_unable_to_lock_row_in_bulk(sf_client, sf_api, sf_emulator):
    sf_emulator.state.lock_rows({"bulk-locked": 1})
    outcome = upsert(sf_client, [{EXT: "bulk-locked", "City__c": "X"}, {EXT: "bulk-free", "City__c": "Y"}])
    failed = results(sf_api, outcome[0]["job_id"], "failedResults")
    assert [r[EXT] for r in failed] == ["bulk-locked"]
    assert failed[0]["sf__Error"].startswith(
        "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record"
    )


def test_injected_job_failure(sf_client, sf_api, sf_emulator, sf_session):
    sf_emulator.state.fail_next_bulk_job()
    with pytest.raises(SalesforceOperationError, match="Job failure"):
        upsert(sf_client, [{EXT: "bulk-doomed"}])
    sf_session.post(f"{sf_emulator.url}/_emulator/salesforce/faults", json={"bulk_job_fails": True})
    with pytest.raises(SalesforceOperationError):
        upsert(sf_client, [{EXT: "bulk-doomed-2"}])
    failed_jobs = [j for j in sf_api("GET", "/jobs/ingest").json()["records"] if j["state"] == "Failed"]
    assert len(failed_jobs) == 2 and failed_jobs[0]["errorMessage"]
    unprocessed = results(sf_api, failed_jobs[0]["id"], "unprocessedrecords")
    assert unprocessed == [{EXT: "bulk-doomed"}]
    assert not any(r[EXT].startswith("bulk-doomed") for r in sf_emulator.state.store.records(CT))
    assert upsert(sf_client, [{EXT: "bulk-after"}])[0]["numberRecordsFailed"] == 0


def test_job_lifecycle_over_raw_http(sf_api):
    job = sf_api(
        "POST",
        "/jobs/ingest",
        json={
            "object": CT,
            "operation": "upsert",
            "externalIdFieldName": EXT,
            "contentType": "CSV",
            "lineEnding": "LF",
        },
    ).json()
    assert job["state"] == "Open"
    data = f'{EXT},Transcript__c\nraw-1,"a\nb"\nraw-2,c\n'.encode()
    put = sf_api("PUT", f"/jobs/ingest/{job['id']}/batches", data=data, headers={"Content-Type": "text/csv"})
    assert put.status_code == 201
    again = sf_api(
        "PUT", f"/jobs/ingest/{job['id']}/batches", data=data, headers={"Content-Type": "text/csv"}
    )
    assert again.status_code == 400
    closed = sf_api("PATCH", f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).json()
    assert closed["state"] == "UploadComplete"
    time.sleep(0.5)
    states = [sf_api("GET", f"/jobs/ingest/{job['id']}").json()["state"] for _ in range(2)]
    assert states == ["InProgress", "JobComplete"], "the first poll after closing still shows InProgress"
    info = sf_api("GET", f"/jobs/ingest/{job['id']}").json()
    assert info["numberRecordsProcessed"] == 2 and info["numberRecordsFailed"] == 0
    assert sf_api("DELETE", f"/jobs/ingest/{job['id']}").status_code == 204
    assert sf_api("GET", f"/jobs/ingest/{job['id']}").status_code == 404


def test_unknown_column_fails_the_job(sf_client, sf_api):
    job = sf_api("POST", "/jobs/ingest", json={"object": CT, "operation": "insert"}).json()
    sf_api(
        "PUT", f"/jobs/ingest/{job['id']}/batches", data=b"Nope__c\nx\n", headers={"Content-Type": "text/csv"}
    )
    sf_api("PATCH", f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    for _ in range(50):
        info = sf_api("GET", f"/jobs/ingest/{job['id']}").json()
        if info["state"] in ("JobComplete", "Failed"):
            break
        time.sleep(0.05)
    assert info["state"] == "Failed" and "Nope__c" in info["errorMessage"]


def test_bad_job_requests(sf_api):
    not_external = sf_api(
        "POST", "/jobs/ingest", json={"object": CT, "operation": "upsert", "externalIdFieldName": "City__c"}
    )
    assert not_external.status_code == 400
    unknown = sf_api("POST", "/jobs/ingest", json={"object": "Nope__c", "operation": "insert"})
    assert unknown.status_code == 400


def test_upload_over_150_mb_is_refused(sf_api, sf_emulator):
    config = sf_emulator.state.config
    saved, config.max_bulk_upload_bytes = config.max_bulk_upload_bytes, 1000
    try:
        job = sf_api("POST", "/jobs/ingest", json={"object": CT, "operation": "insert"}).json()
        response = sf_api(
            "PUT", f"/jobs/ingest/{job['id']}/batches", data=b"x" * 1001, headers={"Content-Type": "text/csv"}
        )
        assert response.status_code == 413
    finally:
        config.max_bulk_upload_bytes = saved


def test_a_bulk_upsert_costs_a_handful_of_calls(sf_client, sf_emulator):
    sf_emulator.state.calls.reset()
    upsert(sf_client, [{EXT: f"bulk-cheap-{i}", "City__c": "X"} for i in range(1000)])
    calls = sf_emulator.state.calls.snapshot()
    assert calls["POST /services/data/v{version}/jobs/ingest"] == 1
    assert calls["PUT /services/data/v{version}/jobs/ingest/{job_id}/batches"] == 1
    assert sum(calls.values()) <= 10


def test_insert_update_and_delete_operations(sf_client, sf_emulator):
    bulk = sf_client.bulk2.Chat_Transcript__c
    assert bulk.insert(records=[{EXT: "bulk-ins"}], wait=0.05)[0]["numberRecordsFailed"] == 0
    record_id = stored(sf_emulator, "bulk-ins")["Id"]
    assert (
        bulk.update(records=[{"Id": record_id, "City__c": "Rome"}], wait=0.05)[0]["numberRecordsFailed"] == 0
    )
    assert stored(sf_emulator, "bulk-ins")["City__c"] == "Rome"
    assert bulk.delete(records=[{"Id": record_id}], wait=0.05)[0]["numberRecordsFailed"] == 0
    assert not any(r[EXT] == "bulk-ins" for r in sf_emulator.state.store.records(CT))


def test_results_before_completion_are_refused(sf_api):
    job = sf_api("POST", "/jobs/ingest", json={"object": CT, "operation": "insert"}).json()
    response = sf_api("GET", f"/jobs/ingest/{job['id']}/successfulResults/")
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_uploads_and_results_live_on_disk_not_in_memory(sf_api, sf_emulator):
    """The upload is streamed to a file and dropped once processed; results are streamed back with
    their exact length, and deleting the job deletes its files."""
    job = sf_api(
        "POST", "/jobs/ingest", json={"object": CT, "operation": "upsert", "externalIdFieldName": EXT}
    ).json()
    rows = "".join(f'disk-{n},"line ""{n}""\nnext"\n' for n in range(250))
    put = sf_api("PUT", f"/jobs/ingest/{job['id']}/batches", data=f"{EXT},Transcript__c\n{rows}".encode())
    assert put.status_code == 201
    state_job = sf_emulator.state.bulk.get(job["id"])
    assert state_job.upload.is_file()
    sf_api("PATCH", f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    deadline = time.monotonic() + 20
    while sf_api("GET", f"/jobs/ingest/{job['id']}").json()["state"] != "JobComplete":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert not state_job.upload.exists()
    response = sf_api("GET", f"/jobs/ingest/{job['id']}/successfulResults/")
    assert int(response.headers["content-length"]) == len(response.content)
    got = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert sorted(r[EXT] for r in got) == sorted(f"disk-{n}" for n in range(250))
    assert [r[EXT] for r in got] != [f"disk-{n}" for n in range(250)], "results come back shuffled"
    assert all(r["Transcript__c"] == f'line "{r[EXT][5:]}"\nnext' for r in got)
    result_file, _ = state_job.results["successfulResults"].snapshot()
    assert result_file.is_file()
    assert sf_api("DELETE", f"/jobs/ingest/{job['id']}").status_code == 204
    assert not result_file.exists()


def test_bulk_cap_counts_utf16_units_like_lesync(sf_client, sf_api):
    """16,001 emoji are 16,001 code points but 32,002 UTF-16 units: over the 32,000 cap."""
    rows = [
        {EXT: "bulk-emoji", "Transcript__c": "\U0001f600" * 16_001},
        {EXT: "bulk-e-ok", "Transcript__c": "ok"},
    ]
    outcome = upsert(sf_client, rows)
    failed = results(sf_api, outcome[0]["job_id"], "failedResults")
    assert [r[EXT] for r in failed] == ["bulk-emoji"]
    assert failed[0]["sf__Error"].startswith("STRING_TOO_LONG:")
