"""The load stage: staged Chat Transcript rows -> Salesforce, with an outcome for every row.

Plain Python, callable without Airflow. Reads the transform's staged rows (gzip JSON lines) in
three streaming passes so memory stays flat whatever the window:

1. scan: count rows, find each conversation's last row, collect the CSV header (all Bulk rows
   share one header), estimate the API calls and refuse before starting if the budget is short;
2. upsert: per batch, link visitors to Contacts/Leads, then upsert by external id (one Bulk API
   2.0 job for a large load, sObject Collections for a small one and for values over the Bulk cap,
   gathered across batches into full calls of up to 200 records); rejected rows whose error is
   transient are retried once in small Collections batches;
3. files: per batch, upload new or changed transcript files to the records (records this load
   created have no file yet: only the others are looked up).

Batched lookups (linking, existing files) send ``WHERE x IN (...)`` queries in the URL, split so
that no URL goes over Salesforce's limit (``lesync.salesforce.soql``); the estimate counts them.

Rows the transform rejected are not sent; they are reported as failed with the transform's
errors. Every failure goes to ``<out_dir>/load/failed-<n>.jsonl.gz`` and a summary to the log.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from lesync.contracts import SchemaMismatchError
from lesync.pipeline.staging import JsonlGzWriter, as_path, read_jsonl_gz
from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.describe import DescribeCache
from lesync.salesforce.files import FAILED, SKIPPED, UNCHANGED, UPLOADED, TranscriptFile, sync_files
from lesync.salesforce.linking import Blocked, blocked_sets, link_values, plan_links
from lesync.salesforce.settings import (
    COLLECTION_LIMIT,
    FileSettings,
    LinkingSettings,
    TranscriptMode,
    UpsertSettings,
)
from lesync.salesforce.soql import estimated_queries, value_cost
from lesync.salesforce.upsert import (
    COLLECTION_RECORD_OVERHEAD,
    BulkUpload,
    CollectionsBatcher,
    RecordError,
    RecordOutcome,
    json_size,
    retry_rejected,
    run_bulk_job,
)

log = logging.getLogger(__name__)

Row = dict[str, Any]
Record = dict[str, Any]
BULK_JOB_CALLS = 11  # create, upload, close, ~5 polls (0.5, 1.25, 2.4, 4.1, 6.6 s), 3 result files
#: IN-list bytes of one Salesforce record id (18 characters, quoted, percent-encoded, comma).
RECORD_ID_COST = value_cost("a0L000000000000AAA")
NUMERIC_TYPES = frozenset({"double", "int", "currency", "percent", "long"})
MAX_LOGGED_FAILURES = 500


class LoadOptions(BaseModel):
    """How one integration loads: where transcripts go, linking, files, batching."""

    transcript_mode: TranscriptMode = Field(TranscriptMode.FIELD, description="field, attachment or both.")
    upsert: UpsertSettings = Field(default_factory=UpsertSettings)
    files: FileSettings = Field(default_factory=FileSettings)
    linking: LinkingSettings = Field(default_factory=LinkingSettings)
    batch_rows: int = Field(
        2_000, ge=1, description="Rows linked and file-synced together (one set of queries per batch)."
    )
    read_limits: bool = Field(True, description="Read /limits once at the start (primes the budget).")


@dataclass
class _Scan:
    """What the first pass learns."""

    last_row: dict[str, int] = field(default_factory=dict)  # conversation -> index of its last row
    header: set[str] = field(default_factory=set)
    rows: int = 0
    rejected: int = 0
    bulk_rows: int = 0
    bulk_bytes: int = 0
    collection_rows: int = 0
    collection_bytes: int = 0
    files: int = 0
    #: Encoded IN-list bytes of the linking lookups: external ids, emails, phones (``value_cost``).
    link_key_bytes: int = 0
    link_email_bytes: int = 0
    link_phone_bytes: int = 0

    @property
    def duplicates(self) -> int:
        return self.rows - len(self.last_row)


@dataclass
class _Results:
    outcomes: dict[str, RecordOutcome] = field(default_factory=dict)
    linked: set[str] = field(default_factory=set)
    failures: list[dict[str, Any]] = field(default_factory=list)
    files: Counter = field(default_factory=Counter)


def load_rows(
    client: SalesforceClient,
    rows_paths: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    options: LoadOptions | None = None,
) -> dict[str, Any]:
    """Upsert staged rows, upload their files; returns counts (XCom-sized), never payloads."""
    options = options or LoadOptions()
    paths = _as_list(rows_paths)
    calls_before = client.api_calls
    if options.read_limits:
        client.limits()
    scan = _scan(paths, options)
    describe = DescribeCache(client)
    _check_schema(describe, options, scan.header)
    use_bulk = scan.bulk_rows >= options.upsert.bulk_threshold
    estimate = _estimate_calls(scan, options, use_bulk)
    log.info("Salesforce load: %d rows, ~%d API calls needed (%s)", scan.rows, estimate, _mode(use_bulk))
    client.budget.check(estimate)
    results = _Results()
    _upsert_pass(client, paths, options, scan, describe, use_bulk, results)
    if options.transcript_mode is not TranscriptMode.FIELD:
        _files_pass(client, paths, options, scan, results)
    failed_path = _write_failures(out_dir, results.failures)
    summary = _summary(scan, results, client.api_calls - calls_before, failed_path, use_bulk)
    _log_summary(summary, results.failures)
    return summary


# ---- pass 1: scan ---------------------------------------------------------------------------


def _scan(paths: list[str], options: LoadOptions) -> _Scan:
    scan = _Scan()
    blocked = blocked_sets(options.linking)
    for index, row in _rows(paths):
        scan.rows += 1
        scan.last_row[_conversation_id(row, options)] = index
        if row.get("errors"):
            scan.rejected += 1
            continue
        record = _record(row, options)
        scan.header.update(record)
        if options.linking.enabled:
            _scan_link_values(scan, options, record, blocked)
        if _needs_collections(record, options.upsert):
            scan.collection_rows += 1
            scan.collection_bytes += json_size(record) + COLLECTION_RECORD_OVERHEAD
        else:
            scan.bulk_rows += 1
            scan.bulk_bytes += sum(len(str(v)) + 3 for v in record.values())
        if _wants_file(row, options):
            scan.files += 1
    if options.linking.enabled:
        scan.header.update(_link_fields(options.linking))
    return scan


def _scan_link_values(scan: _Scan, options: LoadOptions, record: Record, blocked: Blocked) -> None:
    values = link_values(options.linking, options.upsert, record, blocked)
    if values:
        key, email, phone = values
        scan.link_key_bytes += value_cost(key)
        scan.link_email_bytes += value_cost(email) if email else 0
        scan.link_phone_bytes += value_cost(phone) if phone else 0


def _rows(paths: list[str]) -> Iterator[tuple[int, Row]]:
    index = 0
    for path in paths:
        for row in read_jsonl_gz(path):
            yield index, row
            index += 1


def _current_rows(paths: list[str], scan: _Scan, options: LoadOptions) -> Iterator[Row]:
    """Each conversation's last row only (a later row of the same conversation supersedes)."""
    for index, row in _rows(paths):
        if scan.last_row.get(_conversation_id(row, options)) == index:
            yield row


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _conversation_id(row: Row, options: LoadOptions) -> str:
    return str(row.get("fields", {}).get(options.upsert.external_id_field) or row["conversation_id"])


