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
import math
import re
import time
from typing import Any, TypeVar

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

KINDS = ("periodic", "daily", "manual", "conversation", "replay", "reconcile", "incremental")
#: Kinds that sync a window (and reconcile it); the others sync records chosen by id.
WINDOW_KINDS = ("periodic", "daily", "manual", "incremental")
#: What a run that loads nothing (a reconcile without heal) reports as its load.
EMPTY_LOAD: dict[str, Any] = {}


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
    ("lesync.org.check", "OrgCheckError"),  # the org lacks what the mapping needs
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
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """The units of extract work for one run: one per channel and slice, or the one conversation,
    or the records chosen by id. Given the ``run_id``, the run is recorded in the state store and
    a window run also takes the records waiting for a replay and the open conversations to
    re-check (see ``lesync.pipeline.operations``)."""
    from lesync.pipeline import operations

    now = ensure_aware(now or dt.datetime.now(dt.UTC), "now")
    interval_end = ensure_aware(interval_end, "data interval end") if interval_end else None
    if kind == "conversation":
        units = [_conversation_unit(params)]
        if run_id:
            check_org(integration, run_id)
            operations.begin_run(integration, kind, run_id, None, None)
        return units
    if kind == "replay":
        return _replay_units(integration, params, run_id, now)
    if kind == "incremental":
        return _incremental_units(integration, params, interval_end or now, run_id, now)
    channels = _channels(integration, params)
    window = _window(kind, params, interval_end or now, now)
    units = [unit for channel in channels for unit in _slice_units(integration, channel, window)]
    if run_id:
        check_org(integration, run_id)
        operations.begin_run(integration, kind, run_id, window.start, window.end)
        if kind in WINDOW_KINDS:
            units += operations.replay_units_for(integration, kind, run_id, _run_folder_of(integration), now)
            units += operations.recheck_units_for(integration, window.start)
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


def _slice_units(integration: Integration, channel: str, window: Window) -> list[dict[str, Any]]:
    """One extract unit per slice of ``limits.slice_hours``: ``{"channel", "slice": "000", start, end}``."""
    pieces = slices(window, integration.limits.slice_hours)
    return [
        {"channel": channel, "slice": f"{index:03d}", **piece.as_dict()} for index, piece in enumerate(pieces)
    ]


def _window(kind: str, params: dict[str, Any], interval_end: dt.datetime, now: dt.datetime) -> Window:
    if kind == "periodic":
        return lookback_window(interval_end, PERIODIC_LOOKBACK)
    if kind == "daily":
        return lookback_window(interval_end, DAILY_LOOKBACK)
    if kind in ("manual", "reconcile"):
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


def check_org(integration: Integration, run_id: str, client: Any = None) -> dict[str, Any]:
    """The org check of ``python -m lesync org check`` before any load: one describe per object
    involved, kept in the run folder for the transform; blockers fail the run here, not later."""
    import json

    from lesync.org.check import describe_and_check

    client = client or salesforce_client(integration)
    report, describes = describe_and_check(client, compiled_mapping(integration), integration)
    path = _describes_path(integration, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(describes))
    report.raise_on_blockers()
    return report.as_dict()


def _describe(
    integration: Integration, run_id: str, client: Any, object_name: str
) -> tuple[dict[str, Any], int]:
    """The object's describe and the Salesforce calls it took: the one plan fetched for this run
    (no call, no login), else a new call, kept for the run's other tasks (when no plan ran:
    benchmarks, tests)."""
    import json

    known = _run_describes(integration, run_id)
    if object_name in known:
        return known[object_name], 0
    client = client or salesforce_client(integration)
    before = client.api_calls
    described = client.describe(object_name)
    path = _describes_path(integration, run_id)
    partial = path.parent / ".describe.json.partial"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(json.dumps({**known, object_name: described}))
    partial.rename(path)  # whole or not at all: a shard's load may read it meanwhile
    return described, client.api_calls - before


