"""The load stage: staged Chat Transcript rows -> Salesforce, with an outcome for every row.

Plain Python, callable without Airflow, and thin: it reads the transform's staged rows (gzip JSON
lines), hands them to the Salesforce side's ``TranscriptLoader`` (which knows batching, Bulk and
Collections, linking, files and the API budget), writes every failure to
``<out_dir>/<failures_name>-<n>.jsonl.gz`` (a run's shard ``NNN`` writes ``failed-NNN-<n>``) and
returns the counts as a ``LoadResult`` for XCom.

Per-record errors the transform staged are read here, in one place (``transform_errors``), into
the one ``RecordError`` shape, whichever of the two staged shapes a row carries.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lesync.contracts import LoadResult, RecordError
from lesync.pipeline.staging import JsonlGzWriter, as_path, read_jsonl_gz
from lesync.salesforce.client import SalesforceClient
from lesync.salesforce.files import FAILED, SKIPPED, UNCHANGED, UPLOADED
from lesync.salesforce.load_plan import LoadOptions, StagedRow, record_of
from lesync.salesforce.loader import Failure, LoadOutcome, TranscriptLoader

__all__ = ["LoadOptions", "load_rows", "load_with_outcomes", "record_for", "staged_row", "transform_errors"]

log = logging.getLogger(__name__)

Row = dict[str, Any]
MAX_LOGGED_FAILURES = 500


def load_rows(
    client: SalesforceClient,
    rows_paths: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    options: LoadOptions | None = None,
) -> dict[str, Any]:
    """Upsert staged rows, upload their files; returns a ``LoadResult`` (XCom-sized), never payloads."""
    return load_with_outcomes(client, rows_paths, out_dir, options)[0].as_xcom()


def load_with_outcomes(
    client: SalesforceClient,
    rows_paths: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    options: LoadOptions | None = None,
    start_field: str | None = None,
    describes: dict[str, dict[str, Any]] | None = None,
    failures_name: str = "failed",
) -> tuple[LoadResult, LoadOutcome, dict[str, Facts]]:
    """The load, plus what the ledger and the reconcile need: every record's outcome, and per
    LivePerson id its channel, status (open / closed) and start (the row's ``start_field``).
    ``describes``: the run's describe answers, so a shard's load does not describe again;
    ``failures_name``: the failures file's name (a shard's own, so parallel loads never share one)."""
    paths = _as_list(rows_paths)
    seen: dict[str, Facts] = {}
    loader = TranscriptLoader(client, options, describes)
    outcome = loader.load(lambda: _staged_rows(paths, seen, start_field))
    failed_path = _write_failures(out_dir, outcome.failures, failures_name)
    result = _result(outcome, failed_path)
    _log_summary(result, outcome.failures)
    return result, outcome, seen


def staged_row(row: Row) -> StagedRow:
    """A staged row (the transform's JSON) as the loader's input."""
    return StagedRow(
        conversation_id=str(row.get("conversation_id") or ""),
        fields=row.get("fields") or {},
        errors=transform_errors(row.get("errors")),
        clear=tuple(row.get("clear") or ()),
        transcript_file=row.get("transcript_file"),
    )


def record_for(row: Row, options: LoadOptions) -> dict[str, Any]:
    """The record the load sends for a staged row (the benchmark's floor encodes the same)."""
    return record_of(staged_row(row), options)


def transform_errors(errors: list[dict[str, Any]] | None) -> tuple[RecordError, ...]:
    """The transform's per-record errors as ``RecordError``s: ``{code, message, fields}`` dicts, and
    (until every staged file has them) the older ``{code, message, field}`` shape."""
    found = []
    for error in errors or ():
        fields = error.get("fields") or error.get("field") or ()
        found.append(
            RecordError(
                str(error.get("code") or "TRANSFORM"),
                str(error.get("message") or ""),
                (fields,) if isinstance(fields, str) else tuple(fields),
            )
        )
    return tuple(found)


class Facts(Mapping):
    """What the run saw of one conversation (channel, status, start), read as a mapping.

    One per conversation of the load, so it is small: slots, and interned channel and status
    (a plain dict per conversation costs about four times as much)."""

    __slots__ = ("channel", "status", "start")
    _KEYS = ("channel", "status", "start")

    def __init__(self, channel: str, status: str, start: Any):
        self.channel, self.status, self.start = sys.intern(channel), sys.intern(status), start

    def __getitem__(self, key: str) -> Any:
        if key not in self._KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)


def _staged_rows(paths: list[Any], seen: dict[str, Facts], start_field: str | None) -> Iterator[StagedRow]:
    for path in paths:
        for row in read_jsonl_gz(path):
            staged = staged_row(row)
            seen[sys.intern(staged.conversation_id)] = Facts(
                str(row.get("channel") or ""),
                str(row.get("status") or ""),
                staged.fields.get(start_field) if start_field else None,
            )
            yield staged


def _write_failures(out_dir: str | os.PathLike, failures: list[Failure], name: str) -> str | None:
    """``<out_dir>/<name>-<n>.jsonl.gz``, ``n`` the first free number (a retry keeps the last)."""
    if not failures:
        return None
    folder = as_path(out_dir)
    number = 1
    while (folder / f"{name}-{number}.jsonl.gz").exists():
        number += 1
    path = folder / f"{name}-{number}.jsonl.gz"
    with JsonlGzWriter(path) as writer:
        for failure in failures:
            writer.write(failure.as_dict())
    return str(path)


def _result(outcome: LoadOutcome, failed_path: str | None) -> LoadResult:
    return LoadResult(
        created=outcome.created,
        updated=outcome.updated,
        failed=outcome.failed,
        skipped=outcome.skipped,
        files_uploaded=outcome.files[UPLOADED],
        files_unchanged=outcome.files[UNCHANGED],
        files_skipped=outcome.files[SKIPPED],
        files_failed=outcome.files[FAILED],
        linked=outcome.linked_count,
        api_calls=outcome.api_calls,
        failed_path=failed_path,
        mode=outcome.mode,
    )


def _log_summary(result: LoadResult, failures: list[Failure]) -> None:
    summary = result.as_xcom()
    width = max(len(name) for name in summary)
    lines = [f"  {name.ljust(width)}  {value}" for name, value in summary.items()]
    log.info("Salesforce load summary\n%s", "\n".join(lines))
    codes = Counter(failure.errors[0].code for failure in failures if failure.errors)
    if codes:
        table = "\n".join(f"  {code.ljust(40)} {count}" for code, count in codes.most_common())
        log.warning("Rejected records by error code\n%s", table)
    for failure in failures[:MAX_LOGGED_FAILURES]:
        first = failure.errors[0] if failure.errors else RecordError("?", "")
        log.warning(
            "Rejected %s conversation %s: %s %s %s",
            failure.stage,
            failure.conversation_id,
            first.code,
            first.message,
            list(first.fields) or "",
        )
    if len(failures) > MAX_LOGGED_FAILURES:
        log.warning(
            "... %d more rejected records in %s", len(failures) - MAX_LOGGED_FAILURES, result.failed_path
        )


def _as_list(paths: Any) -> list[Any]:
    """One path or many (strings, ``os.PathLike`` or ``ObjectStoragePath``)."""
    if isinstance(paths, str | os.PathLike) or hasattr(paths, "open"):
        return [paths]
    return list(paths)
