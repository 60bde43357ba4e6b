"""What a run remembers in the state store, and what it takes from it.

- plan: the run is started; records waiting for a replay (transient failures whose backoff has
  elapsed, permanent ones after a mapping change, anything queued by a person or a reconcile)
  and messaging conversations synced while open become by-id extract units;
- load: every record's outcome (and its transcript file's) goes to the ledger, for this attempt;
  open conversations are remembered, closed ones forgotten;
- reconcile: the verdict is attached to the run, ids missing in Salesforce are queued;
- report: the run is closed with counts taken from the ledger over all its attempts.

The store is reached through the integration's ``operations.state_conn_id`` and migrated once
per process. Nothing here calls LivePerson or Salesforce.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from lesync.config import Integration
from lesync.contracts import dag_id

log = logging.getLogger(__name__)


@functools.cache
def _store(conn_id: str):
    from lesync.state import StateStore

    store = StateStore.from_conn(conn_id)
    store.migrate()
    return store


def state_store(integration: Integration):
    """The integration's state store, migrated (once per process)."""
    return _store(integration.operations.state_conn_id)


def run_key_of(integration: Integration, kind: str, run_id: str) -> str:
    """The store's run id: Airflow's run ids repeat between DAGs, so the DAG id goes in front."""
    from lesync.state import run_key

    return run_key(dag_id(integration.name, kind), run_id)


def mapping_version(integration: Integration) -> str:
    """A short hash of the mapping file: a permanent failure is retried once the mapping changes."""
    return hashlib.sha256(integration.mapping_path().read_bytes()).hexdigest()[:12]


# --- plan ---------------------------------------------------------------------------------------


def begin_run(
    integration: Integration, kind: str, run_id: str, start: dt.datetime | None, end: dt.datetime | None
) -> None:
    state_store(integration).start_run(
        integration.name, kind, run_key_of(integration, kind, run_id), start, end
    )


def replay_units_for(
    integration: Integration, kind: str, run_id: str, run_folder_of: Any, now: dt.datetime
) -> list[dict[str, Any]]:
    """By-id units for the records waiting for a replay; the run takes them (others leave them)."""
    from lesync.pipeline.replay import replay_units
    from lesync.state import dag_run_of

    settings = integration.operations
    if not settings.replays_per_run:
        return []
    store = state_store(integration)
    pending = store.pending_replays(
        integration.name,
        now,
        max_attempts=settings.replay_max_attempts,
        mapping_version=mapping_version(integration),
        limit=settings.replays_per_run,
    )
    pending = [row for row in pending if row.get("channel") in integration.channels]
    if not pending:
        return []
    store.mark_replay_taken(
        integration.name, [row["liveperson_id"] for row in pending], run_key_of(integration, kind, run_id)
    )
    wanted = []
    for row in pending:
        raw = None
        if row.get("last_run_id"):
            _, failed_run = dag_run_of(row["last_run_id"])
            raw = str(run_folder_of(failed_run) / "raw")
        wanted.append({"channel": row["channel"], "liveperson_id": row["liveperson_id"], "raw_path": raw})
    reasons = Counter(row.get("reason") or "?" for row in pending)
    log.info(
        "plan: %d record(s) to replay (%s)", len(pending), ", ".join(f"{k} {v}" for k, v in reasons.items())
    )
    return [{**unit, "kind": kind} for unit in replay_units(wanted, label="replay")]


NOT_FOUND = "NOT_FOUND"


def record_not_found(integration: Integration, kind: str, run_id: str, channel: str, ids: list[str]) -> int:
    """Records a replay found neither in the raw archive nor in LivePerson: a permanent failure in
    the ledger (shown on the page, not taken again by every run once its replay lease ends)."""
    from lesync.state import LedgerOutcome

    entries = [
        LedgerOutcome(
            channel,
            liveperson_id,
            "failed",
            error_code=NOT_FOUND,
            message="neither in the raw archive nor in LivePerson (deleted, or past LivePerson's retention)",
        )
        for liveperson_id in ids
    ]
    return state_store(integration).record_outcomes(
        run_key_of(integration, kind, run_id),
        integration.name,
        entries,
        mapping_version=mapping_version(integration),
    )


def recheck_units_for(integration: Integration, window_start: dt.datetime) -> list[dict[str, Any]]:
    """One unit re-checking messaging conversations synced while open that started before the
    window (the window's own search returns the others), least recently checked first."""
    limit = integration.operations.recheck_open_per_run
    if "messaging" not in integration.channels or not limit:
        return []
    store = state_store(integration)
    rows = store.open_conversations(integration.name, "messaging", limit=limit, started_before=window_start)
    ids = [row["conversation_id"] for row in rows]
    if not ids:
        return []
    log.info("plan: %d messaging conversation(s) synced while open are re-checked by id", len(ids))
    return [{"channel": "messaging", "slice": "recheck", "recheck": ids}]


def _moment(value: Any) -> dt.datetime | None:
    from lesync.pipeline.reconcile import salesforce_moment

    return salesforce_moment(value)