def _run_describes(integration: Integration, run_id: str) -> dict[str, Any]:
    """Object -> describe, as the run's org check stored them (empty when it did not run)."""
    import json

    path = _describes_path(integration, run_id)
    return json.loads(path.read_text()) if path.exists() else {}


def _describes_path(integration: Integration, run_id: str) -> Any:
    return run_dir(integration, run_id) / "describe.json"


def _replay_units(
    integration: Integration, params: dict[str, Any], run_id: str | None, now: dt.datetime
) -> list[dict[str, Any]]:
    """The replay DAG's selection (ids, an error code, a run, or everything pending), queued in the
    ledger and taken by this run at once."""
    from lesync.pipeline import operations

    selection = _replay_selection(params)
    store = operations.state_store(integration)
    queued = store.queue_replay(integration.name, **selection)
    log.info(
        "replay: %d record(s) queued by %s", queued, ", ".join(f"{k}={v!r}" for k, v in selection.items())
    )
    if not run_id:
        return []
    check_org(integration, run_id)
    operations.begin_run(integration, "replay", run_id, None, None)
    units = operations.replay_units_for(integration, "replay", run_id, _run_folder_of(integration), now)
    if not units:
        log.info("replay: nothing to replay (the selection matched no open failure)")
    return units


def _replay_selection(params: dict[str, Any]) -> dict[str, Any]:
    ids = [str(i).strip() for i in params.get("liveperson_ids") or () if str(i).strip()]
    given = {
        "liveperson_ids": ids or None,
        "error_code": (params.get("error_code") or "").strip() or None,
        "run_id": (params.get("run_id") or "").strip() or None,
        "all_pending": bool(params.get("all_pending")),
    }
    chosen = {key: value for key, value in given.items() if value}
    if len(chosen) != 1:
        raise SyncRefusedError(
            "a replay needs exactly one of 'liveperson_ids' (a list), 'error_code', 'run_id' (a run "
            "key such as lesync__demo__manual/<run id>) or 'all_pending': true; "
            f"got {sorted(chosen) or 'none'}"
        )
    if ids and params.get("channel"):
        chosen["channel"] = params["channel"]
    return chosen


def _run_folder_of(integration: Integration) -> Any:
    return lambda run_id: run_dir(integration, run_id)


def unit_label(unit: dict[str, Any]) -> str:
    """How a unit reads in the UI and logs: ``chat 000``, ``messaging conversation``."""
    return f"{unit['channel']} {unit['slice']}"


# --- incremental --------------------------------------------------------------------------------

#: The state store's high-water mark of the incremental DAG (one per integration).
INCREMENTAL_STREAM = "incremental"


