"""Bulk API 1.0 (JSON) for the Salesforce emulator, so baseline (b) can run for real.

Airflow's ``SalesforceBulkOperator`` drives simple-salesforce's ``SFBulkHandler``, which speaks
Bulk API 1.0 (``/services/async/{version}/...``); the lesync emulator implements Bulk API 2.0
only. This module adds the subset ``SFBulkHandler`` uses for DML, JSON content type only:

    POST /services/async/{v}/job                        create job       -> JobInfo
    GET  /services/async/{v}/job/{jobId}                job info         -> JobInfo
    POST /services/async/{v}/job/{jobId}                {"state": "Closed" | "Aborted"}
    POST /services/async/{v}/job/{jobId}/batch          JSON array of records -> BatchInfo
    GET  /services/async/{v}/job/{jobId}/batch/{id}     BatchInfo (Queued, InProgress, Completed, Failed)
    GET  /services/async/{v}/job/{jobId}/batch/{id}/result   results, in input order

As documented for Bulk API 1.0: the session travels in ``X-SFDC-Session``; an invalid one is
HTTP 400 ``InvalidSessionId``; a batch holds at most 10,000 records and 10,000,000 characters;
batches are processed asynchronously (the first status after adding one is ``Queued``); results
come back in the batch's input order as ``{"success", "created", "id", "errors": [{"statusCode",
"message", "fields"}]}``; field values share the Bulk cap (32,000 characters here, the emulator's
``bulk_field_cap``). Every call spends one API request of the org's daily limit and is counted by
the emulator's call counter (its middleware counts every route of the app).

    app = create_app(state); mount_bulk1(app, state)
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from lesync.emulators.latency import latency_control

MAX_BATCH_RECORDS = 10_000
MAX_BATCH_CHARS = 10_000_000
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class AsyncApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message


@dataclass
class Batch:
    id: str
    job_id: str
    records: list[dict[str, Any]]
    state: str = "Queued"
    state_message: str | None = None
    created: str = field(default_factory=_now)
    processed: int = 0
    failed: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    millis: int = 0

    def info(self) -> dict[str, Any]:
        info = {
            "apexProcessingTime": 0,
            "apiActiveProcessingTime": self.millis,
            "createdDate": self.created,
            "id": self.id,
            "jobId": self.job_id,
            "numberRecordsFailed": self.failed,
            "numberRecordsProcessed": self.processed,
            "state": self.state,
            "systemModstamp": _now(),
            "totalProcessingTime": self.millis,
        }
        if self.state_message:
            info["stateMessage"] = self.state_message
        return info


@dataclass
class Job:
    id: str
    object: str
    operation: str
    external_id_field: str | None
    concurrency: str
    api_version: str
    state: str = "Open"
    created: str = field(default_factory=_now)
    batches: dict[str, Batch] = field(default_factory=dict)
    queued: bool = False  # has waited the latency profile's queue delay

    def info(self) -> dict[str, Any]:
        batches = list(self.batches.values())

        def count(state: str) -> int:
            return sum(1 for b in batches if b.state == state)

        info = {
            "apexProcessingTime": 0,
            "apiActiveProcessingTime": sum(b.millis for b in batches),
            "apiVersion": float(self.api_version),
            "concurrencyMode": self.concurrency,
            "contentType": "JSON",
            "createdById": "005EM0000000001AAA",
            "createdDate": self.created,
            "id": self.id,
            "numberBatchesCompleted": count("Completed"),
            "numberBatchesFailed": count("Failed"),
            "numberBatchesInProgress": count("InProgress"),
            "numberBatchesQueued": count("Queued"),
            "numberBatchesTotal": len(batches),
            "numberRecordsFailed": sum(b.failed for b in batches),
            "numberRecordsProcessed": sum(b.processed for b in batches),
            "numberRetries": 0,
            "object": self.object,
            "operation": self.operation,
            "state": self.state,
            "systemModstamp": _now(),
            "totalProcessingTime": sum(b.millis for b in batches),
        }
        if self.external_id_field:
            info["externalIdFieldName"] = self.external_id_field
        return info


class Bulk1Jobs:
    """Jobs and batches in memory; one worker thread processes queued batches in order."""

    def __init__(self, state: Any):
        self.state = state
        self.jobs: dict[str, Job] = {}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._queue: queue.Queue[Batch] = queue.Queue()
        threading.Thread(target=self._worker, daemon=True, name="bulk1-worker").start()

    def create(self, body: Any, version: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise AsyncApiError(400, "InvalidJob", "The request body must be a JSON object")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise AsyncApiError(400, "InvalidJob", f"Invalid operation: {operation}")
        fields = self.state.store.fields(str(body.get("object") or ""))
        if fields is None:
            raise AsyncApiError(400, "InvalidJob", f"Unable to find object: {body.get('object')}")
        if (body.get("contentType") or "XML") != "JSON":
            raise AsyncApiError(400, "InvalidJob", "This emulator add-on speaks contentType JSON only")
        external = None
        if operation == "upsert":
            name = body.get("externalIdFieldName")
            canonical = fields.canonical(name) if name else None
            definition = fields.field(canonical) if canonical else None
            if canonical != "Id" and (definition is None or not definition.external_id):
                raise AsyncApiError(400, "InvalidJob", f"Field {name} is not an external id field")
            external = canonical
        mode = body.get("concurrencyMode")
        concurrency = "Serial" if mode in ("Serial", 1, "1") else "Parallel"
        job = Job(
            f"750A1{next(self._serial):010d}AAA", fields.name, operation, external, concurrency, version
        )
        with self._lock:
            self.jobs[job.id] = job
        return job.info()

    def job(self, job_id: str) -> Job:
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise AsyncApiError(400, "InvalidJob", f"Invalid job id: {job_id}")
        return job

    def set_state(self, job_id: str, body: Any) -> dict[str, Any]:
        job = self.job(job_id)
        wanted = body.get("state") if isinstance(body, dict) else None
        if wanted not in ("Closed", "Aborted"):
            raise AsyncApiError(400, "InvalidJobState", f"Invalid state: {wanted}")
        if job.state != "Open":
            raise AsyncApiError(400, "InvalidJobState", f"Job {job_id} is already {job.state}")
        job.state = wanted
        return job.info()

    def add_batch(self, job_id: str, raw: bytes) -> dict[str, Any]:
        job = self.job(job_id)
        if job.state != "Open":
            raise AsyncApiError(400, "InvalidJobState", f"Job {job_id} is not open (state {job.state})")
        batch_id = f"751A1{next(self._serial):010d}AAA"
        text = raw.decode("utf-8")
        try:
            records = json.loads(text)
        except ValueError as exc:
            raise AsyncApiError(400, "InvalidBatch", f"Failed to parse JSON: {exc}") from None
        batch = Batch(batch_id, job_id, records if isinstance(records, list) else [])
        if not isinstance(records, list):
            batch.state, batch.state_message = "Failed", "InvalidBatch : the batch must be a JSON array"
        elif len(records) > MAX_BATCH_RECORDS:
            batch.state = "Failed"
            batch.state_message = f"InvalidBatch : Records in a single batch exceeds {MAX_BATCH_RECORDS}"
        elif len(text) > MAX_BATCH_CHARS:
            batch.state = "Failed"
            batch.state_message = f"InvalidBatch : Batch exceeds {MAX_BATCH_CHARS} characters"
        job.batches[batch_id] = batch
        if batch.state == "Queued":
            self._queue.put(batch)
        return batch.info()

    def batch(self, job_id: str, batch_id: str) -> Batch:
        batch = self.job(job_id).batches.get(batch_id)
        if batch is None:
            raise AsyncApiError(400, "InvalidBatch", f"Invalid batch id: {batch_id}")
        return batch

    def result(self, job_id: str, batch_id: str) -> list[dict[str, Any]]:
        batch = self.batch(job_id, batch_id)
        if batch.state not in ("Completed", "Failed"):
            raise AsyncApiError(400, "InvalidBatch", f"Batch {batch_id} not completed")
        return batch.results

    # -- processing ----------------------------------------------------------------------------

    def _worker(self) -> None:
        while True:
            batch = self._queue.get()
            job = self.job(batch.job_id)
            if job.state == "Aborted":
                batch.state, batch.state_message = "NotProcessed", "Job aborted"
                continue
            latency = latency_control(self.state)
            if not job.queued:  # the latency profile: a job waits in Salesforce's queue once
                job.queued = True
                time.sleep(latency.bulk_queue_s())
            batch.state = "InProgress"
            started = time.monotonic()
            processing_since = latency.clock()
            try:
                with self.state.store.transaction():
                    for record in batch.records:
                        batch.results.append(self._write(job, record))
                batch.processed = len(batch.results)
                batch.failed = sum(1 for r in batch.results if not r["success"])
                # ... then its rows take rows / rate (the same rate as a Bulk API 2.0 job)
                time.sleep(latency.bulk_remaining_s(batch.processed, processing_since))
                batch.state = "Completed"
            except Exception as exc:  # noqa: BLE001 - an emulator bug must still end the batch
                batch.state, batch.state_message = "Failed", f"UNKNOWN_EXCEPTION : {exc}"
            batch.millis = int((time.monotonic() - started) * 1000)
            batch.records = []  # the request is not kept (keeps the emulator's memory flat)

    def _write(self, job: Job, record: Any) -> dict[str, Any]:
        store, cap = self.state.store, self.state.config.bulk_field_cap
        if not isinstance(record, dict):
            return _failure(None, "INVALID_FIELD", "A record must be a JSON object")
        values = {k: v for k, v in record.items() if k != "attributes"}
        try:
            if job.operation == "insert":
                result = store.create(job.object, values, text_cap=cap)
            elif job.operation == "upsert":
                key = next((k for k in values if k.lower() == job.external_id_field.lower()), None)
                external_value = values.pop(key, None) if key else None
                result = store.upsert(job.object, job.external_id_field, external_value, values, text_cap=cap)
            else:
                record_id = str(values.pop("Id", values.pop("id", "")))
                if job.operation == "update":
                    result = store.update(job.object, record_id, values, text_cap=cap)
                else:
                    result = store.delete(job.object, record_id)
        except Exception as exc:  # noqa: BLE001 - one bad record must not sink the batch
            return _failure(None, "UNKNOWN_EXCEPTION", str(exc))
        if result.errors:
            first = result.errors[0]
            return _failure(result.id, first["errorCode"], first["message"], first.get("fields"))
        return {"success": True, "created": bool(result.created), "id": result.id, "errors": []}


def _failure(record_id: str | None, code: str, message: str, fields: list | None = None) -> dict[str, Any]:
    return {
        "success": False,
        "created": False,
        "id": record_id,
        "errors": [{"statusCode": code, "message": message, "fields": list(fields or [])}],
    }


def mount_bulk1(app: FastAPI, state: Any) -> Bulk1Jobs:
    """Add the Bulk API 1.0 routes to the emulator app (before it starts serving)."""
    jobs = Bulk1Jobs(state)
    router = APIRouter(prefix="/services/async/{version}")

    def guard(request: Request) -> None:
        token = request.headers.get("x-sfdc-session")
        if not state.tokens.is_valid(token):
            raise AsyncApiError(400, "InvalidSessionId", "Invalid session id")
        accepted, used, maximum = state.limits.take()
        if not accepted:
            raise AsyncApiError(400, "ExceedQuota", f"TotalRequests Limit exceeded ({used}/{maximum})")

    def answer(call) -> JSONResponse:
        try:
            status, body = call()
        except AsyncApiError as exc:
            return JSONResponse({"exceptionCode": exc.code, "exceptionMessage": exc.message}, exc.status)
        return JSONResponse(body, status)

    @router.post("/job")
    async def create_job(version: str, request: Request) -> JSONResponse:
        raw = await request.body()
        return answer(lambda: (guard(request), (201, jobs.create(_json(raw), version)))[1])

    @router.get("/job/{job_id}")
    def get_job(version: str, job_id: str, request: Request) -> JSONResponse:
        return answer(lambda: (guard(request), (200, jobs.job(job_id).info()))[1])

    @router.post("/job/{job_id}")
    async def close_job(version: str, job_id: str, request: Request) -> JSONResponse:
        raw = await request.body()
        return answer(lambda: (guard(request), (200, jobs.set_state(job_id, _json(raw))))[1])

    @router.post("/job/{job_id}/batch")
    async def add_batch(version: str, job_id: str, request: Request) -> JSONResponse:
        raw = await request.body()
        return answer(lambda: (guard(request), (201, jobs.add_batch(job_id, raw)))[1])

    @router.get("/job/{job_id}/batch/{batch_id}")
    def get_batch(version: str, job_id: str, batch_id: str, request: Request) -> JSONResponse:
        return answer(lambda: (guard(request), (200, jobs.batch(job_id, batch_id).info()))[1])

    @router.get("/job/{job_id}/batch/{batch_id}/result")
    def batch_result(version: str, job_id: str, batch_id: str, request: Request) -> JSONResponse:
        return answer(lambda: (guard(request), (200, jobs.result(job_id, batch_id)))[1])

    app.include_router(router)
    return jobs


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError as exc:
        raise AsyncApiError(400, "InvalidJob", f"Failed to parse JSON: {exc}") from None
