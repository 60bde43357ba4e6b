"""Upsert records by external id: Bulk API 2.0 for many, sObject Collections for few.

Collections calls are filled up to 200 records (and a request-size cap) by ``CollectionsBatcher``,
which the load also uses to gather the rare rows over the Bulk value cap across its batches.

Never one call per record. Every record gets an outcome (created / updated / failed with
Salesforce's ``errorCode``, message and fields), matched on the external id, never on position:
Bulk results do not come back in input order.

Bulk API 2.0 is driven by hand (simple-salesforce's ``bulk2`` splits a load into many jobs, runs
them in parallel, returns only counts, and its result parser splits on line breaks, which breaks
transcripts): one CSV per job written with the ``csv`` module (RFC 4180, LF), spooled to disk,
uploaded once; results downloaded to disk and read with the ``csv`` module.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from simple_salesforce.exceptions import SalesforceError

from lesync.contracts import RecordError
from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.settings import COLLECTION_LIMIT, UpsertSettings

log = logging.getLogger(__name__)

Record = dict[str, Any]
Coerce = Callable[[dict[str, str]], Record]
#: Bytes of an upload or result file kept in memory before it spools to disk: small, because
#: several jobs upload and download at once (8 MB each cost ~30 MB of peak RSS at 50k rows).
SPOOL_IN_MEMORY_BYTES = 1024 * 1024
#: A finished job's result files, read in this order.
RESULT_FILES = ("successfulResults", "failedResults", "unprocessedrecords")
FINAL_JOB_STATES = frozenset({"JobComplete", "Failed", "Aborted"})
#: Shortest wait between job polls after the first (a 0-s setting must not hammer the API).
MIN_POLL_SECONDS = 0.5
#: JSON a record adds to a Collections body besides its fields (``attributes``, comma).
COLLECTION_RECORD_OVERHEAD = 64
#: Bulk API CSV: a value that sets the field to null (an empty value leaves it unchanged).
CSV_NULL = "#N/A"
#: The error of a row a Bulk job never processed because the whole job ended Failed or Aborted.
JOB_FAILED = "BULK_JOB_FAILED"
NUMERIC_TYPES = frozenset({"double", "int", "currency", "percent", "long"})


@dataclass(slots=True)
class RecordOutcome:
    """What Salesforce did with one record (a load keeps one per record: slots, no error list
    for a success, and an interned external id shared with the load's other per-record maps)."""

    external_id: str
    success: bool
    created: bool = False
    record_id: str | None = None
    errors: Sequence[RecordError] = ()

    def __post_init__(self) -> None:
        self.external_id = sys.intern(self.external_id)

    def retryable(self, codes: Iterable[str]) -> bool:
        return not self.success and bool(self.errors) and all(e.code in codes for e in self.errors)


Outcomes = Iterator[tuple[Record, RecordOutcome]]


# ---- sObject Collections -------------------------------------------------------------------


def upsert_collections(
    client: SalesforceClient,
    settings: UpsertSettings,
    records: Iterable[Record],
    batch_size: int = COLLECTION_LIMIT,
) -> Outcomes:
    """``PATCH composite/sobjects/{Object}/{ExternalId}``, ``batch_size`` records a call (fewer
    when they would make the request larger than ``settings.collections_request_bytes``)."""
    batcher = CollectionsBatcher(client, settings, batch_size)
    for record in records:
        yield from batcher.add(record)
    yield from batcher.flush()


class CollectionsBatcher:
    """Gathers records into full sObject Collections calls, however they trickle in.

    Holds at most ``batch_size`` records (and about ``settings.collections_request_bytes`` of
    JSON); a call is made as soon as the next record would not fit, or when the pending records
    reach ``batch_size``. ``add`` and ``flush`` return the outcomes of the calls they made.
    """

    def __init__(
        self, client: SalesforceClient, settings: UpsertSettings, batch_size: int = COLLECTION_LIMIT
    ):
        self.client = client
        self.settings = settings
        self.batch_size = batch_size
        self.max_bytes = settings.collections_request_bytes
        self.pending: list[Record] = []
        self.size = 0
        self.calls = 0

    def __len__(self) -> int:
        return len(self.pending)

    def add(self, record: Record) -> list[tuple[Record, RecordOutcome]]:
        return [outcome for batch in self.ready(record) for outcome in self.send(batch)]

    def flush(self) -> list[tuple[Record, RecordOutcome]]:
        batch = self.drain()
        return self.send(batch) if batch else []

    def ready(self, record: Record) -> list[list[Record]]:
        """Take ``record``; the batches now full, to ``send`` (here or on another thread)."""
        size = json_size(record) + COLLECTION_RECORD_OVERHEAD
        full = []
        if self.pending and self.size + size > self.max_bytes:
            full.append(self.drain())
        self.pending.append(record)
        self.size += size
        if len(self.pending) >= self.batch_size:
            full.append(self.drain())
        return full

    def drain(self) -> list[Record]:
        """The pending records as one batch (empty when none), the batcher empty again."""
        batch, self.pending, self.size = self.pending, [], 0
        return batch

    def send(self, batch: list[Record]) -> list[tuple[Record, RecordOutcome]]:
        """One Collections call (thread-safe: it touches no pending state)."""
        self.calls += 1
        return list(_collections_call(self.client, self.settings, batch))


def json_size(record: Record) -> int:
    """Bytes of the record as requests sends it (``json.dumps``, ASCII-escaped)."""
    return len(json.dumps(record, default=str))


def _collections_call(client: SalesforceClient, settings: UpsertSettings, batch: list[Record]) -> Outcomes:
    key = settings.external_id_field
    body = {
        "allOrNone": False,
        "records": [{"attributes": {"type": settings.object_name}, **record} for record in batch],
    }
    path = f"composite/sobjects/{settings.object_name}/{key}"
    try:
        results = client.rest("PATCH", path, json=body) or []
    except SalesforceError as exc:
        error = call_error(exc)
        log.warning(
            "Salesforce: Collections upsert of %d records failed whole: %s", len(batch), error.message
        )
        for record in batch:
            yield record, RecordOutcome(str(record[key]), False, errors=[error])
        return
    for index, record in enumerate(batch):
        result = results[index] if index < len(results) else None
        yield record, _collections_outcome(str(record[key]), result)


def _collections_outcome(external_id: str, result: dict[str, Any] | None) -> RecordOutcome:
    if result is None:
        return RecordOutcome(external_id, False, errors=[RecordError("MISSING_RESULT", "no result returned")])
    if result.get("success"):
        return RecordOutcome(external_id, True, bool(result.get("created")), result.get("id"))
    errors = [
        RecordError(
            str(e.get("statusCode") or e.get("errorCode") or "UNKNOWN"),
            str(e.get("message", "")),
            tuple(e.get("fields") or ()),
        )
        for e in result.get("errors") or []
    ]
    return RecordOutcome(external_id, False, record_id=result.get("id"), errors=errors)


def call_error(exc: SalesforceError) -> RecordError:
    """A whole call's failure as a record error; 5xx become the retryable ``HTTP_5XX``."""
    status = getattr(exc, "status", 0) or 0
    content = getattr(exc, "content", None)
    first = content[0] if isinstance(content, list) and content and isinstance(content[0], dict) else {}
    if status >= 500:
        return RecordError("HTTP_5XX", f"HTTP {status}: {first.get('message') or str(content)[:300]}")
    code = first.get("errorCode") or f"HTTP_{status}"
    return RecordError(code, str(first.get("message") or content)[:1000], tuple(first.get("fields") or ()))


# ---- Bulk API 2.0 ---------------------------------------------------------------------------


def csv_value(value: Any) -> str:
    """A value as Bulk API CSV text: ``None`` (clear the field) is ``#N/A``; ``""`` leaves it alone."""
    if value is None:
        return CSV_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BulkUpload:
    """One job's CSV: fixed header, rows appended, spooled to disk beyond a few MB."""

    def __init__(self, header: list[str], external_id_field: str):
        self.header = header
        self.key = external_id_field
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES, mode="w+b")
        self.size = 0
        self.external_ids: set[str] = set()
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._write([*header])

    def __len__(self) -> int:
        return len(self.external_ids)

    def add(self, record: Record) -> None:
        """A column the record lacks is sent empty (unchanged); a ``None`` value clears the field."""
        values = [record.get(name, "") for name in self.header]
        self._write([value if type(value) is str else csv_value(value) for value in values])
        self.external_ids.add(str(record[self.key]))

    def fits(self, record: Record, max_bytes: int) -> bool:
        """Would the record still fit under ``max_bytes`` (roughly; values counted as UTF-8)?"""
        estimate = sum(len(csv_value(v).encode("utf-8")) + 3 for v in record.values()) + len(self.header)
        return not self.external_ids or self.size + estimate <= max_bytes

    def _write(self, values: list[str]) -> None:
        self._writer.writerow(values)
        data = self._buffer.getvalue().encode("utf-8")
        self._buffer.seek(0)
        self._buffer.truncate()
        self.file.write(data)
        self.size += len(data)

    def records(self, wanted: set[str]) -> Iterator[dict[str, str]]:
        """Read back the uploaded rows whose external id is in ``wanted`` (for retries)."""
        self.file.seek(0)
        for row in _csv_rows(self.file):
            if row.get(self.key) in wanted:
                yield row

    def close(self) -> None:
        self.file.close()