def _incremental_units(
    integration: Integration,
    params: dict[str, Any],
    moment: dt.datetime,
    run_id: str | None,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """The incremental run's units: chats from ``chat_start``, messaging from ``messaging_start``
    (the first slice with the update search), up to the settled end; plus replays and open
    conversations to re-check, as a window run takes them. No units when nothing settled since
    the mark: the run ends at once, without a LivePerson call. ``moment`` is the run's scheduled time."""
    from lesync.pipeline import operations
    from lesync.pipeline.incremental import incremental_plan

    channels = _channels(integration, params)
    store = operations.state_store(integration)
    mark = store.get_watermark(integration.name, INCREMENTAL_STREAM)
    planned = incremental_plan(mark, moment, **integration.incremental.planner_settings())
    if planned is None:
        log.info(
            "plan: nothing settled since the mark %s; this incremental run has no work", mark.isoformat()
        )
        return []
    units = []
    for channel in channels:
        start = planned.chat_start if channel == "chat" else planned.messaging_start
        for unit in _slice_units(integration, channel, Window(start, planned.end)):
            unit["reconcile_from"] = planned.messaging_start.isoformat()
            if channel == "chat" and mark is not None:
                # The run that set the mark delivered every chat that had ended by then.
                unit["ended_since"] = planned.messaging_start.isoformat()
            units.append(unit)
    if run_id:
        operations.begin_run(integration, "incremental", run_id, planned.messaging_start, planned.end)
        units += operations.replay_units_for(
            integration, "incremental", run_id, _run_folder_of(integration), now
        )
        units += _incremental_rechecks(integration, planned.messaging_start)
    log.info(
        "plan: incremental run of %s from mark %s: chat from %s, messaging from %s, to %s: %d unit(s)",
        integration.name,
        mark.isoformat() if mark else "(none: first run)",
        planned.chat_start.isoformat(),
        planned.messaging_start.isoformat(),
        planned.end.isoformat(),
        len(units),
    )
    return units


def _incremental_rechecks(integration: Integration, window_start: dt.datetime) -> list[dict[str, Any]]:
    """A share of the open conversations to re-check by id, so each is checked about every
    ``recheck_open_every_minutes`` (least recently checked first) and the by-id calls per hour stay
    at about one per open conversation, not one per open conversation and run."""
    from lesync.pipeline import operations

    settings = integration.incremental
    units = operations.recheck_units_for(integration, window_start)
    if not units or not settings.recheck_open_every_minutes:
        return units
    ids = units[0]["recheck"]
    share = min(1.0, settings.interval_minutes / settings.recheck_open_every_minutes)
    taken = ids[: max(1, math.ceil(len(ids) * share))]
    return [{**units[0], "recheck": taken}]


def incremental_reconcile_units(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The units as the reconcile sees them: every channel from ``messaging_start``. The chats of
    the lookback before it were searched only to catch late ends: reconciling them would compare
    Salesforce's chats of hours with the few this run staged."""
    clipped = []
    for unit in units:
        if "reconcile_from" not in unit:
            clipped.append(unit)
            continue
        start = max(Window.from_dict(unit).start, dt.datetime.fromisoformat(unit["reconcile_from"]))
        if start < Window.from_dict(unit).end:
            clipped.append({**unit, "start": start.isoformat()})
    return clipped


def report_incremental(
    integration: Integration,
    extracted: list[dict[str, Any] | ExtractResult],
    transformed: Shards[TransformResult],
    loaded: Shards[LoadResult],
    run_id: str,
    verdict: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``report``, then the mark moves to the run's window end (never back).

    The report runs only when extract, transform, load and reconcile succeeded: every record of
    the window has its outcome in the ledger. Records Salesforce rejected fail the run as ever,
    but the mark still moves: the ledger replays them, and one record rejected for good must not
    hold every later conversation back."""
    try:
        summary = report(integration, "incremental", extracted, transformed, loaded, run_id, verdict)
    except RecordsRejectedError:
        advance_incremental_mark(integration, run_id)
        raise
    advance_incremental_mark(integration, run_id)
    interval = integration.incremental.interval_minutes
    log.info(
        "incremental: %d LivePerson and %d Salesforce call(s) this run; at one run every %d minutes "
        "about %d LivePerson calls per hour",
        summary["liveperson_calls"],
        summary["salesforce_calls"],
        interval,
        round(summary["liveperson_calls"] * 60 / interval),
    )
    return summary


def advance_incremental_mark(integration: Integration, run_id: str) -> dt.datetime | None:
    """Move the integration's mark to the end of this run's window (the store never moves it back)."""
    from lesync.pipeline import operations

    store = operations.state_store(integration)
    run = store.get_run(operations.run_key_of(integration, "incremental", run_id)) or {}
    end = run.get("window_end")
    if end is None:
        log.warning("incremental: run %s has no window in the state store; the mark stays", run_id)
        return store.get_watermark(integration.name, INCREMENTAL_STREAM)
    mark = store.set_watermark(integration.name, INCREMENTAL_STREAM, end)
    log.info("incremental: the mark of %s is now %s", integration.name, mark.isoformat())
    return mark


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
    content, prepare = _extract_choices(integration)
    if "ids" in unit:
        from lesync.pipeline import operations
        from lesync.pipeline.replay import extract_by_id

        result = extract_by_id(client, unit, out_dir, content, prepare)
        if result.not_found and unit.get("kind"):
            operations.record_not_found(integration, unit["kind"], run_id, unit["channel"], result.not_found)
        return result.as_xcom()
    if "recheck" in unit:
        from lesync.pipeline.extract import recheck_open

        found = recheck_open(
            client, unit["recheck"], out_dir, slice_id=unit["slice"], content=content, prepare=prepare
        )
        return found.as_xcom()
    if "conversation_id" in unit:
        try:
            found = extract_conversation(
                client, unit["channel"], unit["conversation_id"], out_dir, content, prepare
            )
        except (ConversationNotEndedError, ConversationNotFoundError) as exc:
            raise SyncRefusedError(str(exc)) from None
        return found.as_xcom()
    window = Window.from_dict(unit)
    if unit.get("ended_since") and unit["channel"] == "chat":
        client = ChatsEndedSince(client, dt.datetime.fromisoformat(unit["ended_since"]))
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
        content=content,
        prepare=prepare,
    )
    return extracted.as_xcom()


def _extract_choices(integration: Integration) -> tuple[list[str], Any]:
    """What messaging calls ask for (``contentToRetrieve``: what the mapping reads), and how a
    record is kept in the raw archive (redacted when the policy says ``raw_archive``)."""
    from lesync.mapping import content_to_retrieve, redact_record

    policy = integration.redaction
    prepare = (lambda record: redact_record(record, policy)) if policy and policy.raw_archive else None
    return content_to_retrieve(compiled_mapping(integration)), prepare


class ChatsEndedSince:
    """The LivePerson client, but ``chats`` leaves out chats that ended before ``since``.

    An incremental run searches chats by start from hours back (the only search Engagement
    History has); the chats of that lookback that ended before the previous run's window end
    minus the overlap were delivered by that run (the mark moved only once it had loaded them or
    put what Salesforce rejected in the ledger, which replays it), so loading them again every
    run would only churn Salesforce (updates, triggers, file checks). A chat without a readable
    end is kept."""

    def __init__(self, client: Any, since: dt.datetime):
        from lesync.window import to_epoch_ms

        self._client, self._since_ms, self.skipped = client, to_epoch_ms(since), 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def chats(self, start: dt.datetime, end: dt.datetime, skills: list[int] | None = None) -> Any:
        from lesync.pipeline.shards import record_version

        for record in self._client.chats(start, end, skills):
            ended = record_version(record, "chat")[1]
            if ended and ended < self._since_ms:
                self.skipped += 1
                continue
            yield record
        if self.skipped:
            log.info(
                "extract: %d chat(s) that ended before %s were delivered by the run before",
                self.skipped,
                dt.datetime.fromtimestamp(self._since_ms / 1000, dt.UTC).isoformat(),
            )


def liveperson_client(integration: Integration):
    """The integration's LivePerson client (from its Airflow connection)."""
    from lesync.liveperson.hook import LivePersonHook

    client = LivePersonHook(integration.liveperson_conn_id).get_conn()
    client.use_limiter(liveperson_limiter(integration, client.settings.account_id))
    return client


def liveperson_limiter(integration: Integration, account_id: str):
    """The account's shared request budget: a token bucket in the state store (keyed by account,
    so every integration, task and worker on it shares it; Airflow pools bound tasks, not rates)."""
    from lesync.liveperson.http import rate_limiter
    from lesync.pipeline import operations

    store, limits = operations.state_store(integration), integration.limits
    key = f"liveperson:{account_id}"

    def take() -> float:
        rate, burst = limits.liveperson_requests_per_second, limits.liveperson_burst
        return store.take_rate_tokens(key, 1, rate, burst)

    return rate_limiter(take)


# --- transform ----------------------------------------------------------------------------------


def compiled_mapping(integration: Integration):
    """The integration's mapping, transcript choices included (the mapping file owns them)."""
    from lesync.mapping import load_mapping

    return load_mapping(integration.mapping_path()).with_redaction(integration.redaction)


def shard(
    integration: Integration,
    extracted: list[dict[str, Any] | ExtractResult],
    run_id: str,
    shard_rows: int | None = None,
) -> list[dict[str, Any]]:
    """Cut the run's raw files into shards of about ``limits.shard_rows`` rows (``shard_rows``
    overrides; ``0``: one shard), as many as fill whole rounds of ``limits.salesforce_concurrency``
    loads, with the newest copy of each conversation chosen for the whole
    run (``lesync.pipeline.shards``). Always at least one shard, so a run without records still
    transforms, loads and reports (nothing)."""
    from lesync.pipeline.shards import RawFile, plan_shards, write_skip

    results = [ExtractResult.from_xcom(result) for result in extracted]
    files = [RawFile(path, _unit_tag(result, path)) for result in results for path in result.paths]
    size = integration.limits.shard_rows if shard_rows is None else shard_rows
    shards, _ = plan_shards(files, size or None, rounds_of=integration.limits.salesforce_concurrency)
    folder = run_dir(integration, run_id) / "shards"
    planned = []
    for one in shards:
        skip_path = folder / f"skip-{one.name}.json"
        if one.skip:
            write_skip(one, skip_path)
        planned.append(one.as_xcom(skip_path))
    return planned


def _unit_tag(result: ExtractResult, path: str) -> str:
    """How a raw file's unit reads in a shard's label: ``chat 2026-11-03``, ``messaging recheck``."""
    if result.window:
        start = result.window[0]
        return f"{result.channel} {start[:10] if start[11:16] == '00:00' else start[:16]}"
    if result.conversation_id:
        return f"{result.channel} {result.conversation_id}"
    name = path.rsplit("/", 1)[-1].split(".", 1)[0]  # messaging-recheck-0000
    return " ".join(name.rsplit("-", 1)[0].split("-", 1))


def transform(
    integration: Integration,
    work: dict[str, Any] | list[dict[str, Any] | ExtractResult],
    run_id: str,
    client: Any = None,
) -> dict[str, Any]:
    """Map one shard's winning records to Salesforce rows (``rows/rows-<shard>.jsonl.gz``), with
    the org's own field limits from the run's describe. Given the extract results instead of a
    shard (benchmarks, tests), the whole run is one shard."""
    from lesync.mapping.limits import fields_meta_from_describe
    from lesync.pipeline.shards import read_skip
    from lesync.pipeline.transform import transform_shard

    one = shard(integration, work, run_id, shard_rows=0)[0] if isinstance(work, list) else work
    mapping = compiled_mapping(integration)
    describe, calls = _describe(integration, run_id, client, mapping.object)
    out_path = run_dir(integration, run_id) / "rows" / f"rows-{one['shard']}.jsonl.gz"
    rows = transform_shard(
        one["paths"],
        read_skip(one.get("skip_path")),
        out_path,
        mapping,
        fields_meta_from_describe(describe),
    )
    result = TransformResult.from_xcom(rows)
    return dataclasses.replace(result, salesforce_calls=calls, shard=one["shard"]).as_xcom()


def shard_label(work: dict[str, Any]) -> str:
    """How a mapped transform or load reads in the UI: the shard's label."""
    return work.get("label") or f"shard {int(work['shard'])}"


def salesforce_client(integration: Integration):
    """The integration's Salesforce client; it stops before the org's reserve is touched."""
    from lesync.salesforce.hook import LesyncSalesforceHook
    from lesync.salesforce.settings import BudgetSettings

    budget = BudgetSettings(reserve_fraction=integration.limits.api_reserve_percent / 100)
    return LesyncSalesforceHook(integration.salesforce_conn_id, budget=budget).get_client()


# --- load ---------------------------------------------------------------------------------------


def load_options(integration: Integration, mapping: Any = None):
    """The load's settings: the mapping's object and transcript choices, the integration's limits."""
    from lesync.pipeline.load import LoadOptions

    mapping = mapping or compiled_mapping(integration)
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
                "bulk_parallel_jobs": integration.limits.bulk_jobs_in_flight,
            },
            "files": {
                "max_file_bytes": int(integration.transcript.max_file_mb * 1024 * 1024),
                "calls_in_flight": integration.limits.file_calls_in_flight,
            },
            "linking": integration.linking,
        }
    )


