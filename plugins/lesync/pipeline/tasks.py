"""What each DAG task does, as plain functions: plan, extract, transform, load, report, cleanup.

The DAG files only wire these together; tests and benchmarks call them directly. Inputs and
outputs are small JSON-able dicts (they travel as XCom): paths and counts, never records.
Every function is idempotent: a retry or a rerun rewrites the same staged files and upserts
the same external ids, so Airflow's retries are always safe.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from lesync.config import Integration
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
CHANNELS = ("chat", "messaging")


class SyncRefusedError(ValueError):
    """The request cannot be synced as asked (bad window, open conversation); retrying won't help."""


class RecordsRejectedError(RuntimeError):
    """Some records were rejected; everything else was loaded. The message lists them."""


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


# --- staging ------------------------------------------------------------------------------------


def staging_root(integration: Integration) -> Any:
    """The staging store of an integration (its credentials from ``staging.conn_id``)."""
    return as_path(integration.staging.root or default_root(), conn_id=integration.staging.conn_id)


def run_dir(integration: Integration, run_id: str) -> Any:
    """This run's staging folder (raw/, rows/, load/ below it)."""
    return run_folder(staging_root(integration), integration.name, run_id)


# --- extract ------------------------------------------------------------------------------------


def extract(integration: Integration, unit: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Stage one unit's LivePerson records untouched; returns paths and counts."""
    from lesync.liveperson.errors import ConversationNotEndedError, ConversationNotFoundError
    from lesync.liveperson.hook import LivePersonHook
    from lesync.pipeline.extract import extract_conversation, extract_window

    client = LivePersonHook(integration.liveperson_conn_id).get_conn()
    out_dir = run_dir(integration, run_id) / "raw"
    if "conversation_id" in unit:
        try:
            return extract_conversation(client, unit["channel"], unit["conversation_id"], out_dir).as_xcom()
        except (ConversationNotEndedError, ConversationNotFoundError) as exc:
            raise SyncRefusedError(str(exc)) from None
    window = Window.from_dict(unit)
    return extract_window(
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
    ).as_xcom()


# --- transform ----------------------------------------------------------------------------------


def compiled_mapping(integration: Integration):
    """The integration's mapping with its transcript choices applied."""
    from lesync.mapping import load_mapping

    mapping = load_mapping(integration.mapping_path())
    return mapping.with_transcript(
        mode=integration.transcript.save_mode,
        include_private=integration.transcript.include_private,
        split_parts=integration.transcript.split_parts
        and bool(mapping.transcript and mapping.transcript.part_fields),
    )


def transform(integration: Integration, extracted: list[dict[str, Any]], run_id: str) -> dict[str, Any]:
    """Map every staged record to a Salesforce row, with the org's own field limits (describe)."""
    from lesync.mapping.limits import fields_meta_from_describe
    from lesync.pipeline.transform import transform_files

    mapping = compiled_mapping(integration)
    client = salesforce_client(integration)
    describe = client.describe(mapping.object)
    raw_paths = [path for result in extracted for path in result.get("paths", [])]
    out_path = run_dir(integration, run_id) / "rows" / "rows.jsonl.gz"
    result = transform_files(raw_paths, out_path, mapping, fields_meta_from_describe(describe))
    result["salesforce_calls"] = client.api_calls
    return result


def salesforce_client(integration: Integration):
    """The integration's Salesforce client; it stops before the org's reserve is touched."""
    from lesync.salesforce.hook import LesyncSalesforceHook
    from lesync.salesforce.settings import BudgetSettings

    budget = BudgetSettings(reserve_fraction=integration.limits.api_reserve_percent / 100)
    return LesyncSalesforceHook(integration.salesforce_conn_id, budget=budget).get_client()


# --- load ---------------------------------------------------------------------------------------


def load_options(integration: Integration):
    from lesync.pipeline.load import LoadOptions

    mapping = compiled_mapping(integration)
    return LoadOptions.model_validate(
        {
            "transcript_mode": integration.transcript.save_mode,
            "upsert": {
                "object_name": mapping.object,
                "external_id_field": mapping.external_id_field,
                "transcript_field": (mapping.transcript and mapping.transcript.field) or "Transcript__c",
                "bulk_threshold": integration.limits.bulk_threshold,
            },
            "files": {"max_file_bytes": int(integration.transcript.max_file_mb * 1024 * 1024)},
            "linking": {
                "enabled": integration.linking.enabled,
                "email_field": integration.linking.email_field,
                "phone_field": integration.linking.phone_field,
                "blocked_domains": list(integration.linking.block_domains),
                "blocked_addresses": list(integration.linking.block_addresses),
            },
        }
    )


def load(integration: Integration, transformed: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Upsert the staged rows and their transcript files; returns counts and the failed-records file."""
    from lesync.pipeline.load import load_rows

    client = salesforce_client(integration)
    out_dir = run_dir(integration, run_id) / "load"
    return load_rows(client, [transformed["rows_path"]], str(out_dir), load_options(integration))


# --- report -------------------------------------------------------------------------------------


def report(
    integration: Integration,
    kind: str,
    extracted: list[dict[str, Any]],
    transformed: dict[str, Any],
    loaded: dict[str, Any],
) -> dict[str, Any]:
    """The run summary for the log and XCom; raises RecordsRejectedError when any record failed."""
    summary = {
        "integration": integration.name,
        "kind": kind,
        "extracted": sum(r.get("records", 0) for r in extracted),
        "conversations": transformed.get("rows", 0),
        "created": loaded.get("created", 0),
        "updated": loaded.get("updated", 0),
        "failed": loaded.get("failed", 0),
        "skipped": loaded.get("skipped", 0),
        "files_uploaded": loaded.get("files_uploaded", 0),
        "files_unchanged": loaded.get("files_unchanged", 0),
        "files_skipped": loaded.get("files_skipped", 0),
        "liveperson_calls": sum(r.get("calls", 0) for r in extracted),
        "salesforce_calls": transformed.get("salesforce_calls", 0) + loaded.get("api_calls", 0),
        "failed_path": loaded.get("failed_path"),
    }
    log.info("run summary:\n%s", format_summary(summary))
    if summary["failed"]:
        raise RecordsRejectedError(
            f"{summary['failed']} record(s) were rejected (everything else was loaded); "
            f"each is listed in the load task's log with Salesforce's error, and in {summary['failed_path']}"
        )
    return summary


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
