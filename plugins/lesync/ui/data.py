"""The UI's only door to lesync's state: which integrations exist, their runs and failed records.

Everything the pages show comes through these functions, so the store behind them is swapped in
one place: by default the real ``lesync.state.StateStore`` reached through the ``lesync_state``
Airflow connection; tests (or an embedding) call ``use_store`` with anything that has the same
``latest_runs`` and ``failed_records`` methods.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from lesync.contracts import dag_id
from lesync.state.store import RUN_COUNT_COLUMNS, dag_run_of


class RunStore(Protocol):
    """The read methods of ``lesync.state.StateStore`` that the UI uses."""

    def latest_runs(self, integration: str, limit: int = 20) -> list[dict[str, Any]]: ...

    def failed_records(
        self,
        integration: str,
        *,
        run_id: str | None = None,
        error_code: str | None = None,
        channel: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        resolved: bool | None = False,
        limit: int = 200,
        offset: int = 0,
    ) -> list[dict[str, Any]]: ...

    def count_failed_records(self, integration: str, **filters: Any) -> int: ...

    def error_code_counts(self, integration: str) -> dict[str, int]: ...


@dataclass(frozen=True)
class FailedFilter:
    """The filters of the failed-records table, as the page and the JSON endpoint accept them."""

    run_id: str | None = None
    error_code: str | None = None
    channel: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    resolved: bool = False
    limit: int = 200
    offset: int = 0


_store: RunStore | None = None


def use_store(store: RunStore | None) -> None:
    """Serve the pages from ``store`` (None: back to the real store on the next request)."""
    global _store
    _store = store


def get_store() -> RunStore:
    """The store in use; the real one is opened on first use, not at import (the API server imports us)."""
    global _store
    if _store is None:
        from lesync.state import StateStore  # imported late: only the API server process needs it

        _store = StateStore.from_conn()
    return _store


def integration_names() -> list[str]:
    """Enabled integrations of ``include/integrations.yaml``, in file order."""
    from lesync.config import load_integrations

    return [i.name for i in load_integrations(check_mappings=False) if i.enabled]


def replay_dag_id(integration: str) -> str:
    return dag_id(integration, "replay")


#: The run columns shown as the run's counts: the store's own, but its API call columns (shown apart).
RUN_COUNT_KEYS = tuple(name for name in RUN_COUNT_COLUMNS if not name.endswith("_calls"))


def latest_runs(integration: str, limit: int = 20) -> list[dict[str, Any]]:
    return [run_view(integration, run) for run in get_store().latest_runs(integration, limit=limit)]


def failed_records(integration: str, flt: FailedFilter) -> list[dict[str, Any]]:
    """Open failures; with ``flt.resolved`` the healed ones too (the store: ``resolved=None``)."""
    rows = get_store().failed_records(integration, **_store_filters(flt), limit=flt.limit, offset=flt.offset)
    return [record_view(row) for row in rows]


def count_failed_records(integration: str, flt: FailedFilter | None = None) -> int:
    """How many records the filter matches over every page (one ``COUNT``, not the rows)."""
    return get_store().count_failed_records(integration, **_store_filters(flt or FailedFilter()))


def error_code_counts(integration: str) -> list[tuple[str, int]]:
    """Open failures per Salesforce error code over the whole ledger, the commonest first."""
    counts = get_store().error_code_counts(integration)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _store_filters(flt: FailedFilter) -> dict[str, Any]:
    return {
        "run_id": flt.run_id,
        "error_code": flt.error_code,
        "channel": flt.channel,
        "since": flt.since,
        "until": flt.until,
        "resolved": None if flt.resolved else False,
    }


def run_view(integration: str, run: dict[str, Any]) -> dict[str, Any]:
    """A store run row as the page shows it: ``counts``, and the Airflow DAG and run it belongs to
    (the store's run id is ``<dag_id>/<run_id>``, see ``lesync.state.run_key``)."""
    view = dict(run)
    view["counts"] = {key: int(run.get(key) or 0) for key in RUN_COUNT_KEYS}
    view["dag_id"], view["dag_run_id"] = airflow_run(integration, run["run_id"], run.get("kind"))
    return view


def record_view(row: dict[str, Any]) -> dict[str, Any]:
    """A store status row as the page shows it: the run it last failed (or healed) in, attempts."""
    view = dict(row)
    view["run_id"] = row.get("last_run_id")
    view["first_failed_at"] = row.get("first_failure_at")
    view["attempts"] = row.get("attempts", row.get("failures", 0))
    return view


def airflow_run(integration: str, key: str | None, kind: str | None = None) -> tuple[str | None, str | None]:
    """(dag_id, Airflow run id) of a store run id; a bare run id takes its DAG from ``kind``."""
    if not key:
        return None, None
    try:
        return dag_run_of(key)
    except ValueError:  # a bare run id
        return (dag_id(integration, kind) if kind else None), key