def bulk_job_outcomes(
    client: SalesforceClient, settings: UpsertSettings, upload: BulkUpload, coerce: Coerce
) -> list[tuple[Record, RecordOutcome]]:
    """``run_bulk_job`` to the end, as a list: the unit of work of a job run on its own thread
    (a successful row's record is only its external id, so a 10,000-row job's list is small)."""
    return list(run_bulk_job(client, settings, upload, coerce))


def run_bulk_job(
    client: SalesforceClient, settings: UpsertSettings, upload: BulkUpload, coerce: Coerce
) -> Outcomes:
    """Create, upload, close and poll one upsert job; outcomes for every uploaded row.

    Failed rows come back with their uploaded columns (as ``coerce``-d records) so they can be
    retried; rows absent from every result file (job failed or aborted) are ``UNPROCESSED``.
    """
    job_id = _create_job(client, settings)
    upload.file.seek(0)
    client.raw("PUT", f"jobs/ingest/{job_id}/batches", data=upload.file, headers={"Content-Type": "text/csv"})
    client.rest("PATCH", f"jobs/ingest/{job_id}", json={"state": "UploadComplete"})
    job = _wait_for_job(client, settings, job_id)
    _log_job(job_id, job)
    seen: set[str] = set()
    undone = _missing_rows_error(job_id, job)
    yield from _job_results(client, settings, job_id, seen, coerce, undone)
    missing = upload.external_ids - seen
    if missing:
        error = undone
        for row in upload.records(missing):
            yield coerce(row), RecordOutcome(row[settings.external_id_field], False, errors=[error])


