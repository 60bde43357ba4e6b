"""Builds the sync DAGs of every enabled integration from ``include/integrations.yaml``.

Parse time stays cheap and safe: the integrations file and each mapping file are validated here
(a mistake becomes an import error naming the file, the entry and the fix), but nothing calls
LivePerson or Salesforce and no heavy client library is imported until a task runs.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

from airflow.sdk import DAG, Param, task
from airflow.sdk.exceptions import AirflowFailException

from lesync.config import Integration, load_integrations
from lesync.contracts import dag_id
from lesync.mapping import load_mapping
from lesync.pipeline import tasks
from lesync.pipeline.plan import daily_cron, periodic_cron

START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DEFAULT_ARGS = {
    "owner": "lesync",
    "retries": 3,
    "retry_delay": dt.timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=15),
}


#: Kinds on a schedule: at most one active run each.
SCHEDULED_KINDS = ("periodic", "daily", "incremental")

#: Mapped extract tasks show as "chat 000", "messaging 001", "chat conversation" in the UI
#: (the task puts ``extract_label`` into its context, Airflow's documented way for TaskFlow).
EXTRACT_LABEL = "{{ extract_label }}"
#: Mapped transforms and loads show as their shard: "shard 2: chat 2026-11-03..chat 2026-11-05".
SHARD_LABEL = "{{ shard_label }}"


def liveperson_pool(integration: str) -> str:
    return f"lesync_{integration}_liveperson"


def salesforce_pool(integration: str) -> str:
    return f"lesync_{integration}_salesforce"


def build_dags(
    kind: str, doc_md: str | None = None, integrations: list[Integration] | None = None
) -> list[DAG]:
    """One DAG of ``kind`` per enabled integration (a scheduled kind only when switched on)."""
    if kind not in tasks.KINDS:
        raise ValueError(f"unknown DAG kind {kind!r}; expected one of {tasks.KINDS}")
    built = []
    for integration in integrations if integrations is not None else load_integrations():
        if not integration.enabled or not _wanted(integration, kind):
            continue
        load_mapping(integration.mapping_path())  # validates; raises MappingError naming the file
        built.append(_build(integration, kind, doc_md))
    return built


def _wanted(integration: Integration, kind: str) -> bool:
    return {
        "periodic": integration.schedule.periodic,
        "daily": integration.schedule.daily,
        "incremental": integration.incremental.enabled,
    }.get(kind, True)


def _schedule(integration: Integration, kind: str) -> Any:
    from airflow.sdk import CronTriggerTimetable, DeltaTriggerTimetable

    if kind == "periodic":
        return CronTriggerTimetable(periodic_cron(integration.name), timezone="UTC")
    if kind == "daily":
        cron = daily_cron(integration.name, integration.schedule.daily_hour)
        return CronTriggerTimetable(cron, timezone=integration.schedule.timezone)
    if kind == "incremental":
        return DeltaTriggerTimetable(dt.timedelta(minutes=integration.incremental.interval_minutes))
    return None


def _params(integration: Integration, kind: str) -> dict[str, Param]:
    channels = list(integration.channels)
    if kind == "manual":
        return {**_window_params(), "channels": _channels_param(channels)}
    if kind == "reconcile":
        return {
            **_window_params(),
            "channels": _channels_param(channels),
            "heal": Param(
                False,
                type="boolean",
                title="Heal",
                description="Load what is missing in Salesforce now (else it is queued for replay).",
            ),
        }
    if kind == "replay":
        return {
            "liveperson_ids": Param(
                [],
                type="array",
                items={"type": "string"},
                title="LivePerson ids",
                description="Replay these records (chat engagement or messaging conversation ids).",
            ),
            "error_code": Param(
                "", type="string", title="Error code", description="Or: every open failure with this code."
            ),
            "run_id": Param(
                "",
                type="string",
                title="Run",
                description="Or: every open failure of this run (lesync__<integration>__<kind>/<run id>).",
            ),
            "all_pending": Param(False, type="boolean", title="All pending", description="Or: everything."),
            "channel": Param(
                None,
                type=["null", "string"],
                enum=[None, *channels],
                title="Channel",
                description="Only for ids the ledger has never seen (e.g. found missing by a reconcile).",
            ),
        }
    if kind == "conversation":
        return {
            "conversation_id": Param(
                "",
                type="string",
                title="Conversation ID",
                description="Chat engagement id or messaging conversation id. Only ended conversations sync.",
            ),
            "channel": Param(
                channels[0], type="string", enum=channels, title="Channel", description="chat or messaging"
            ),
        }
    return {}


def _window_params() -> dict[str, Param]:
    return {
        "start": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Start",
            description="Start of the window (UTC or with an offset). At most 30 days before End.",
        ),
        "end": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="End",
            description="End of the window; must be after Start and not in the future.",
        ),
    }


def _channels_param(channels: list[str]) -> Param:
    return Param(
        channels,
        type="array",
        items={"type": "string", "enum": channels},
        title="Channels",
        description="Which LivePerson channels to sync.",
    )


def _build(integration: Integration, kind: str, doc_md: str | None) -> DAG:
    name = integration.name
    with DAG(
        dag_id=dag_id(name, kind),
        description=f"lesync {kind} sync of integration {name}",
        doc_md=doc_md,
        schedule=_schedule(integration, kind),
        start_date=START_DATE,
        catchup=False,
        # Scheduled runs never pile up: a slow run delays the next one instead of overlapping it.
        max_active_runs=1 if kind in SCHEDULED_KINDS else 4,
        default_args=DEFAULT_ARGS,
        params=_params(integration, kind),
        tags=["lesync", f"integration:{name}", kind],
    ) as dag:
        _wire(integration, kind)
    return dag


def _wire(integration: Integration, kind: str) -> None:
    """plan -> extract (mapped over units) -> shard -> transform, load (mapped over shards) ->
    reconcile -> report, cleanup whatever happened. Replays and Sync Chat have no window to
    reconcile; a reconcile run loads only what it finds missing (when asked to heal)."""
    name = integration.name

    @task(retries=0)
    @fail_fast
    def plan(
        params: dict | None = None, data_interval_end: dt.datetime | None = None, run_id: str | None = None
    ) -> list[dict]:
        return tasks.plan(_integration(name), kind, dict(params or {}), data_interval_end, run_id=run_id)

    # The pool (slots = limits.liveperson_concurrency) bounds LivePerson calls across all runs.
    @task(pool=liveperson_pool(name), map_index_template=EXTRACT_LABEL)
    @fail_fast
    def extract(unit: dict, run_id: str | None = None) -> dict:
        from airflow.sdk import get_current_context

        get_current_context()["extract_label"] = tasks.unit_label(unit)
        return tasks.extract(_integration(name), unit, run_id)

    @task
    @fail_fast
    def shard(extracted: list[dict], run_id: str | None = None) -> list[dict]:
        return tasks.shard(_integration(name), all_results(extracted), run_id)

    @task(map_index_template=SHARD_LABEL)
    @fail_fast
    def transform(work: dict, run_id: str | None = None) -> dict:
        _label_shard(work)
        return tasks.transform(_integration(name), work, run_id)

    # The pool (slots = limits.salesforce_concurrency) bounds the shard loads writing at once.
    @task(pool=salesforce_pool(name), map_index_template=SHARD_LABEL)
    @fail_fast
    def load(transformed: dict, run_id: str | None = None, ti: Any = None) -> dict:
        _label_shard(transformed)
        attempt = getattr(ti, "try_number", 1) or 1
        return tasks.load(_integration(name), transformed, run_id, kind=kind, attempt=attempt)

    @task(pool=salesforce_pool(name), retries=1)
    @fail_fast
    def reconcile(units: list[dict], params: dict | None = None, run_id: str | None = None, **_: Any) -> dict:
        heal = kind == "reconcile" and bool((params or {}).get("heal"))
        compare = kind == "reconcile"
        units = tasks.incremental_reconcile_units(list(units)) if kind == "incremental" else list(units)
        return tasks.reconcile(_integration(name), kind, run_id, units, compare_ids=compare, heal=heal)

    @task(retries=0)
    @fail_fast
    def report(
        extracted: list[dict],
        transformed: list[dict],
        loaded: list[dict] | dict,
        verdict: dict | None,
        run_id: str | None = None,
    ) -> dict:
        integration = _integration(name)
        units, rows = all_results(extracted), all_results(transformed)
        done = loaded if isinstance(loaded, dict) else all_results(loaded)
        if kind == "incremental":  # the mark moves here, once every shard's work is done
            return tasks.report_incremental(integration, units, rows, done, run_id, verdict)
        return tasks.report(integration, kind, units, rows, done, run_id, verdict)

    @task(retries=0)
    def cleanup(run_id: str | None = None) -> list[str]:
        """Runs whatever happened, but as a teardown it never decides the run's state."""
        return tasks.cleanup(_integration(name), kind=kind, run_id=run_id)

    units = plan()
    extracted = extract.expand(unit=units)
    transformed = transform.expand(work=shard(extracted))
    if kind == "reconcile":
        verdict = reconcile(units)
        transformed >> verdict
        done = report(extracted, transformed, tasks.EMPTY_LOAD, verdict)
    else:
        loaded = load.expand(transformed=transformed)
        verdict = (
            reconcile(units) if kind in tasks.WINDOW_KINDS and integration.operations.reconcile else None
        )
        if verdict is not None:
            loaded >> verdict
        done = report(extracted, transformed, loaded, verdict)
    done >> cleanup().as_teardown()


def all_results(mapped: Sequence[dict]) -> list[dict]:
    """Every mapped task's result (extracts, shards) in one request (a slice). Iterating Airflow's
    lazy sequence instead asks for one item past the end and logs that 404 as ``[error] XCom not found``."""
    return list(mapped[:])


def _label_shard(work: dict) -> None:
    from airflow.sdk import get_current_context

    get_current_context()["shard_label"] = tasks.shard_label(work)


def fail_fast(function: Callable[..., Any]) -> Callable[..., Any]:
    """A fault no retry can fix (``tasks.is_permanent``) fails the task at once, without retries."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except AirflowFailException:
            raise
        except Exception as exc:
            if tasks.is_permanent(exc):
                raise AirflowFailException(f"{type(exc).__name__}: {exc} (not retried)") from None
            raise

    return run


def _integration(name: str) -> Integration:
    """The integration's settings as the file says now (read again at task run time)."""
    for integration in load_integrations():
        if integration.name == name:
            return integration
    raise AirflowFailException(f"integration {name!r} is no longer in include/integrations.yaml")
