"""What a load will send, learnt in one streaming pass before any write: records, CSV header,
Bulk or Collections, and the API calls it will cost (refused up front when over budget).

A staged row becomes the record to send here and only here (``record_of``): never an empty value,
except a field the mapping asks to clear (``StagedRow.clear``: ``None``, which goes as ``#N/A``
in Bulk CSV and ``null`` in Collections); no transcript field in attachment-only mode.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from lesync.contracts import RecordError
from lesync.salesforce.linking import LinkEstimate, lookup_fields
from lesync.salesforce.settings import (
    COLLECTION_LIMIT,
    FileSettings,
    LinkingSettings,
    TranscriptMode,
    UpsertSettings,
)
from lesync.salesforce.soql import estimated_queries, value_cost
from lesync.salesforce.upsert import COLLECTION_RECORD_OVERHEAD, json_size
from lesync.text import utf16_length

Record = dict[str, Any]
#: A ~10,000-row job: create, upload, close, ~8 polls (0.5, 1.25, 2.4, 4.1, 6.6, 10.4, 15.4,
#: 20.4 s: a queue plus 10,000 rows at ~1,000 rows/s), 3 result files. Parallel jobs cost the same.
BULK_JOB_CALLS = 14
#: IN-list bytes of one Salesforce record id (18 characters, quoted, percent-encoded, comma).
RECORD_ID_COST = value_cost("a0L000000000000AAA")


@dataclass(frozen=True, slots=True)
class StagedRow:
    """One conversation's row as the transform staged it, in the loader's terms."""

    conversation_id: str
    fields: dict[str, Any]
    errors: tuple[RecordError, ...] = ()
    #: Fields to set to null when their value is empty (the mapping's ``on_empty: clear``).
    clear: tuple[str, ...] = ()
    transcript_file: dict[str, Any] | None = None


class LoadOptions(BaseModel):
    """How one integration loads: where transcripts go, linking, files, batching."""

    transcript_mode: TranscriptMode = Field(TranscriptMode.FIELD, description="field, attachment or both.")
    upsert: UpsertSettings = Field(default_factory=UpsertSettings)
    files: FileSettings = Field(default_factory=FileSettings)
    linking: LinkingSettings = Field(default_factory=LinkingSettings)
    batch_rows: int = Field(
        2_000, ge=1, description="Rows linked and file-synced together (one set of queries per batch)."
    )


def external_key(row: StagedRow, options: LoadOptions) -> str:
    """The upsert key: the row's external id field, else the transform's conversation id
    (interned: the load's per-record maps then share one string per record)."""
    return sys.intern(str(row.fields.get(options.upsert.external_id_field) or row.conversation_id))


def record_of(row: StagedRow, options: LoadOptions) -> Record:
    """The fields to send (see the module docstring)."""
    settings = options.upsert
    record: Record = {}
    for name, value in row.fields.items():
        if value not in (None, ""):
            record[name] = value
    for name in row.clear:
        if row.fields.get(name) in (None, ""):
            record[name] = None
    record[settings.external_id_field] = external_key(row, options)
    if options.transcript_mode is TranscriptMode.ATTACHMENT:
        record.pop(settings.transcript_field, None)
    return record


def needs_collections(record: Record, settings: UpsertSettings) -> bool:
    """Values over the Bulk API cap (in UTF-16 units) go through Collections (the field's own limit)."""
    cap = settings.bulk_field_cap
    return any(isinstance(v, str) and len(v) > cap // 2 and utf16_length(v) > cap for v in record.values())


def wants_file(row: StagedRow, options: LoadOptions) -> bool:
    return options.transcript_mode is not TranscriptMode.FIELD and bool(row.transcript_file)


def link_fields(linking: LinkingSettings) -> set[str]:
    """Transcript fields linking may write (so a Bulk CSV has their columns)."""
    return set(lookup_fields(linking))


@dataclass
class LoadPlan:
    """What the first pass learns."""

    last_row: dict[str, int] = field(default_factory=dict)  # external key -> index of its last row
    header: set[str] = field(default_factory=set)
    rows: int = 0
    rejected: int = 0
    bulk_rows: int = 0
    bulk_bytes: int = 0
    collection_rows: int = 0
    collection_bytes: int = 0
    files: int = 0
    #: What linking's queries and searches will cost (``None`` with linking off).
    links: LinkEstimate | None = None
    use_bulk: bool = False

    @property
    def duplicates(self) -> int:
        return self.rows - len(self.last_row)

    @property
    def mode(self) -> str:
        return "bulk" if self.use_bulk else "collections"


def plan_load(rows: Iterable[StagedRow], options: LoadOptions) -> LoadPlan:
    """One pass over the rows: counts, header, sizes and linking values for the estimate."""
    plan = LoadPlan()
    if options.linking.enabled:
        plan.links = LinkEstimate(options.linking, options.upsert)
    for index, row in enumerate(rows):
        plan.rows += 1
        plan.last_row[external_key(row, options)] = index
        if row.errors:
            plan.rejected += 1
            continue
        _add_record(plan, options, record_of(row, options))
        if wants_file(row, options):
            plan.files += 1
    if options.linking.enabled:
        plan.header.update(link_fields(options.linking))
    plan.use_bulk = plan.bulk_rows >= options.upsert.bulk_threshold
    return plan


def _add_record(plan: LoadPlan, options: LoadOptions, record: Record) -> None:
    plan.header.update(record)
    if plan.links is not None:
        plan.links.add(record)
    if needs_collections(record, options.upsert):
        plan.collection_rows += 1
        plan.collection_bytes += json_size(record) + COLLECTION_RECORD_OVERHEAD
    else:
        plan.bulk_rows += 1
        plan.bulk_bytes += sum(len(str(v)) + 3 for v in record.values())


def estimate_calls(plan: LoadPlan, options: LoadOptions) -> int:
    """API calls the load will need, before retries: refused up front if over budget.

    Linking counts, per rule, one query (phone rules together: one search) per batch plus as many
    more as the URL and search limits need, as if no earlier rule matched (``LinkEstimate``).
    """
    settings = options.upsert
    rows = plan.rows - plan.rejected - plan.duplicates
    batches = math.ceil(max(rows, 0) / options.batch_rows)
    calls = 1  # describe
    if plan.use_bulk:
        jobs = max(
            1,
            math.ceil(plan.bulk_bytes / settings.bulk_upload_bytes),
            math.ceil(plan.bulk_rows / job_rows(plan.bulk_rows, settings)),
        )
        calls += jobs * BULK_JOB_CALLS
        calls += collections_calls(plan.collection_rows, plan.collection_bytes, settings)
    else:
        calls += collections_calls(plan.bulk_rows + plan.collection_rows, plan.collection_bytes, settings)
    if plan.links is not None:
        calls += plan.links.calls(batches)
    if plan.files:
        calls += estimated_queries(plan.files * RECORD_ID_COST, batches)  # files already there
        calls += math.ceil(plan.files / options.files.batch_size)
    return calls


def job_rows(bulk_rows: int, settings: UpsertSettings) -> int:
    """Rows per Bulk job for a load of ``bulk_rows``: jobs of at most ``bulk_job_rows``, as many
    more as fill whole rounds of ``bulk_parallel_jobs`` while each keeps ``bulk_min_job_rows``, all
    of about equal size. A job's processing time grows with its rows, so three jobs of 6,667 rows
    running at once end about a third sooner than two of 10,000, for one more job's calls."""
    needed = math.ceil(bulk_rows / settings.bulk_job_rows)
    full_rounds = math.ceil(needed / settings.bulk_parallel_jobs) * settings.bulk_parallel_jobs
    jobs = max(needed, min(full_rounds, bulk_rows // settings.bulk_min_job_rows))
    return math.ceil(bulk_rows / jobs) if jobs else settings.bulk_job_rows


def collections_calls(rows: int, long_bytes: int, settings: UpsertSettings) -> int:
    """Full calls of 200 records, or more calls when long rows fill the request size first."""
    if not rows:
        return 0
    by_size = math.ceil(long_bytes / settings.collections_request_bytes) + (1 if long_bytes else 0)
    return max(math.ceil(rows / COLLECTION_LIMIT), by_size)