def _record(row: Row, options: LoadOptions) -> Record:
    """The fields to send: never an empty value; no transcript field in attachment-only mode."""
    settings = options.upsert
    record = {name: value for name, value in (row.get("fields") or {}).items() if value not in (None, "")}
    record[settings.external_id_field] = _conversation_id(row, options)
    if options.transcript_mode is TranscriptMode.ATTACHMENT:
        record.pop(settings.transcript_field, None)
    return record


def _needs_collections(record: Record, settings: UpsertSettings) -> bool:
    """Values over the Bulk API cap go through Collections (whose limit is the field's own)."""
    return any(isinstance(v, str) and len(v) > settings.bulk_field_cap for v in record.values())


def _wants_file(row: Row, options: LoadOptions) -> bool:
    return options.transcript_mode is not TranscriptMode.FIELD and bool(row.get("transcript_file"))


def _link_fields(linking: LinkingSettings) -> set[str]:
    return {linking.contact_lookup, linking.lead_lookup} | ({linking.account_lookup} - {None})


def _check_schema(describe: DescribeCache, options: LoadOptions, header: set[str]) -> None:
    """Stop before any write when the rows name fields the org lacks (a Bulk job would fail whole)."""
    settings = options.upsert
    describe.require_external_id(settings.object_name, settings.external_id_field)
    unknown = describe.unknown_fields(settings.object_name, header)
    if unknown:
        raise SchemaMismatchError(
            f"{settings.object_name} has no field(s) {sorted(unknown)}: "
            "the mapping is out of step with the org"
        )


