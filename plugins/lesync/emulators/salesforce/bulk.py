"""Bulk API 2.0 ingest: jobs, one CSV upload each, processing in the background, CSV results.

Rows are written in chunks of ``bulk_chunk_size`` (one transaction each, like Salesforce's
internal 10,000-record chunks). Result rows come back shuffled (deterministically per job):
Salesforce does not keep input order, so clients must match rows by id or external id.

Uploads (up to 150 MB each) and results live in files under the data directory, not in memory:
the upload is streamed to disk, parsed a chunk at a time, and each result row is written out as
CSV when it is known; a results call streams the rows back in the job's shuffled order.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import shutil
import tempfile
import threading
import time
import weakref
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..latency import latency_control
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


RESULT_HEADS = {
    "successfulResults": ["sf__Id", "sf__Created"],
    "failedResults": ["sf__Id", "sf__Error"],
    "unprocessedrecords": [],
}
STREAM_BLOCK = 1 << 20


class JobFailedError(Exception):
    """The whole job fails (bad header, injected fault): state Failed with this message."""


class _Line:
    """A file-like sink that keeps what ``csv.writer`` writes for one row."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> bytes:
        data = "".join(self.parts).encode("utf-8")
        self.parts.clear()
        return data


class CsvRowWriter:
    """Rows as Bulk API result CSV (every value quoted, the job's line ending), one at a time."""

    def __init__(self, line_ending: str):
        self._line = _Line()
        terminator = "\r\n" if line_ending == "CRLF" else "\n"
        self._writer = csv.writer(self._line, lineterminator=terminator, quoting=csv.QUOTE_ALL)

    def encode(self, row: Iterable[str]) -> bytes:
        self._writer.writerow(row)
        return self._line.take()


class ResultFile:
    """One kind of result rows of a job, CSV-encoded in a file, with the offset of every row."""

    def __init__(self, directory: Path, line_ending: str):
        self._directory = directory
        self._encoder = CsvRowWriter(line_ending)
        self._offsets = array("q", [0])
        self._path: Path | None = None
        self._file: Any = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def append(self, row: list[str]) -> None:
        data = self._encoder.encode(row)
        with self._lock:
            if self._file is None:
                handle, name = tempfile.mkstemp(suffix=".csv", dir=self._directory)
                self._path, self._file = Path(name), os.fdopen(handle, "wb")
            self._file.write(data)
            self._offsets.append(self._offsets[-1] + len(data))

    def extend(self, rows: Iterable[list[str]]) -> None:
        for row in rows:
            self.append(row)

    def snapshot(self) -> tuple[Path | None, array]:
        """The file and row offsets as of now (rows appended later are not included)."""
        with self._lock:
            if self._file is not None:
                self._file.flush()
            return self._path, array("q", self._offsets)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def remove(self) -> None:
        self.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


def _shuffled_rows(path: Path | None, offsets: array, order: list[int]) -> Iterator[bytes]:
    """The rows at ``order`` (indexes into ``offsets``), in blocks of about STREAM_BLOCK bytes."""
    if not order:
        return
    with open(path, "rb") as file:
        fd = file.fileno()
        block: list[bytes] = []
        size = 0
        for index in order:
            start = offsets[index]
            row = os.pread(fd, offsets[index + 1] - start, start)
            block.append(row)
            size += len(row)
            if size >= STREAM_BLOCK:
                yield b"".join(block)
                block, size = [], 0
        if block:
            yield b"".join(block)