def _log_job(job_id: str, job: dict[str, Any]) -> None:
    state = job.get("state")
    counts = (job.get("numberRecordsProcessed"), job.get("numberRecordsFailed"))
    if state == "JobComplete":
        log.info("Salesforce: Bulk job %s JobComplete: %s processed, %s failed", job_id, *counts)
    else:
        log.warning(
            "Salesforce: Bulk job %s ended %s (%s processed, %s failed): %s",
            job_id,
            state,
            *counts,
            job.get("errorMessage") or "Salesforce gave no errorMessage",
        )


def _missing_rows_error(job_id: str, job: dict[str, Any]) -> RecordError:
    """Rows left undone: the job failed whole (``BULK_JOB_FAILED``, with Salesforce's reason), or
    a completed job left them out (``UNPROCESSED``, retried like a transient error)."""
    if job.get("state") in ("Failed", "Aborted"):
        reason = job.get("errorMessage") or "no errorMessage"
        return RecordError(JOB_FAILED, f"Bulk job {job_id} {job.get('state')}: {reason}")
    return RecordError("UNPROCESSED", f"Bulk job {job_id}: record not processed")


def csv_coercer(field_types: dict[str, str]) -> Coerce:
    """CSV text back to JSON types (Bulk rows resent through Collections); ``#N/A`` is null."""

    def coerce(row: dict[str, str]) -> Record:
        return {name: _json_value(field_types.get(name), value) for name, value in row.items()}

    return coerce


def _json_value(kind: str | None, value: str) -> Any:
    if value == CSV_NULL:
        return None
    if kind == "boolean":
        return value.lower() == "true"
    if kind in NUMERIC_TYPES:
        number = float(value)
        return int(number) if kind in ("int", "long") else number
    return value


def _create_job(client: SalesforceClient, settings: UpsertSettings) -> str:
    job = client.rest(
        "POST",
        "jobs/ingest",
        json={
            "object": settings.object_name,
            "operation": "upsert",
            "externalIdFieldName": settings.external_id_field,
            "contentType": "CSV",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        },
    )
    return job["id"]


def poll_waits(settings: UpsertSettings) -> Iterator[float]:
    """Waits before each job poll: ``bulk_poll_seconds``, then ``bulk_poll_growth`` times the
    last (at least ``MIN_POLL_SECONDS``), capped at ``bulk_poll_max_seconds``.

    The defaults give 0.5, 0.75, 1.1, 1.7, 2.5, 3.8, then 5 s each (polls at 0.5, 1.25, 2.4, 4.1,
    6.6, 10.4, 15.4, 20.4 ... s): a short job is seen soon after it ends, a long one within 5 s
    (growth alone would see a job done at 25 s only at 37 s), for one call per 5 s per job.
    """
    delay = settings.bulk_poll_seconds
    while True:
        yield delay
        delay = min(max(delay * settings.bulk_poll_growth, MIN_POLL_SECONDS), settings.bulk_poll_max_seconds)