def _estimate_calls(scan: _Scan, options: LoadOptions, use_bulk: bool) -> int:
    """API calls the load will need, before retries: refused up front if over budget.

    Lookups count one query per batch plus as many more as the URL limit makes their IN lists
    need (``soql.estimated_queries``); Leads are counted as if no Contact matched.
    """
    settings = options.upsert
    rows = scan.rows - scan.rejected - scan.duplicates
    batches = math.ceil(max(rows, 0) / options.batch_rows)
    calls = 1  # describe
    if use_bulk:
        jobs = max(1, math.ceil(scan.bulk_bytes / settings.bulk_upload_bytes))
        calls += jobs * BULK_JOB_CALLS + _collections_calls(
            scan.collection_rows, scan.collection_bytes, settings
        )
    else:
        calls += _collections_calls(scan.bulk_rows + scan.collection_rows, scan.collection_bytes, settings)
    if options.linking.enabled:
        calls += estimated_queries(scan.link_key_bytes, batches)  # the transcripts' current lookups
        by_value = estimated_queries(scan.link_email_bytes, batches)
        by_value += estimated_queries(scan.link_phone_bytes, batches)
        calls += by_value * (2 if options.linking.match_leads else 1)  # Contacts, then Leads
    if scan.files:
        calls += estimated_queries(scan.files * RECORD_ID_COST, batches)  # files already there
        calls += math.ceil(scan.files / options.files.batch_size)
    return calls


def _collections_calls(rows: int, long_bytes: int, settings: UpsertSettings) -> int:
    """Full calls of 200 records, or more calls when long rows fill the request size first."""
    if not rows:
        return 0
    by_size = math.ceil(long_bytes / settings.collections_request_bytes) + (1 if long_bytes else 0)
    return max(math.ceil(rows / COLLECTION_LIMIT), by_size)


def _mode(use_bulk: bool) -> str:
    return "bulk" if use_bulk else "collections"


# ---- pass 2: upsert -------------------------------------------------------------------------


def _upsert_pass(
    client: SalesforceClient,
    paths: list[str],
    options: LoadOptions,
    scan: _Scan,
    describe: DescribeCache,
    use_bulk: bool,
    results: _Results,
) -> None:
    settings = options.upsert
    header = _header(scan.header, settings)
    upload = BulkUpload(header, settings.external_id_field) if use_bulk else None
    # Collections records (all of a small load; a large load's rows over the Bulk cap) are gathered
    # across batches, linked first with their batch, and sent in full calls of up to 200.
    direct = CollectionsBatcher(client, settings)
    retry: list[Record] = []
    coerce = _coercer(describe, settings)
    for batch in _batches(_current_rows(paths, scan, options), options.batch_rows):
        for record in _prepare(client, batch, options, results):
            if upload is None or _needs_collections(record, settings):
                _collect(direct.add(record), settings, results, retry)
            elif upload.fits(record, settings.bulk_upload_bytes):
                upload.add(record)
            else:
                _collect(run_bulk_job(client, settings, upload, coerce), settings, results, retry)
                upload.close()
                upload = BulkUpload(header, settings.external_id_field)
                upload.add(record)
    _collect(direct.flush(), settings, results, retry)
    if upload is not None:
        if len(upload):
            _collect(run_bulk_job(client, settings, upload, coerce), settings, results, retry)
        upload.close()
    _collect(retry_rejected(client, settings, retry), settings, results, None)
    for key, outcome in results.outcomes.items():
        if not outcome.success:
            results.failures.append(_failure(key, "upsert", outcome.errors, outcome.record_id))


def _prepare(
    client: SalesforceClient, batch: list[Row], options: LoadOptions, results: _Results
) -> list[Record]:
    """Records to send for a batch; rows the transform rejected become failures instead."""
    records = []
    for row in batch:
        if row.get("errors"):
            errors = [
                RecordError(str(e.get("code", "TRANSFORM")), str(e.get("message", "")), _fields(e))
                for e in row["errors"]
            ]
            results.failures.append(_failure(_conversation_id(row, options), "transform", errors))
        else:
            records.append(_record(row, options))
    if options.linking.enabled and records:
        links = plan_links(client, options.linking, options.upsert, records)
        for record in records:
            key = str(record[options.upsert.external_id_field])
            if key in links:
                record.update(links[key])
                results.linked.add(key)
    return records


def _fields(error: dict[str, Any]) -> tuple[str, ...]:
    value = error.get("fields") or error.get("field") or ()
    return (value,) if isinstance(value, str) else tuple(value)


def _header(names: set[str], settings: UpsertSettings) -> list[str]:
    return [settings.external_id_field, *sorted(names - {settings.external_id_field})]


def _collect(
    outcomes: Iterable[tuple[Record, RecordOutcome]],
    settings: UpsertSettings,
    results: _Results,
    retry: list[Record] | None,
) -> None:
    """Keep each record's outcome; queue transient failures for one retry (when ``retry``)."""
    for record, outcome in outcomes:
        results.outcomes[outcome.external_id] = outcome
        if retry is not None and outcome.retryable(settings.retryable_codes):
            retry.append(record)