@dataclass
class ResultStream:
    """A results CSV ready to send: its length, then its bytes in blocks."""

    length: int
    blocks: Iterator[bytes]

    def read(self) -> bytes:
        return b"".join(self.blocks)


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
    upload: Path | None = None  # the uploaded CSV on disk (removed once processed)
    processed: int = 0
    failed: int = 0
    error_message: str | None = None
    fail_injected: str | None = None
    polled_since_close: bool = False
    started: float = 0.0
    finished: float = 0.0
    header: list[str] = field(default_factory=list)
    results: dict[str, ResultFile] = field(default_factory=dict)  # by kind, once processing starts

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
        self.files_dir = Path(tempfile.mkdtemp(prefix="bulk-", dir=state.data_dir))
        weakref.finalize(self, shutil.rmtree, self.files_dir, ignore_errors=True)

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

    def new_upload_file(self) -> Path:
        """A fresh file to stream a request body into; hand it to ``upload`` (or delete it)."""
        handle, name = tempfile.mkstemp(suffix=".upload.csv", dir=self.files_dir)
        os.close(handle)
        return Path(name)

    def upload(self, job_id: str, data: bytes | Path) -> None:
        """Take a job's CSV: bytes, or a file from ``new_upload_file`` (which then belongs to the
        job, or is deleted when the upload is refused)."""
        path = data if isinstance(data, Path) else None
        try:
            job = self.get(job_id)
            if job.state != "Open":
                raise _invalid_state(f"Job {job_id} is not open for data upload (state {job.state})")
            if job.upload is not None:
                raise _invalid_state("You can upload data only once per job; create another job")
            if not (path.stat().st_size if path is not None else data):
                raise SalesforceApiError.of(400, "INVALIDJOBSTATE", "No content in the request body")
            if path is None:
                path = self.new_upload_file()
                path.write_bytes(data)
            job.upload = path
        except BaseException:
            if path is not None and isinstance(data, Path):
                path.unlink(missing_ok=True)
            raise

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
        _remove_files(job)

    def results(self, job_id: str, kind: str) -> str:
        """The results CSV as text (see ``result_stream`` for the bytes without building them)."""
        return self.result_stream(job_id, kind).read().decode("utf-8")

    def result_stream(self, job_id: str, kind: str) -> ResultStream:
        """A results CSV: header, then the rows shuffled by ``random.Random(job id)``."""
        job = self.get(job_id)
        if job.state not in ("JobComplete", "Failed", "Aborted"):
            raise _invalid_state(f"Job {job_id} is not complete (state {job.state})")
        if kind not in RESULT_HEADS:
            kind = "unprocessedrecords"
        head = CsvRowWriter(job.line_ending).encode([*RESULT_HEADS[kind], *job.header])
        result = job.results.get(kind)
        path, offsets = result.snapshot() if result is not None else (None, array("q", [0]))
        order = list(range(len(offsets) - 1))
        random.Random(job.id).shuffle(order)
        blocks = itertools.chain([head], _shuffled_rows(path, offsets, order))
        return ResultStream(len(head) + offsets[-1], blocks)

    # -- processing -------------------------------------------------------------------------

    def _run(self, job: IngestJob) -> None:
        time.sleep(self.state.config.bulk_start_delay_s)
        latency = latency_control(self.state)  # the latency profile: queue, then rows per second
        time.sleep(latency.bulk_queue_s())
        if job.state == "Aborted":
            if job.upload is not None:
                job.upload.unlink(missing_ok=True)
            return
        job.state = "InProgress"
        job.started = time.time()
        processing_since = latency.clock()
        job.results = {kind: ResultFile(self.files_dir, job.line_ending) for kind in RESULT_HEADS}
        try:
            header = self._parse(job)
            job.header = header
            if job.fail_injected:
                job.results["unprocessedrecords"].extend(self._data_rows(job))
                raise JobFailedError(job.fail_injected)
            self._check_header(job, header)
            self._process(job, header, self._data_rows(job))
            time.sleep(latency.bulk_remaining_s(job.processed, processing_since))
            if job.state == "InProgress":
                job.state = "JobComplete"
        except JobFailedError as failure:
            job.error_message = str(failure)
            job.state = "Failed"
        except Exception as exc:  # noqa: BLE001 - an emulator bug must still end the job
            job.error_message = f"UNKNOWN_EXCEPTION : {exc}"
            job.state = "Failed"
        finally:
            for result in job.results.values():
                result.close()
            if job.upload is not None:
                job.upload.unlink(missing_ok=True)  # job.upload stays set: one upload per job
        job.finished = time.time()

    def _parse(self, job: IngestJob) -> list[str]:
        """The header; reads the whole upload once first, so a malformed CSV fails the job before
        any row is written (as when it was parsed in one go)."""
        rows = self._rows(job)
        try:
            header = next(rows, None)
            for _ in rows:
                pass
        finally:
            rows.close()
        if header is None:
            raise JobFailedError("InvalidBatch : No data in the uploaded file")
        return header

    def _rows(self, job: IngestJob) -> Iterator[list[str]]:
        """The upload's non-empty rows, header first, read from disk as they are needed."""
        if job.upload is None:
            return
        with open(job.upload, encoding="utf-8-sig", errors="replace", newline="") as file:
            for row in csv.reader(file, delimiter=DELIMITERS[job.column_delimiter]):
                if row:
                    yield row

    def _data_rows(self, job: IngestJob) -> Iterator[list[str]]:
        rows = self._rows(job)
        next(rows, None)
        return rows

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

    def _process(self, job: IngestJob, header: list[str], rows: Iterator[list[str]]) -> None:
        store = self.state.store
        chunk_size = max(1, self.state.config.bulk_chunk_size)
        try:
            while chunk := list(itertools.islice(rows, chunk_size)):
                if job.state == "Aborted":
                    job.results["unprocessedrecords"].extend(itertools.chain(chunk, rows))
                    return
                with store.transaction():
                    for row in chunk:
                        self._process_row(job, header, row)
        finally:
            rows.close()

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
            job.results["successfulResults"].append([result.id, "true" if result.created else "false", *row])
        else:
            self._fail_row(job, row, result.errors[0], result.id or "", counted=True)

    def _fail_row(
        self, job: IngestJob, row: list[str], err: dict, record_id: str, counted: bool = False
    ) -> None:
        if not counted:
            job.processed += 1
        job.failed += 1
        job.results["failedResults"].append([record_id, bulk_error_text(err), *row])

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


def _remove_files(job: IngestJob) -> None:
    for result in job.results.values():
        result.remove()
    if job.upload is not None:
        job.upload.unlink(missing_ok=True)


def _invalid_job(message: str) -> SalesforceApiError:
    return SalesforceApiError.of(400, "INVALIDJOB", message)


def _invalid_state(message: str) -> SalesforceApiError:
    return SalesforceApiError.of(400, "INVALIDJOBSTATE", message)
