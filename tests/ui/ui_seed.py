"""The UI tests' world: two users, and the demo integration with two runs and three failed records,
written into a real ``lesync.state.StateStore`` (SQLite) through its public methods only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from lesync.state import LedgerOutcome, StateStore, run_key

USERS = {"admin": "admin", "viewer": "viewer"}  # SimpleAuthManager username -> role
PASSWORDS = {"admin": "admin-pw-1", "viewer": "viewer-pw-1"}
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
PERIODIC = "lesync__demo__periodic"
FAILED_AIRFLOW_RUN = "scheduled__2026-11-30T09:00:00+00:00"
FAILED_RUN = run_key(PERIODIC, FAILED_AIRFLOW_RUN)  # the store's run id: <dag_id>/<run_id>
EARLIER_RUN = run_key(PERIODIC, "scheduled__2026-11-30T06:00:00+00:00")


def new_store(path: Path) -> StateStore:
    """A migrated, empty SQLite store at ``path``."""
    store = StateStore(f"sqlite:///{path}")
    store.migrate()
    return store


def seed(store: StateStore, integration: str = "demo") -> StateStore:
    hours = dt.timedelta(hours=1)
    store.start_run(integration, "periodic", EARLIER_RUN, T0 - 9 * hours, T0 - 3 * hours, now=T0 - 3 * hours)
    store.finish_run(
        EARLIER_RUN,
        {"extracted": 12, "created": 12, "liveperson_calls": 3, "salesforce_calls": 4},
        "success",
        verdict=_verdict(12, 12, []),
        now=T0 - 3 * hours + dt.timedelta(minutes=2),
    )
    store.start_run(integration, "periodic", FAILED_RUN, T0 - 6 * hours, T0, now=T0)
    old = LedgerOutcome(
        "chat",
        "LP-OLD-3",
        "failed",
        error_code="UNABLE_TO_LOCK_ROW",
        message="unable to obtain exclusive access to this record",
        transient=True,
    )
    store.record_outcomes(FAILED_RUN, integration, [old], now=T0 - dt.timedelta(days=3))
    store.record_outcomes(
        FAILED_RUN,
        integration,
        [
            LedgerOutcome(
                "chat",
                "LP-REJECTED-1",
                "failed",
                error_code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                message="bad value for restricted picklist field: Status",
                fields=("Status",),
            ),
            LedgerOutcome(
                "messaging",
                "LP-REJECTED-2",
                "failed",
                error_code="STRING_TOO_LONG",
                message="Body: data value too large",
                fields=("Body",),
            ),
            LedgerOutcome("chat", "LP-FINE-4", "created", salesforce_id="a0B000000000001"),
        ],
        now=T0 + dt.timedelta(minutes=1),
    )
    store.finish_run(
        FAILED_RUN,
        {"extracted": 40, "liveperson_calls": 5, "salesforce_calls": 6},
        "failed",
        verdict=_verdict(40, 37, ["a", "b", "c"]),
        now=T0 + dt.timedelta(minutes=3),
    )
    return store


def _verdict(liveperson: int, salesforce: int, missing: list[str]) -> dict:
    """A reconcile verdict as ``lesync.pipeline.reconcile.Verdict.as_dict`` writes it."""
    return {
        "start": (T0 - dt.timedelta(hours=6)).isoformat(),
        "end": T0.isoformat(),
        "channels": [
            {
                "channel": "chat",
                "liveperson": liveperson,
                "salesforce": salesforce,
                "missing": missing,
                "extra": [],
                "missing_total": len(missing),
                "extra_total": 0,
            }
        ],
        "agrees": not missing and liveperson == salesforce,
    }