def load(
    integration: Integration,
    transformed: dict[str, Any] | TransformResult,
    run_id: str,
    client: Any = None,
    kind: str = "manual",
    attempt: int = 1,
) -> dict[str, Any]:
    """Upsert a shard's staged rows and their transcript files; every record's outcome goes to
    the ledger (this ``attempt`` of this shard's load), and what the shard saw to
    ``<run>/load/seen-<shard>.jsonl.gz`` for the reconcile. Returns counts and the failures file."""
    rows = TransformResult.from_xcom(transformed)
    return _load_rows(integration, [rows.rows_path], run_id, client, kind, attempt, rows.shard).as_xcom()


def _load_rows(
    integration: Integration,
    rows_paths: list[Any],
    run_id: str,
    client: Any,
    kind: str,
    attempt: int,
    name: str,
) -> LoadResult:
    from lesync.pipeline import operations
    from lesync.pipeline.load import load_with_outcomes
    from lesync.pipeline.staging import write_jsonl_gz

    client = client or salesforce_client(integration)
    mapping = compiled_mapping(integration)
    options = load_options(integration, mapping)
    out_dir = run_dir(integration, run_id) / "load"  # failures: <run>/load/failed-<name>-N.jsonl.gz
    result, outcome, seen = load_with_outcomes(
        client,
        rows_paths,
        str(out_dir),
        options,
        start_field(mapping),
        describes=_run_describes(integration, run_id),
        failures_name=f"failed-{name}",
    )
    operations.record_load(integration, kind, run_id, outcome, seen, options.upsert.retryable_codes, attempt)
    write_jsonl_gz(out_dir / f"seen-{name}.jsonl.gz", ({"id": key, **facts} for key, facts in seen.items()))
    return result