# --- load ---------------------------------------------------------------------------------------


def ledger_outcomes(outcome: Any, seen: dict[str, Any], retryable_codes: Iterable[str]) -> list[Any]:
    """One ``LedgerOutcome`` per record (and per transcript file) of a load."""
    from lesync.state import LedgerOutcome

    transient_codes = frozenset(retryable_codes)
    failures = {(f.conversation_id, f.stage): f for f in outcome.failures}
    entries = []
    for liveperson_id, facts in seen.items():
        channel = facts["channel"]
        failure = failures.get((liveperson_id, "transform")) or failures.get((liveperson_id, "upsert"))
        result = outcome.outcomes.get(liveperson_id)
        if failure is not None:
            entries.extend(_failed(LedgerOutcome, channel, liveperson_id, failure.errors, transient_codes))
        elif result is not None and result.success:
            operation = "created" if result.created else "updated"
            entries.append(LedgerOutcome(channel, liveperson_id, operation, salesforce_id=result.record_id))
        elif result is None:
            entries.append(LedgerOutcome(channel, liveperson_id, "skipped"))
        file_failure = failures.get((liveperson_id, "file"))
        if file_failure is not None:
            entries.extend(
                _failed(LedgerOutcome, channel, liveperson_id, file_failure.errors, transient_codes, "file")
            )
        elif liveperson_id in outcome.file_status:
            entries.append(
                _file_entry(LedgerOutcome, channel, liveperson_id, outcome.file_status[liveperson_id])
            )
    return entries


def _failed(
    cls: Any, channel: str, liveperson_id: str, errors: list, transient_codes, target: str = "record"
):
    from lesync.contracts import RecordError

    error = errors[0] if errors else RecordError("UNKNOWN", "no error given")
    transient = bool(errors) and all(e.code in transient_codes for e in errors)
    return [cls.failure(channel, liveperson_id, error, transient=transient, target=target)]


_FILE_OPERATION = {"uploaded": "created", "unchanged": "unchanged", "skipped": "skipped", "failed": "failed"}


def _file_entry(cls: Any, channel: str, liveperson_id: str, status: str):
    return cls(channel, liveperson_id, _FILE_OPERATION.get(status, "skipped"), target="file")


def record_load(
    integration: Integration,
    kind: str,
    run_id: str,
    outcome: Any,
    seen: dict[str, Any],
    retryable_codes: Iterable[str],
    attempt: int,
) -> int:
    """Write a load attempt's outcomes to the ledger; remember open conversations, forget closed."""
    store = state_store(integration)
    entries = ledger_outcomes(outcome, seen, retryable_codes)
    written = store.record_outcomes(
        run_key_of(integration, kind, run_id),
        integration.name,
        entries,
        attempt=attempt,
        mapping_version=mapping_version(integration),
    )
    _track_open(store, integration, seen, outcome)
    return written


def _track_open(store: Any, integration: Integration, seen: dict[str, Any], outcome: Any) -> None:
    """Open messaging conversations that landed are checked again later; closed ones no more."""
    landed = {key for key, result in outcome.outcomes.items() if result.success}
    still_open = [key for key, facts in seen.items() if facts["status"] == "open" and key in landed]
    closed = [
        key for key, facts in seen.items() if facts["channel"] == "messaging" and facts["status"] != "open"
    ]
    if still_open:
        started = {key: _moment(seen[key].get("start")) for key in still_open}
        store.remember_open(integration.name, "messaging", still_open, started=started)
        store.touch_open_checked(integration.name, "messaging", still_open)
    if closed:
        store.forget_open(integration.name, "messaging", closed)


# --- reconcile and report -----------------------------------------------------------------------


def queue_missing(integration: Integration, missing: dict[str, set[str]]) -> int:
    """Ids LivePerson has and Salesforce lacks: the next run (or the replay DAG) takes them."""
    store = state_store(integration)
    return sum(
        store.queue_replay(integration.name, sorted(ids), channel=channel)
        for channel, ids in missing.items()
        if ids
    )


def attach_verdict(integration: Integration, kind: str, run_id: str, verdict: dict[str, Any]) -> None:
    state_store(integration).set_verdict(run_key_of(integration, kind, run_id), verdict)


def finish_run(
    integration: Integration, kind: str, run_id: str, summary: dict[str, Any], failed: bool
) -> dict[str, int]:
    """Close the run; returns the counts over all its attempts (from the ledger)."""
    return state_store(integration).finish_run(
        run_key_of(integration, kind, run_id), summary, "failed" if failed else "success"
    )


def close_if_running(integration: Integration, kind: str, run_id: str) -> None:
    """A run whose report never ran (a task failed before it) is closed as failed."""
    store = state_store(integration)
    key = run_key_of(integration, kind, run_id)
    run = store.get_run(key)
    if run and run.get("state") == "running":
        store.finish_run(key, {}, "failed")


def purge(integration: Integration, now: dt.datetime) -> dict[str, int]:
    return state_store(integration).purge(now, ledger_days=int(integration.operations.ledger_retention_days))