def _coercer(describe: DescribeCache, settings: UpsertSettings):
    """CSV text back to JSON types (for Bulk rows retried through Collections)."""
    types = {name: field["type"] for name, field in describe.fields(settings.object_name).items()}

    def coerce(row: dict[str, str]) -> Record:
        record: Record = {}
        for name, value in row.items():
            kind = types.get(name)
            if kind == "boolean":
                record[name] = value.lower() == "true"
            elif kind in NUMERIC_TYPES:
                number = float(value)
                record[name] = int(number) if kind in ("int", "long") else number
            else:
                record[name] = value
        return record

    return coerce


# ---- pass 3: files --------------------------------------------------------------------------


def _files_pass(
    client: SalesforceClient, paths: list[str], options: LoadOptions, scan: _Scan, results: _Results
) -> None:
    rows = (
        row
        for row in _current_rows(paths, scan, options)
        if _wants_file(row, options) and not row.get("errors")
    )
    for batch in _batches(rows, options.batch_rows):
        files = []
        for row in batch:
            key = _conversation_id(row, options)
            outcome = results.outcomes.get(key)
            if outcome is None or not outcome.success or not outcome.record_id:
                results.files["not_attempted"] += 1
                continue
            spec = row["transcript_file"]
            data = str(spec.get("content") or "").encode("utf-8")
            files.append(
                TranscriptFile(
                    key,
                    outcome.record_id,
                    spec["title"],
                    spec["path_on_client"],
                    data,
                    new_record=outcome.created,
                )
            )
        for file_outcome in sync_files(client, options.files, files):
            results.files[file_outcome.status] += 1
            if file_outcome.status == FAILED:
                results.failures.append(
                    _failure(
                        file_outcome.conversation_id, "file", file_outcome.errors, file_outcome.record_id
                    )
                )


# ---- reporting ------------------------------------------------------------------------------


def _failure(
    conversation_id: str, stage: str, errors: list[RecordError], record_id: str | None = None
) -> dict:
    return {
        "conversation_id": conversation_id,
        "stage": stage,
        "record_id": record_id,
        "errors": [error.as_dict() for error in errors],
    }


def _write_failures(out_dir: str | os.PathLike, failures: list[dict[str, Any]]) -> str | None:
    """``<out_dir>/load/failed-<n>.jsonl.gz``, ``n`` the first free number (a retry keeps the last)."""
    if not failures:
        return None
    folder = as_path(out_dir) / "load"
    number = 1
    while (folder / f"failed-{number}.jsonl.gz").exists():
        number += 1
    path = folder / f"failed-{number}.jsonl.gz"
    with JsonlGzWriter(path) as writer:
        for failure in failures:
            writer.write(failure)
    return str(path)


def _summary(scan: _Scan, results: _Results, api_calls: int, failed_path: str | None, use_bulk: bool) -> dict:
    outcomes = results.outcomes.values()
    succeeded = {o.external_id for o in outcomes if o.success}
    return {
        "created": sum(1 for o in outcomes if o.success and o.created),
        "updated": sum(1 for o in outcomes if o.success and not o.created),
        "failed": sum(1 for f in results.failures if f["stage"] != "file"),
        "skipped": scan.duplicates,
        "files_uploaded": results.files[UPLOADED],
        "files_unchanged": results.files[UNCHANGED],
        "files_skipped": results.files[SKIPPED],
        "files_failed": results.files[FAILED],
        "linked": len(results.linked & succeeded),
        "api_calls": api_calls,
        "failed_path": failed_path,
        "mode": _mode(use_bulk),
    }


def _log_summary(summary: dict[str, Any], failures: list[dict[str, Any]]) -> None:
    width = max(len(name) for name in summary)
    lines = [f"  {name.ljust(width)}  {value}" for name, value in summary.items()]
    log.info("Salesforce load summary\n%s", "\n".join(lines))
    codes = Counter(error["code"] for failure in failures for error in failure["errors"][:1])
    if codes:
        table = "\n".join(f"  {code.ljust(40)} {count}" for code, count in codes.most_common())
        log.warning("Rejected records by error code\n%s", table)
    for failure in failures[:MAX_LOGGED_FAILURES]:
        first = failure["errors"][0] if failure["errors"] else {"code": "?", "message": "", "fields": []}
        log.warning(
            "Rejected %s conversation %s: %s %s %s",
            failure["stage"],
            failure["conversation_id"],
            first["code"],
            first["message"],
            first["fields"] or "",
        )
    if len(failures) > MAX_LOGGED_FAILURES:
        log.warning(
            "... %d more rejected records in %s", len(failures) - MAX_LOGGED_FAILURES, summary["failed_path"]
        )


def _as_list(paths: Any) -> list[Any]:
    """One path or many (strings, ``os.PathLike`` or ``ObjectStoragePath``)."""
    if isinstance(paths, str | os.PathLike) or hasattr(paths, "open"):
        return [paths]
    return list(paths)