def start_field(mapping: Any) -> str | None:
    """The Salesforce field the mapping fills with the conversation's start (reconcile counts by it)."""
    for entry in mapping.spec.fields:
        if entry.lp_field == "startTime":
            return entry.target
    return None


# --- reconcile ----------------------------------------------------------------------------------


def reconcile(
    integration: Integration,
    kind: str,
    run_id: str,
    units: list[dict[str, Any]],
    client: Any = None,
    compare_ids: bool = False,
    heal: bool = False,
) -> dict[str, Any]:
    """LivePerson's conversations of the run's window against Salesforce's (one COUNT per channel;
    ids only when they differ). What is missing and unexplained is queued for a replay, or, with
    ``heal``, loaded at once from this run's rows. The verdict goes to the run in the state store."""
    from lesync.pipeline import operations
    from lesync.pipeline.reconcile import reconcile_window

    window_units = [unit for unit in units if "start" in unit and "end" in unit]
    mapping = compiled_mapping(integration)
    start = start_field(mapping)
    if not window_units or not start:
        why = "no window" if not window_units else "the mapping fills no field from startTime"
        log.warning("reconcile skipped: %s", why)
        return {"skipped": why}
    client = client or salesforce_client(integration)
    first = min(Window.from_dict(u).start for u in window_units)
    last = max(Window.from_dict(u).end for u in window_units)
    channels = sorted({unit["channel"] for unit in window_units})
    verdict, missing = reconcile_window(
        client,
        mapping,
        start,
        first,
        last,
        channels,
        _seen(integration, run_id),
        explained=_failed_ids(integration, run_id),
        compare_ids=compare_ids,
    )
    log.info("reconcile: %s", verdict.line())
    document = verdict.as_dict()
    lacking = {channel: ids for channel, ids in missing.items() if ids}
    if lacking and heal:
        document["healed"] = _heal(integration, kind, run_id, client, set().union(*lacking.values()))
    elif lacking:
        document["queued"] = operations.queue_missing(integration, lacking)
        log.warning(
            "reconcile: %d conversation(s) missing in Salesforce queued for replay", document["queued"]
        )
    operations.attach_verdict(integration, kind, run_id, document)
    return document


