"""The Salesforce side of a load: staged transcript rows in, one outcome per row out.

The pipeline hands ``TranscriptLoader.load`` a way to read the staged rows (called once per
pass, so memory stays flat whatever the window) and gets a ``LoadOutcome`` back:

1. plan (``load_plan``): count rows, find each conversation's last row, collect the CSV header,
   check the schema (describe), estimate the API calls and refuse before any write if the budget
   is short;
2. upsert: per batch, link visitors to Contacts/Leads, then upsert by external id (Bulk API 2.0
   jobs of ~10,000 rows for a large load, a few in flight at once, sObject Collections for a
   small one and for values over the Bulk cap, gathered across batches into full calls of up
   to 200 records and sent on their own thread meanwhile). Rows a Bulk job left
   undone because it ended ``Failed`` go to one new Bulk job or full Collections calls, as the
   job's ``errorMessage`` allows; rows rejected with a transient error are retried once in
   smaller Collections batches;
3. files: per batch, upload new or changed transcript files to the records (records this load
   created have no file yet: only the others are looked up); a transient upload failure is
   retried once after a fresh lookup (a 500 may have stored the file), what still fails is a
   failure of the run.

Rows the transform rejected are not sent; they come back as failures with the transform's errors.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field, replace
from typing import Any

from lesync.contracts import RecordError, SchemaMismatchError
from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.describe import DescribeCache
from lesync.salesforce.files import FAILED, FileOutcome, TranscriptFile, sync_files
from lesync.salesforce.linking import Linker
from lesync.salesforce.load_plan import (
    LoadOptions,
    LoadPlan,
    StagedRow,
    estimate_calls,
    external_key,
    job_rows,
    needs_collections,
    plan_load,
    record_of,
    wants_file,
)
from lesync.salesforce.settings import TranscriptMode
from lesync.salesforce.upsert import (
    JOB_FAILED,
    BulkUpload,
    CollectionsBatcher,
    RecordOutcome,
    bulk_job_outcomes,
    csv_coercer,
    retry_rejected,
)

log = logging.getLogger(__name__)

Record = dict[str, Any]
RowSource = Callable[[], Iterable[StagedRow]]
#: Bulk ``errorMessage`` words that a new job would meet again (the input or an org limit).
_BULK_REFUSALS = ("InvalidBatch", "ClientInputError", "InvalidJob", "limit", "Limit", "exceeded")


@dataclass
class Failure:
    """One conversation that did not land as asked, at which stage, with the reasons."""

    conversation_id: str
    stage: str  # transform, upsert or file
    errors: list[RecordError]
    record_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "stage": self.stage,
            "record_id": self.record_id,
            "errors": [error.as_dict() for error in self.errors],
        }


@dataclass
class LoadOutcome:
    """What Salesforce did with a load's rows and files."""

    outcomes: dict[str, RecordOutcome] = field(default_factory=dict)
    linked: set[str] = field(default_factory=set)
    failures: list[Failure] = field(default_factory=list)
    files: Counter = field(default_factory=Counter)
    #: Each conversation's transcript file status (uploaded / unchanged / skipped / failed).
    file_status: dict[str, str] = field(default_factory=dict)
    skipped: int = 0
    api_calls: int = 0
    mode: str = ""
    estimate: int = 0

    @property
    def created(self) -> int:
        return sum(1 for o in self.outcomes.values() if o.success and o.created)

    @property
    def updated(self) -> int:
        return sum(1 for o in self.outcomes.values() if o.success and not o.created)

    @property
    def failed(self) -> int:
        """Conversations with any failure (a record rejected, or a record whose file failed)."""
        return len({f.conversation_id for f in self.failures})

    @property
    def linked_count(self) -> int:
        return sum(1 for key in self.linked if (o := self.outcomes.get(key)) is not None and o.success)