def _wait_for_job(client: SalesforceClient, settings: UpsertSettings, job_id: str) -> dict[str, Any]:
    """Poll on the ``poll_waits`` schedule until the job is final or the timeout passes."""
    deadline = time.monotonic() + settings.bulk_timeout_seconds
    for delay in poll_waits(settings):
        client.sleep(delay)
        job = client.rest("GET", f"jobs/ingest/{job_id}")
        if job.get("state") in FINAL_JOB_STATES:
            return job
        if time.monotonic() > deadline:
            state, limit = job.get("state"), settings.bulk_timeout_seconds
            raise TimeoutError(f"Bulk job {job_id} still {state} after {limit} s")
    raise AssertionError("unreachable")


def _job_results(
    client: SalesforceClient,
    settings: UpsertSettings,
    job_id: str,
    seen: set[str],
    coerce: Coerce,
    undone: RecordError,
) -> Outcomes:
    """Outcomes from the three result files; unprocessed rows carry ``undone`` (the job's reason).
    The three are downloaded at once (each call's round trip overlaps the others'), then read."""
    key = settings.external_id_field
    with ThreadPoolExecutor(len(RESULT_FILES), thread_name_prefix="lesync-results") as downloads:
        spools = [
            downloads.submit(_download, client, f"jobs/ingest/{job_id}/{kind}/") for kind in RESULT_FILES
        ]
    successful, failed, unprocessed = (spool.result() for spool in spools)
    with successful, failed, unprocessed:
        for row in _csv_rows(successful):
            external_id = row.get(key, "")
            seen.add(external_id)
            created = row.get("sf__Created", "").lower() == "true"
            yield {key: external_id}, RecordOutcome(external_id, True, created, row.get("sf__Id") or None)
        for row in _csv_rows(failed):
            external_id = row.get(key, "")
            seen.add(external_id)
            error = parse_bulk_error(row.get("sf__Error", ""))
            yield coerce(_uploaded_columns(row)), RecordOutcome(external_id, False, errors=[error])
        for row in _csv_rows(unprocessed):
            external_id = row.get(key, "")
            seen.add(external_id)
            yield coerce(_uploaded_columns(row)), RecordOutcome(external_id, False, errors=[undone])


def _uploaded_columns(row: dict[str, str]) -> dict[str, str]:
    """The row as uploaded: result columns minus Salesforce's ``sf__`` ones, empty ones dropped."""
    return {name: value for name, value in row.items() if not name.startswith("sf__") and value != ""}


def _download(client: SalesforceClient, path: str) -> IO[bytes]:
    """A result CSV, downloaded to a spool file (flat memory: in memory up to 1 MB, then on disk)."""
    response = client.raw("GET", path, stream=True, headers={"Accept": "text/csv"})
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES, mode="w+b")
    try:
        for chunk in response.iter_content(chunk_size=1024 * 1024):
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    finally:
        response.close()
    spool.seek(0)
    return spool


def _csv_rows(binary: IO[bytes]) -> Iterator[dict[str, str]]:
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        yield from csv.DictReader(text)
    finally:
        text.detach()


_BULK_ERROR = re.compile(
    r"^(?P<code>[A-Z][A-Z0-9_]*):(?P<message>.*?)(?::(?P<fields>[\w,. ]*) --)?\s*$", re.S
)


def parse_bulk_error(text: str) -> RecordError:
    """``CODE:message:Field1,Field2 --`` (Bulk's ``sf__Error``) as code, message and fields."""
    match = _BULK_ERROR.match(text.strip())
    if not match:
        return RecordError("UNKNOWN", text.strip())
    fields = tuple(f.strip() for f in (match.group("fields") or "").split(",") if f.strip())
    message = match.group("message").strip().removesuffix("--").strip().rstrip(":").strip()
    return RecordError(match.group("code"), message, fields)


# ---- retries --------------------------------------------------------------------------------


def retry_rejected(client: SalesforceClient, settings: UpsertSettings, rejected: list[Record]) -> Outcomes:
    """Once more, after a short wait, in smaller sObject Collections batches."""
    if not rejected:
        return
    log.info(
        "Salesforce: retrying %d rejected records in batches of %d after %.1f s",
        len(rejected),
        settings.retry_batch_size,
        settings.retry_delay_seconds,
    )
    client.sleep(settings.retry_delay_seconds)
    yield from upsert_collections(client, settings, rejected, batch_size=settings.retry_batch_size)