def _seen(integration: Integration, run_id: str) -> list[Any]:
    """What the run staged (from the load's ``seen`` file, else the transform's rows)."""
    from lesync.pipeline.reconcile import Seen, salesforce_moment
    from lesync.pipeline.staging import read_jsonl_gz

    folder = run_dir(integration, run_id)
    seen_paths = _staged(folder / "load", "seen-*.jsonl.gz")
    if seen_paths:
        seen = (row for path in seen_paths for row in read_jsonl_gz(path))
        facts = ((row["id"], row["channel"], row.get("start")) for row in seen)
    else:
        field = start_field(compiled_mapping(integration))
        rows = (row for path in _staged(folder / "rows", "rows-*.jsonl.gz") for row in read_jsonl_gz(path))
        facts = ((r["conversation_id"], r["channel"], (r.get("fields") or {}).get(field)) for r in rows)
    return [
        Seen(channel, key, moment) for key, channel, value in facts if (moment := salesforce_moment(value))
    ]


def _staged(folder: Any, pattern: str) -> list[Any]:
    """Every shard's file of a kind (``seen-*``, ``rows-*``) in a run folder, in shard order."""
    return sorted(folder.glob(pattern)) if folder.exists() else []


def _failed_ids(integration: Integration, run_id: str) -> set[str]:
    """Records this run's load already reported as failed: known, not unexplained."""
    from lesync.pipeline.staging import read_jsonl_gz

    folder = run_dir(integration, run_id) / "load"
    if not folder.exists():
        return set()
    return {
        str(row.get("conversation_id"))
        for path in folder.glob("failed-*.jsonl.gz")
        for row in read_jsonl_gz(path)
        if row.get("stage") != "file"
    }