class TranscriptLoader:
    """Loads staged rows into one integration's Chat Transcript object, with its files."""

    def __init__(
        self,
        client: SalesforceClient,
        options: LoadOptions | None = None,
        describes: dict[str, dict[str, Any]] | None = None,
    ):
        """``describes``: the run's describe answers (one describe per object per run, not per load)."""
        self.client = client
        self.options = options or LoadOptions()
        self.settings = self.options.upsert
        self.describe = DescribeCache(client, describes)

    def load(self, rows: RowSource) -> LoadOutcome:
        """Plan, upsert, sync files; every row ends in an outcome or a failure."""
        calls_before = self.client.api_calls
        plan = plan_load(rows(), self.options)
        self._check_schema(plan.header)
        result = LoadOutcome(
            skipped=plan.duplicates, mode=plan.mode, estimate=estimate_calls(plan, self.options)
        )
        log.info("Salesforce load: %d rows, ~%d API calls needed (%s)", plan.rows, result.estimate, plan.mode)
        self.client.budget.check(result.estimate)
        _UpsertPass(self, plan, result).run(self._current(rows, plan))
        if self.options.transcript_mode is not TranscriptMode.FIELD:
            self._files_pass(self._current(rows, plan), result)
        result.api_calls = self.client.api_calls - calls_before
        return result

    def _current(self, rows: RowSource, plan: LoadPlan) -> Iterator[StagedRow]:
        """Each conversation's last row only (a later row of the same conversation supersedes)."""
        for index, row in enumerate(rows()):
            if plan.last_row.get(external_key(row, self.options)) == index:
                yield row

    def _check_schema(self, header: set[str]) -> None:
        """Stop before any write when the rows name fields the org lacks (a Bulk job would fail whole)."""
        settings = self.settings
        self.describe.require_external_id(settings.object_name, settings.external_id_field)
        unknown = self.describe.unknown_fields(settings.object_name, header)
        if unknown:
            raise SchemaMismatchError(
                f"{settings.object_name} has no field(s) {sorted(unknown)}: "
                "the mapping is out of step with the org"
            )

    # ---- files ------------------------------------------------------------------------------

    def _files_pass(self, rows: Iterable[StagedRow], result: LoadOutcome) -> None:
        wanted = (row for row in rows if wants_file(row, self.options) and not row.errors)
        retry: list[TranscriptFile] = []
        for batch in batches(wanted, self.options.batch_rows):
            files = [item for row in batch if (item := self._file_of(row, result)) is not None]
            self._count_files(sync_files(self.client, self.options.files, files), files, result, retry)
        if retry:
            log.info("Salesforce: retrying %d transcript file(s) after a transient failure", len(retry))
            self.client.sleep(self.settings.retry_delay_seconds)
            # Looked up again first: a failed call may still have stored the file (no duplicate).
            again = [replace(item, new_record=False) for item in retry]
            self._count_files(sync_files(self.client, self.options.files, again), again, result, None)

    def _file_of(self, row: StagedRow, result: LoadOutcome) -> TranscriptFile | None:
        key = external_key(row, self.options)
        outcome = result.outcomes.get(key)
        if outcome is None or not outcome.success or not outcome.record_id:
            result.files["not_attempted"] += 1
            return None
        spec = row.transcript_file or {}
        data = str(spec.get("content") or "").encode("utf-8")
        return TranscriptFile(
            key, outcome.record_id, spec["title"], spec["path_on_client"], data, new_record=outcome.created
        )

    def _count_files(
        self,
        outcomes: list[FileOutcome],
        files: list[TranscriptFile],
        result: LoadOutcome,
        retry: list[TranscriptFile] | None,
    ) -> None:
        """Tally each file's outcome; transient failures go to ``retry`` when there is one."""
        by_key = {item.conversation_id: item for item in files}
        for outcome in outcomes:
            transient = outcome.status == FAILED and _all_retryable(
                outcome.errors, self.settings.retryable_codes
            )
            if retry is not None and transient:
                retry.append(by_key[outcome.conversation_id])
                continue
            result.files[outcome.status] += 1
            result.file_status[outcome.conversation_id] = outcome.status
            if outcome.status == FAILED:
                result.failures.append(
                    Failure(outcome.conversation_id, "file", outcome.errors, outcome.record_id)
                )


