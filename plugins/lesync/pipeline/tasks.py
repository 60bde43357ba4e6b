"""What each DAG task does, as plain functions: plan, extract, transform, load, report, cleanup.

The DAG files only wire these together; tests and benchmarks call them directly (passing their
own clients). Stage results are the typed contracts of ``lesync.contracts``: each function takes
the dataclass or its XCom dict (``X.from_xcom``) and returns ``X.as_xcom()``: paths and counts,
never records. Every function is idempotent: a retry or a rerun rewrites the same staged files
and upserts the same external ids, so Airflow's retries are safe for faults that can pass;
``is_permanent`` names the faults that cannot (the factory fails those at once).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time
from typing import Any

from lesync.config import Integration
from lesync.contracts import CHANNELS, ExtractResult, LoadResult, RunSummary, TransformResult
from lesync.pipeline.plan import (
    DAILY_LOOKBACK,
    PERIODIC_LOOKBACK,
    Window,
    lookback_window,
    manual_window,
    slices,
)
from lesync.pipeline.staging import as_path, default_root, run_folder, safe_name
from lesync.window import ensure_aware

log = logging.getLogger(__name__)

KINDS = ("periodic", "daily", "manual", "conversation")


class SyncRefusedError(ValueError):
    """The request cannot be synced as asked (bad window, open conversation); retrying won't help."""


class RecordsRejectedError(RuntimeError):
    """Some records were rejected; everything else was loaded. The message lists them."""


# --- permanent faults ---------------------------------------------------------------------------

#: Faults no retry can fix: the admin must change a key, a setting, the org or the request.
#: (module, class) so that naming them imports no client library at DAG parse time.
PERMANENT_ERRORS = (
    ("lesync.liveperson.errors", "LivePersonAuthError"),  # 401: wrong keys or client
    ("lesync.liveperson.errors", "LivePersonPermissionError"),  # 403: key lacks the permission
    ("lesync.salesforce.budget", "ApiBudgetExceededError"),  # daily limit spent / reserve reached
    ("lesync.mapping.spec", "MappingError"),  # the mapping file is wrong
    ("lesync.contracts", "SchemaMismatchError"),  # the mapping names fields the org lacks
    ("lesync.pipeline.tasks", "SyncRefusedError"),  # bad window, open or unknown conversation
    ("lesync.pipeline.tasks", "RecordsRejectedError"),  # the records stay rejected on a rerun
)
#: A Salesforce login refused with HTTP 4xx (invalid_client, invalid_grant): a wrong secret,
#: key or user. An unreachable token endpoint raises the same class and stays retryable.
_LOGIN_REFUSED = re.compile(r"\(HTTP 4\d\d\b")


def is_permanent(exc: BaseException) -> bool:
    """True when retrying the task cannot help (see ``PERMANENT_ERRORS``)."""
    if isinstance(exc, _permanent_classes()):
        return True
    if type(exc).__name__ == "SalesforceAuthError":
        status = getattr(exc, "status", None)
        return (400 <= status < 500) if isinstance(status, int) else bool(_LOGIN_REFUSED.search(str(exc)))
    return False


def _permanent_classes() -> tuple[type[BaseException], ...]:
    import importlib

    return tuple(getattr(importlib.import_module(module), name) for module, name in PERMANENT_ERRORS)


# --- plan ---------------------------------------------------------------------------------------