def _heal(integration: Integration, kind: str, run_id: str, client: Any, missing: set[str]) -> dict[str, Any]:
    """Load the missing conversations from this run's rows now (the reconcile DAG's heal)."""
    from lesync.pipeline.staging import read_jsonl_gz, write_jsonl_gz

    folder = run_dir(integration, run_id) / "rows"
    subset = folder / "missing.jsonl.gz"
    rows = (
        row
        for path in _staged(folder, "rows-*.jsonl.gz")
        for row in read_jsonl_gz(path)
        if row.get("conversation_id") in missing
    )
    count = write_jsonl_gz(subset, rows)
    result = _load_rows(integration, [subset], run_id, client, kind, attempt=1, name="healed")
    log.info(
        "reconcile: healed %d missing conversation(s): %d created, %d failed",
        count,
        result.created,
        result.failed,
    )
    return {"rows": count, "created": result.created, "updated": result.updated, "failed": result.failed}


# --- report -------------------------------------------------------------------------------------


def report(
    integration: Integration,
    kind: str,
    extracted: list[dict[str, Any] | ExtractResult],
    transformed: Shards[TransformResult],
    loaded: Shards[LoadResult],
    run_id: str | None = None,
    verdict: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run summary for the log, XCom and the state store; raises RecordsRejectedError when
    any record failed. Given the ``run_id``, record counts come from the ledger, over every
    attempt of the run (a load retried by Airflow still reports what it created)."""
    units = [ExtractResult.from_xcom(result) for result in extracted]
    rows, done = combined(TransformResult, transformed), combined(LoadResult, loaded)
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
        verdict=verdict,
    )
    if run_id:
        summary = _with_ledger_counts(integration, kind, run_id, summary)
    log.info("run summary:\n%s", format_summary(summary.as_xcom()))
    if summary.failed:
        raise RecordsRejectedError(
            f"{summary.failed} record(s) were rejected (everything else was loaded); "
            f"each is listed in the load task's log with Salesforce's error, and in {summary.failed_path}"
        )
    return summary.as_xcom()


Result = TypeVar("Result", TransformResult, LoadResult)
#: One shard's result or every shard's (a mapped task's results).
Shards = dict[str, Any] | Result | list[dict[str, Any] | Result]


def combined(cls: type[Result], results: Shards[Result]) -> Result:
    """Every shard's result as one: counts added up (per channel too), the first path named."""
    parts = [cls.from_xcom(one) for one in (results if isinstance(results, list) else [results])]
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        values = [getattr(part, field.name) for part in parts]
        if isinstance(values[0], int):
            merged[field.name] = sum(values)
        elif isinstance(values[0], dict):
            merged[field.name] = {key: sum(v.get(key, 0) for v in values) for key in values[0]}
        else:
            merged[field.name] = next((value for value in values if value), values[0])
    return cls(**merged)


def _with_ledger_counts(integration: Integration, kind: str, run_id: str, summary: RunSummary) -> RunSummary:
    """The summary with the ledger's counts over all attempts of the run; the run closed in the store."""
    from lesync.pipeline import operations

    store = operations.state_store(integration)
    counts = store.run_counts(operations.run_key_of(integration, kind, run_id))
    if counts["records"]:
        summary = dataclasses.replace(
            summary,
            created=counts["created"],
            updated=counts["updated"],
            failed=counts["failed"] + counts["files_failed"],
            files_failed=counts["files_failed"],
        )
    record = {key: value for key, value in summary.as_xcom().items() if key != "verdict"}
    operations.finish_run(integration, kind, run_id, record, failed=bool(summary.failed))
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    width = max(len(key) for key in summary)
    return "\n".join(f"  {key.ljust(width)}  {value}" for key, value in summary.items())


# --- cleanup ------------------------------------------------------------------------------------


def cleanup(
    integration: Integration, now: float | None = None, kind: str | None = None, run_id: str | None = None
) -> list[str]:
    """Remove this integration's staging older than its retention (a run's raw/ archive lives on
    until ``staging.archive_days`` for replays), purge the ledger past its retention, and close
    this run in the state store if a failed task kept the report from closing it."""
    from lesync.pipeline import operations

    moment = now or time.time()
    removed = _expire_staging(
        integration,
        moment - integration.staging.retention_days * 86400,
        moment - integration.staging.archive_days * 86400,
    )
    if run_id and kind:
        operations.close_if_running(integration, kind, run_id)
    purged = operations.purge(integration, dt.datetime.fromtimestamp(moment, dt.UTC))
    if any(purged.values()):
        log.info("cleanup: purged from the state store %s", purged)
    return removed


def _expire_staging(integration: Integration, staging_cutoff: float, archive_cutoff: float) -> list[str]:
    root = staging_root(integration) / safe_name(integration.name)
    if not root.exists():
        return []
    removed = []
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        raw = folder / "raw"
        keep_raw = raw.exists() and _newest_mtime(raw) >= archive_cutoff
        if _newest_mtime(folder) >= staging_cutoff:
            continue
        if not keep_raw:
            folder.fs.rm(folder.path, recursive=True)
            removed.append(folder.name)
            continue
        for part in folder.iterdir():
            if part.name != "raw":
                part.fs.rm(part.path, recursive=True)
                removed.append(f"{folder.name}/{part.name}")
    if removed:
        log.info(
            "cleanup: removed %d staging item(s) older than %s days (raw archives: %s days)",
            len(removed),
            integration.staging.retention_days,
            integration.staging.archive_days,
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