class _UpsertPass:
    """The upsert of one load: linking per batch, Bulk or Collections, fallbacks and one retry.

    Bulk jobs of about equal size (``job_rows``: at most ``bulk_job_rows``, as many as fill rounds)
    run on their own threads, up to ``bulk_parallel_jobs`` at once, while this thread reads, links
    and writes the next job's CSV; Collections calls (a
    large load's rows over the Bulk cap) run on one more thread meanwhile. Only this thread
    touches the outcomes: workers return theirs, which are taken in as they finish
    (``_harvest``), so each record still gets exactly one outcome, keyed by external id.
    """

    def __init__(self, loader: TranscriptLoader, plan: LoadPlan, result: LoadOutcome):
        self.loader = loader
        self.client = loader.client
        self.options = loader.options
        self.settings = loader.settings
        self.result = result
        self.header = [
            self.settings.external_id_field,
            *sorted(plan.header - {self.settings.external_id_field}),
        ]
        self.use_bulk = plan.use_bulk
        self.job_rows = job_rows(plan.bulk_rows, self.settings)
        # One linker for the load: the first batch asks about every value the plan saw.
        self.linker = Linker(
            self.client, self.options.linking, self.settings, plan.links.values if plan.links else None
        )
        # Collections records (all of a small load; a large load's rows over the Bulk cap) are
        # gathered across batches, linked first with their batch, and sent in full calls of 200.
        self.direct = CollectionsBatcher(self.client, self.settings)
        self.retry: list[Record] = []
        types = loader.describe.fields(self.settings.object_name)
        self.coerce = csv_coercer({name: f["type"] for name, f in types.items()})
        self.in_flight: dict[Future, tuple[BulkUpload | None, bool]] = {}
        self.jobs: ThreadPoolExecutor | None = None
        self.calls: ThreadPoolExecutor | None = None

    def run(self, rows: Iterable[StagedRow]) -> None:
        self.jobs = ThreadPoolExecutor(self.settings.bulk_parallel_jobs, thread_name_prefix="lesync-bulk")
        self.calls = ThreadPoolExecutor(1, thread_name_prefix="lesync-collections")
        try:
            self._send_all(rows)
        finally:  # after a failure: let started work end before its files are closed
            self.jobs.shutdown(wait=True, cancel_futures=True)
            self.calls.shutdown(wait=True, cancel_futures=True)
            for upload, _ in self.in_flight.values():
                if upload is not None:
                    upload.close()
        self._collect(retry_rejected(self.client, self.settings, self.retry), retry=False)
        for key, outcome in self.result.outcomes.items():
            if not outcome.success:
                self.result.failures.append(Failure(key, "upsert", outcome.errors, outcome.record_id))

    def _send_all(self, rows: Iterable[StagedRow]) -> None:
        upload = self._new_upload()
        for batch in batches(rows, self.options.batch_rows):
            for record in self._prepare(batch):
                if upload is None or needs_collections(record, self.settings):
                    self._send_direct(self.direct.ready(record))
                elif len(upload) < self.job_rows and upload.fits(record, self.settings.bulk_upload_bytes):
                    upload.add(record)
                else:
                    self._start_job(upload)
                    upload = self._new_upload()
                    upload.add(record)
            self._harvest(wait=False)
        if upload is not None:
            self._start_job(upload)
        # Until nothing is left: a failed job's rows may go to a new job or to Collections.
        while self.in_flight or len(self.direct):
            self._send_direct([self.direct.drain()])
            self._harvest(wait=True)

    def _new_upload(self) -> BulkUpload | None:
        return BulkUpload(self.header, self.settings.external_id_field) if self.use_bulk else None

    def _prepare(self, batch: list[StagedRow]) -> list[Record]:
        """Records to send for a batch; rows the transform rejected become failures instead."""
        records = []
        for row in batch:
            if row.errors:
                self.result.failures.append(
                    Failure(external_key(row, self.options), "transform", list(row.errors))
                )
            else:
                records.append(record_of(row, self.options))
        if self.options.linking.enabled and records:
            links = self.linker.plan(records)
            for record in records:
                key = str(record[self.settings.external_id_field])
                if key in links:
                    record.update(links[key])
                    self.result.linked.add(key)
        return records

    def _start_job(self, upload: BulkUpload, second_try: bool = False) -> None:
        """One Bulk job on a worker thread, once fewer than ``bulk_parallel_jobs`` are in flight."""
        if not len(upload):
            upload.close()
            return
        while self._jobs_in_flight() >= self.settings.bulk_parallel_jobs:
            self._harvest(wait=True)
        future = self.jobs.submit(bulk_job_outcomes, self.client, self.settings, upload, self.coerce)
        self.in_flight[future] = (upload, second_try)

    def _send_direct(self, full: list[list[Record]]) -> None:
        """Full Collections batches go to the Collections thread (calls in order, one at a time)."""
        for batch in full:
            if batch:
                self.in_flight[self.calls.submit(self.direct.send, batch)] = (None, False)

    def _jobs_in_flight(self) -> int:
        return sum(1 for upload, _ in self.in_flight.values() if upload is not None)

    def _harvest(self, wait: bool) -> None:
        """Take in the outcomes of finished work (first waiting for some, if ``wait``)."""
        if not self.in_flight:
            return
        if wait:
            done, _ = futures_wait(list(self.in_flight), return_when=FIRST_COMPLETED)
        else:
            done = [future for future in self.in_flight if future.done()]
        for future in done:
            upload, second_try = self.in_flight.pop(future)
            if upload is None:
                self._collect(future.result())
                continue
            try:
                self._job_done(upload, future.result(), second_try)
            finally:
                upload.close()

    def _job_done(
        self, upload: BulkUpload, outcomes: list[tuple[Record, RecordOutcome]], second_try: bool
    ) -> None:
        """A job's outcomes; rows a failed job left undone go to a new job or Collections."""
        undone: list[tuple[Record, RecordOutcome]] = []
        for record, outcome in outcomes:
            if outcome.errors and outcome.errors[0].code == JOB_FAILED:
                undone.append((record, outcome))
            else:
                self._collect([(record, outcome)])
        if undone:
            self._fall_back(upload, undone, second_try)

    def _fall_back(
        self, upload: BulkUpload, undone: list[tuple[Record, RecordOutcome]], second_try: bool
    ) -> None:
        """A new Bulk job when the reason is not one a new job would meet again, else full
        Collections calls (200 records each, never the small retry batches)."""
        reason = undone[0][1].errors[0].message
        if not second_try and not any(word in reason for word in _BULK_REFUSALS):
            log.warning("Salesforce: %d row(s) of a failed Bulk job go to a new Bulk job", len(undone))
            again = BulkUpload(self.header, self.settings.external_id_field)
            keys = {outcome.external_id for _, outcome in undone}
            for row in upload.records(keys):
                again.add(row)
            self._start_job(again, second_try=True)
            return
        log.warning("Salesforce: %d row(s) of a failed Bulk job go through sObject Collections", len(undone))
        for record, _ in undone:
            self._send_direct(self.direct.ready(record))

    def _collect(self, outcomes: Iterable[tuple[Record, RecordOutcome]], retry: bool = True) -> None:
        """Keep each record's outcome; queue transient failures for one retry."""
        for record, outcome in outcomes:
            self.result.outcomes[outcome.external_id] = outcome
            if retry and outcome.retryable(self.settings.retryable_codes):
                self.retry.append(record)


def _all_retryable(errors: list[RecordError], codes: Iterable[str]) -> bool:
    return bool(errors) and all(error.code in codes for error in errors)


def batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
