"""Bulk API 2.0 ingest: jobs, one CSV upload each, processing in the background, CSV results.

Rows are written in chunks of ``bulk_chunk_size`` (one transaction each, like Salesforce's
internal 10,000-record chunks). Result rows come back shuffled (deterministically per job):
Salesforce does not keep input order, so clients must match rows by id or external id.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import SalesforceApiError, bulk_error_text, error, not_found
from .schema import _relationship_name
from .validation import now_text

if TYPE_CHECKING:
    from .state import SalesforceState

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
TERMINAL = ("JobComplete", "Failed", "Aborted")
NULL_MARKER = "#N/A"
INJECTED_FAILURE = "UNKNOWN_EXCEPTION : An unexpected error occurred. (injected by the emulator)"


class JobFailedError(Exception):
    """The whole job fails (bad header, injected fault): state Failed with this message."""


@dataclass
class IngestJob:
    id: str
    object: str
    operation: str
    external_id_field: str | None
    line_ending: str
    column_delimiter: str
    api_version: str
    created_date: str = field(default_factory=now_text)
    state: str = "Open"
    upload: bytes | None = None
    processed: int = 0
    failed: int = 0
    error_message: str | None = None
    fail_injected: str | None = None
    polled_since_close: bool = False
    started: float = 0.0
    finished: float = 0.0
    header: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)

    def info(self, reported_state: str | None = None) -> dict[str, Any]:
        state = reported_state or self.state
        info = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": "005EM0000000001AAA",
            "createdDate": self.created_date,
            "systemModstamp": now_text(),
            "state": state,
            "externalIdFieldName": self.external_id_field,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Ingest",
            "contentUrl": f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": self.processed if state == self.state else 0,
            "numberRecordsFailed": self.failed if state == self.state else 0,
            "retries": 0,
            "totalProcessingTime": int((self.finished - self.started) * 1000) if self.finished else 0,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        }
        if self.error_message and state == self.state:
            info["errorMessage"] = self.error_message
        return info


class BulkJobs:
    """The org's ingest jobs (kept in memory; the records they write land in the store)."""

    def __init__(self, state: SalesforceState):
        self.state = state
        self.jobs: dict[str, IngestJob] = {}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._fail_next: str | None = None
        self.jobs_created = 0

    def fail_next(self, message: str | None = None) -> None:
        with self._lock:
            self._fail_next = message or INJECTED_FAILURE

    # -- API --------------------------------------------------------------------------------

    def create(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise _invalid_job(f"Invalid operation: {operation}")
        fields = self.state.store.fields(str(body.get("object") or ""))
        if fields is None:
            raise _invalid_job(f"Unable to find object: {body.get('object')}")
        external = self._external_id_field(fields, operation, body.get("externalIdFieldName"))
        if (body.get("contentType") or "CSV") != "CSV":
            raise _invalid_job(f"Invalid content type: {body.get('contentType')}")
        delimiter = body.get("columnDelimiter") or "COMMA"
        line_ending = body.get("lineEnding") or "LF"
        if delimiter not in DELIMITERS or line_ending not in ("LF", "CRLF"):
            raise _invalid_job("Invalid columnDelimiter or lineEnding")
        job_id = f"750EM{next(self._serial):010d}AAA"
        job = IngestJob(job_id, fields.name, operation, external, line_ending, delimiter, version)
        with self._lock:
            self.jobs[job_id] = job
            self.jobs_created += 1
        return job.info()

    def _external_id_field(self, fields: Any, operation: str, name: str | None) -> str | None:
        if operation != "upsert":
            return None
        if not name:
            raise _invalid_job("External ID was blank for the upsert operation")
        canonical = fields.canonical(name)
        definition = fields.field(canonical) if canonical else None
        if canonical != "Id" and (definition is None or not definition.external_id):
            raise _invalid_job(f"The field {name} on {fields.name} is not an external id field")
        return canonical

    def get(self, job_id: str) -> IngestJob:
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    def poll(self, job_id: str) -> dict[str, Any]:
        """Job info; the first poll after closing shows the job still in progress (clients must poll)."""
        job = self.get(job_id)
        first_poll = job.state != "Open" and not job.polled_since_close
        if job.state != "Open":
            job.polled_since_close = True
        if first_poll and job.state in ("JobComplete", "Failed"):
            return job.info("InProgress")
        return job.info()

    def list(self) -> dict[str, Any]:
        with self._lock:
            jobs = list(self.jobs.values())
        return {"done": True, "records": [j.info() for j in jobs], "nextRecordsUrl": None}

    def upload(self, job_id: str, data: bytes) -> None:
        job = self.get(job_id)
        if job.state != "Open":
            raise _invalid_state(f"Job {job_id} is not open for data upload (state {job.state})")
        if job.upload is not None:
            raise _invalid_state("You can upload data only once per job; create another job")
        if not data:
            raise SalesforceApiError.of(400, "INVALIDJOBSTATE", "No content in the request body")
        job.upload = data

    def set_state(self, job_id: str, new_state: str | None) -> dict[str, Any]:
        job = self.get(job_id)
        if new_state == "Aborted":
            if job.state in TERMINAL:
                raise _invalid_state(f"Job {job_id} is already {job.state}")
            job.state = "Aborted"
            return job.info()
        if new_state != "UploadComplete":
            raise _invalid_state(f"Invalid state: {new_state}")
        if job.state != "Open":
            raise _invalid_state(f"Job {job_id} is not Open (state {job.state})")
        with self._lock:
            job.fail_injected, self._fail_next = self._fail_next, None
        job.state = "UploadComplete"
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"bulk-{job_id}").start()
        return job.info()

    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.state in ("Open", "InProgress"):
            raise _invalid_state(f"Job {job_id} cannot be deleted in state {job.state}")
        with self._lock:
            del self.jobs[job_id]

    def results(self, job_id: str, kind: str) -> str:
        job = self.get(job_id)
        if job.state not in ("JobComplete", "Failed", "Aborted"):
            raise _invalid_state(f"Job {job_id} is not complete (state {job.state})")
        heads = {
            "successfulResults": ["sf__Id", "sf__Created"],
            "failedResults": ["sf__Id", "sf__Error"],
            "unprocessedrecords": [],
        }
        rows = {"successfulResults": job.successes, "failedResults": job.failures}.get(kind, job.unprocessed)
        return _to_csv([*heads[kind], *job.header], rows, job)

    # -- processing -------------------------------------------------------------------------

    def _run(self, job: IngestJob) -> None:
        time.sleep(self.state.config.bulk_start_delay_s)
        if job.state == "Aborted":
            return
        job.state = "InProgress"
        job.started = time.time()
        try:
            header, rows = self._parse(job)
            job.header = header
            if job.fail_injected:
                job.unprocessed = rows
                raise JobFailedError(job.fail_injected)
            self._check_header(job, header)
            self._process(job, header, rows)
            if job.state == "InProgress":
                job.state = "JobComplete"
        except JobFailedError as failure:
            job.error_message = str(failure)
            job.state = "Failed"
        except Exception as exc:  # noqa: BLE001 - an emulator bug must still end the job
            job.error_message = f"UNKNOWN_EXCEPTION : {exc}"
            job.state = "Failed"
        job.finished = time.time()

    def _parse(self, job: IngestJob) -> tuple[list[str], list[list[str]]]:
        text = (job.upload or b"").decode("utf-8-sig", errors="replace")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.column_delimiter])
        rows = [row for row in reader if row]
        if not rows:
            raise JobFailedError("InvalidBatch : No data in the uploaded file")
        return rows[0], rows[1:]

    def _check_header(self, job: IngestJob, header: list[str]) -> None:
        fields = self.state.store.fields(job.object)
        for name in header:
            if not (fields.canonical(name) or self._relationship_column(fields, name)):
                raise JobFailedError(f"InvalidBatch : Field name not found : {name}")
        canonical = [fields.canonical(n) for n in header]
        if job.operation in ("update", "delete", "hardDelete") and "Id" not in canonical:
            raise JobFailedError("InvalidBatch : Field name not found : Id")
        if job.operation == "upsert" and job.external_id_field not in canonical:
            raise JobFailedError(f"InvalidBatch : Field name not found : {job.external_id_field}")

    def _relationship_column(self, fields: Any, column: str) -> tuple[str, str] | None:
        """``Account__r.External_Id__c`` -> (``Account__c``, ``External_Id__c``)."""
        relationship, _, target_field = column.partition(".")
        if not target_field:
            return None
        for name, definition in fields.definition.fields.items():
            if definition.type == "reference" and _relationship_name(name).lower() == relationship.lower():
                return name, target_field
        return None

    def _process(self, job: IngestJob, header: list[str], rows: list[list[str]]) -> None:
        store = self.state.store
        chunk_size = max(1, self.state.config.bulk_chunk_size)
        for start in range(0, len(rows), chunk_size):
            if job.state == "Aborted":
                job.unprocessed.extend(rows[start:])
                return
            with store.transaction():
                for row in rows[start : start + chunk_size]:
                    self._process_row(job, header, row)

    def _process_row(self, job: IngestJob, header: list[str], row: list[str]) -> None:
        if len(row) != len(header):
            self._fail_row(job, row, error("INVALID_FIELD", "Wrong number of columns in the row"), "")
            return
        try:
            values, problem = self._row_values(job, header, row)
            result = problem or self._write(job, values)
        except Exception as exc:  # noqa: BLE001 - one bad row must not sink the job
            self._fail_row(job, row, error("UNKNOWN_EXCEPTION", str(exc)), "")
            return
        job.processed += 1
        if result.success:
            job.successes.append([result.id, "true" if result.created else "false", *row])
        else:
            self._fail_row(job, row, result.errors[0], result.id or "", counted=True)

    def _fail_row(
        self, job: IngestJob, row: list[str], err: dict, record_id: str, counted: bool = False
    ) -> None:
        if not counted:
            job.processed += 1
        job.failed += 1
        job.failures.append([record_id, bulk_error_text(err), *row])

    def _row_values(self, job: IngestJob, header: list[str], row: list[str]) -> tuple[dict[str, Any], Any]:
        """Column values for the store: empty leaves a field alone, ``#N/A`` clears it."""
        from .store import WriteResult

        fields = self.state.store.fields(job.object)
        values: dict[str, Any] = {}
        for column, raw in zip(header, row, strict=True):
            if raw == "" and column != job.external_id_field:
                continue
            value = None if raw == NULL_MARKER else raw
            relationship = None if fields.canonical(column) else self._relationship_column(fields, column)
            if relationship is None:
                values[column] = value
                continue
            reference, target_field = relationship
            resolved = self._resolve(fields, reference, target_field, value)
            if isinstance(resolved, dict):
                return values, WriteResult(errors=[resolved])
            values[reference] = resolved
        return values, None

    def _resolve(self, fields: Any, reference: str, target_field: str, value: str | None) -> Any:
        if value is None:
            return None
        store = self.state.store
        for target in fields.field(reference).reference_to:
            target_fields = store.fields(target)
            canonical = target_fields.canonical(target_field)
            if canonical:
                matches = store.find_ids(target, canonical, value)
                if len(matches) == 1:
                    return matches[0]
        return error(
            "INVALID_FIELD",
            f"Foreign key external ID: {value} not found for field {target_field} in entity "
            f"{'/'.join(fields.field(reference).reference_to)}",
            [reference],
        )

    def _write(self, job: IngestJob, values: dict[str, Any]) -> Any:
        store, cap = self.state.store, self.state.config.bulk_field_cap
        if job.operation == "insert":
            return store.create(job.object, values, text_cap=cap)
        record_id = _pop_id(values)
        if job.operation == "update":
            return store.update(job.object, record_id, values, text_cap=cap)
        if job.operation in ("delete", "hardDelete"):
            return store.delete(job.object, record_id)
        key = next((k for k in values if k.lower() == job.external_id_field.lower()), job.external_id_field)
        return store.upsert(job.object, job.external_id_field, values.pop(key, None), values, text_cap=cap)


def _pop_id(values: dict[str, Any]) -> str:
    for key in list(values):
        if key.lower() == "id":
            return values.pop(key) or ""
    return ""


def _to_csv(header: list[str], rows: list[list[str]], job: IngestJob) -> str:
    ordered = list(rows)
    random.Random(job.id).shuffle(ordered)
    buffer = io.StringIO()
    terminator = "\r\n" if job.line_ending == "CRLF" else "\n"
    writer = csv.writer(buffer, lineterminator=terminator, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(ordered)
    return buffer.getvalue()


def _invalid_job(message: str) -> SalesforceApiError:
    return SalesforceApiError.of(400, "INVALIDJOB", message)


def _invalid_state(message: str) -> SalesforceApiError:
    return SalesforceApiError.of(400, "INVALIDJOBSTATE", message)
