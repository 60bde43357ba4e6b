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

STATE_CONN_ID = "lesync_state"
RUN_LOOKUP_LIMIT = 200  # runs read to find the DAG kind of a failed record's run


class RunStore(Protocol):
    """The two read methods of ``lesync.state.StateStore`` that the UI uses."""

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
        resolved: bool = False,
        limit: int = 200,
        offset: int = 0,
    ) -> list[dict[str, Any]]: ...


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

        _store = StateStore.from_conn(conn_id=STATE_CONN_ID)
    return _store


def integration_names() -> list[str]:
    """Enabled integrations of ``include/integrations.yaml``, in file order."""
    from lesync.config import load_integrations

    return [i.name for i in load_integrations(check_mappings=False) if i.enabled]


def dag_id(integration: str, kind: str) -> str:
    """The DAG id lesync's factory gives ``kind`` of ``integration`` (one naming rule, the factory's)."""
    from lesync.factory import dag_id as factory_dag_id

    return factory_dag_id(integration, kind)


def replay_dag_id(integration: str) -> str:
    return dag_id(integration, "replay")


def latest_runs(integration: str, limit: int = 20) -> list[dict[str, Any]]:
    return get_store().latest_runs(integration, limit=limit)


def failed_records(integration: str, flt: FailedFilter) -> list[dict[str, Any]]:
    return get_store().failed_records(
        integration,
        run_id=flt.run_id,
        error_code=flt.error_code,
        channel=flt.channel,
        since=flt.since,
        until=flt.until,
        resolved=flt.resolved,
        limit=flt.limit,
        offset=flt.offset,
    )


def run_kinds(integration: str) -> dict[str, str]:
    """run_id -> DAG kind of the integration's recent runs, to link a failed record to its load log."""
    return {run["run_id"]: run["kind"] for run in latest_runs(integration, limit=RUN_LOOKUP_LIMIT)}