def plan(
    integration: Integration,
    kind: str,
    params: dict[str, Any],
    interval_end: dt.datetime | None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The units of extract work for one run: one per channel and slice, or the one conversation."""
    now = ensure_aware(now or dt.datetime.now(dt.UTC), "now")
    interval_end = ensure_aware(interval_end, "data interval end") if interval_end else None
    if kind == "conversation":
        return [_conversation_unit(params)]
    channels = _channels(integration, params)
    window = _window(kind, params, interval_end or now, now)
    units = [
        {"channel": channel, "slice": f"{index:03d}", **piece.as_dict()}
        for channel in channels
        for index, piece in enumerate(slices(window, integration.limits.slice_hours))
    ]
    log.info(
        "plan: %s run of %s over %s .. %s: %d unit(s) (%s)",
        kind,
        integration.name,
        window.start.isoformat(),
        window.end.isoformat(),
        len(units),
        ", ".join(channels),
    )
    return units


def _window(kind: str, params: dict[str, Any], interval_end: dt.datetime, now: dt.datetime) -> Window:
    if kind == "periodic":
        return lookback_window(interval_end, PERIODIC_LOOKBACK)
    if kind == "daily":
        return lookback_window(interval_end, DAILY_LOOKBACK)
    if kind == "manual":
        start, end = params.get("start"), params.get("end")
        if not start or not end:
            raise SyncRefusedError(
                "a manual sync needs both 'start' and 'end' (ISO-8601 date-times with an offset)"
            )
        try:
            return manual_window(start, end, now)
        except ValueError as exc:
            raise SyncRefusedError(f"manual sync refused: {exc}") from None
    raise SyncRefusedError(f"unknown sync kind {kind!r}; expected one of {', '.join(KINDS)}")


def _channels(integration: Integration, params: dict[str, Any]) -> list[str]:
    asked = params.get("channels") or list(integration.channels)
    unknown = [c for c in asked if c not in CHANNELS]
    if unknown:
        raise SyncRefusedError(f"unknown channel(s) {unknown}; choose from {list(CHANNELS)}")
    not_enabled = [c for c in asked if c not in integration.channels]
    if not_enabled:
        raise SyncRefusedError(
            f"channel(s) {not_enabled} are not enabled for integration {integration.name!r} "
            f"(it syncs {list(integration.channels)}); change 'channels' in include/integrations.yaml"
        )
    return list(dict.fromkeys(asked))


def _conversation_unit(params: dict[str, Any]) -> dict[str, Any]:
    conversation_id = str(params.get("conversation_id") or "").strip()
    channel = params.get("channel") or ""
    if not conversation_id:
        raise SyncRefusedError(
            "'conversation_id' is empty: give the chat engagement or messaging conversation id"
        )
    if channel not in CHANNELS:
        raise SyncRefusedError(f"'channel' must be 'chat' or 'messaging', not {channel!r}")
    return {"channel": channel, "conversation_id": conversation_id, "slice": "conversation"}


def unit_label(unit: dict[str, Any]) -> str:
    """How a unit reads in the UI and logs: ``chat 000``, ``messaging conversation``."""
    return f"{unit['channel']} {unit['slice']}"


# --- staging ------------------------------------------------------------------------------------


def staging_root(integration: Integration) -> Any:
    """The staging store of an integration (its credentials from ``staging.conn_id``)."""
    return as_path(integration.staging.root or default_root(), conn_id=integration.staging.conn_id)


def run_dir(integration: Integration, run_id: str) -> Any:
    """This run's staging folder (raw/, rows/, load/ below it)."""
    return run_folder(staging_root(integration), integration.name, run_id)


# --- extract ------------------------------------------------------------------------------------


def extract(
    integration: Integration, unit: dict[str, Any], run_id: str, client: Any = None
) -> dict[str, Any]:
    """Stage one unit's LivePerson records untouched; ``client`` defaults to the integration's hook."""
    from lesync.liveperson.errors import ConversationNotEndedError, ConversationNotFoundError
    from lesync.pipeline.extract import extract_conversation, extract_window

    client = client or liveperson_client(integration)
    out_dir = run_dir(integration, run_id) / "raw"
    if "conversation_id" in unit:
        try:
            found = extract_conversation(client, unit["channel"], unit["conversation_id"], out_dir)
        except (ConversationNotEndedError, ConversationNotFoundError) as exc:
            raise SyncRefusedError(str(exc)) from None
        return ExtractResult.from_xcom(found).as_xcom()
    window = Window.from_dict(unit)
    extracted = extract_window(
        client,
        unit["channel"],
        window.start,
        window.end,
        out_dir,
        skills=list(integration.skills) or None,
        slice_id=unit["slice"],
        # Only a run's first slice asks for "started earlier, updated since": that search has
        # no upper bound, so later slices would fetch the same conversations again.
        update_search=unit["slice"] == "000",
    )
    return ExtractResult.from_xcom(extracted).as_xcom()


def liveperson_client(integration: Integration):
    """The integration's LivePerson client (from its Airflow connection)."""
    from lesync.liveperson.hook import LivePersonHook

    return LivePersonHook(integration.liveperson_conn_id).get_conn()


# --- transform ----------------------------------------------------------------------------------


def compiled_mapping(integration: Integration):
    """The integration's mapping, transcript choices included (the mapping file owns them)."""
    from lesync.mapping import load_mapping

    return load_mapping(integration.mapping_path())


def transform(
    integration: Integration,
    extracted: list[dict[str, Any] | ExtractResult],
    run_id: str,
    client: Any = None,
) -> dict[str, Any]:
    """Map every staged record to a Salesforce row, with the org's own field limits (describe)."""
    from lesync.mapping.limits import fields_meta_from_describe
    from lesync.pipeline.transform import transform_files

    mapping = compiled_mapping(integration)
    client = client or salesforce_client(integration)
    calls_before = client.api_calls
    describe = client.describe(mapping.object)
    raw_paths = [path for result in extracted for path in ExtractResult.from_xcom(result).paths]
    out_path = run_dir(integration, run_id) / "rows" / "rows.jsonl.gz"
    result = TransformResult.from_xcom(
        transform_files(raw_paths, out_path, mapping, fields_meta_from_describe(describe))
    )
    return dataclasses.replace(result, salesforce_calls=client.api_calls - calls_before).as_xcom()


def salesforce_client(integration: Integration):
    """The integration's Salesforce client; it stops before the org's reserve is touched."""
    from lesync.salesforce.hook import LesyncSalesforceHook
    from lesync.salesforce.settings import BudgetSettings

    budget = BudgetSettings(reserve_fraction=integration.limits.api_reserve_percent / 100)
    return LesyncSalesforceHook(integration.salesforce_conn_id, budget=budget).get_client()


# --- load ---------------------------------------------------------------------------------------


def load_options(integration: Integration):
    """The load's settings: the mapping's object and transcript choices, the integration's limits."""
    from lesync.pipeline.load import LoadOptions

    mapping = compiled_mapping(integration)
    transcript = mapping.transcript
    return LoadOptions.model_validate(
        {
            # No transcript section: nothing to upload, the field mode writes no transcript either.
            "transcript_mode": transcript.mode if transcript else "field",
            "upsert": {
                "object_name": mapping.object,
                "external_id_field": mapping.external_id_field,
                "transcript_field": (transcript and transcript.field) or "Transcript__c",
                "bulk_threshold": integration.limits.bulk_threshold,
            },
            "files": {"max_file_bytes": int(integration.transcript.max_file_mb * 1024 * 1024)},
            "linking": integration.linking,
        }
    )


def load(
    integration: Integration, transformed: dict[str, Any] | TransformResult, run_id: str, client: Any = None
) -> dict[str, Any]:
    """Upsert the staged rows and their transcript files; returns counts and the failed-records file."""
    from lesync.pipeline.load import load_rows

    client = client or salesforce_client(integration)
    rows_path = TransformResult.from_xcom(transformed).rows_path
    out_dir = run_dir(integration, run_id) / "load"  # the failures file: <run>/load/failed-N.jsonl.gz
    loaded = load_rows(client, [rows_path], str(out_dir), load_options(integration))
    return LoadResult.from_xcom(loaded).as_xcom()


# --- report -------------------------------------------------------------------------------------


def report(
    integration: Integration,
    kind: str,
    extracted: list[dict[str, Any] | ExtractResult],
    transformed: dict[str, Any] | TransformResult,
    loaded: dict[str, Any] | LoadResult,
) -> dict[str, Any]:
    """The run summary for the log and XCom; raises RecordsRejectedError when any record failed."""
    units = [ExtractResult.from_xcom(result) for result in extracted]
    rows, done = TransformResult.from_xcom(transformed), LoadResult.from_xcom(loaded)
    summary = RunSummary(
        integration=integration.name,
        kind=kind,
        extracted=sum(unit.records for unit in units),
        conversations=rows.rows,
        created=done.created,
        updated=done.updated,
        failed=done.failed,
        skipped=done.skipped,
        files_uploaded=done.files_uploaded,
        files_unchanged=done.files_unchanged,
        files_skipped=done.files_skipped,
        files_failed=done.files_failed,
        liveperson_calls=sum(unit.calls for unit in units),
        salesforce_calls=rows.salesforce_calls + done.api_calls,
        failed_path=done.failed_path,
    )
    log.info("run summary:\n%s", format_summary(summary.as_xcom()))
    if summary.failed:
        raise RecordsRejectedError(
            f"{summary.failed} record(s) were rejected (everything else was loaded); "
            f"each is listed in the load task's log with Salesforce's error, and in {summary.failed_path}"
        )
    return summary.as_xcom()


def format_summary(summary: dict[str, Any]) -> str:
    width = max(len(key) for key in summary)
    return "\n".join(f"  {key.ljust(width)}  {value}" for key, value in summary.items())


# --- cleanup ------------------------------------------------------------------------------------


def cleanup(integration: Integration, now: float | None = None) -> list[str]:
    """Remove this integration's staging folders older than its retention; returns what went."""
    retention = integration.staging.retention_days * 86400
    root = staging_root(integration) / safe_name(integration.name)
    if not root.exists():
        return []
    cutoff = (now or time.time()) - retention
    removed = []
    for folder in root.iterdir():
        if folder.is_dir() and _newest_mtime(folder) < cutoff:
            folder.fs.rm(folder.path, recursive=True)
            removed.append(folder.name)
    if removed:
        log.info(
            "cleanup: removed %d staging folder(s) older than %s days",
            len(removed),
            integration.staging.retention_days,
        )
    return removed


def _newest_mtime(folder: Any) -> float:
    newest = 0.0
    for path in folder.rglob("*"):
        try:
            newest = max(newest, path.stat().st_mtime)
        except (FileNotFoundError, AttributeError):
            continue
    return newest or folder.stat().st_mtime
