"""The UI tests' world: two users, and the demo integration with two runs and three failed records."""

from __future__ import annotations

import datetime as dt

from ui_fake_store import FakeStateStore

USERS = {"admin": "admin", "viewer": "viewer"}  # SimpleAuthManager username -> role
PASSWORDS = {"admin": "admin-pw-1", "viewer": "viewer-pw-1"}
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
FAILED_RUN = "scheduled__2026-11-30T09:00:00+00:00"
EARLIER_RUN = "scheduled__2026-11-30T06:00:00+00:00"


def seeded_store(integration: str = "demo") -> FakeStateStore:
    return seed(FakeStateStore(), integration)


def seed(store, integration: str = "demo"):
    """Writes the world through the store's write methods only, so the real StateStore can take it."""
    store.start_run(
        EARLIER_RUN,
        integration,
        "periodic",
        T0 - dt.timedelta(hours=9),
        T0 - dt.timedelta(hours=3),
        T0 - dt.timedelta(hours=3),
    )
    store.finish_run(
        EARLIER_RUN,
        {
            "counts": {"extracted": 12, "created": 12},
            "liveperson_calls": 3,
            "salesforce_calls": 4,
            "finished_at": T0 - dt.timedelta(hours=3) + dt.timedelta(minutes=2),
        },
        "success",
        verdict={"status": "ok", "liveperson": 12, "salesforce": 12},
    )
    store.start_run(FAILED_RUN, integration, "periodic", T0 - dt.timedelta(hours=6), T0, T0)
    store.record_outcomes(
        FAILED_RUN,
        integration,
        [
            {
                "liveperson_id": "LP-REJECTED-1",
                "channel": "chat",
                "operation": "failed",
                "error_code": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                "message": "bad value for restricted picklist field: Status",
                "fields": ["Status"],
                "at": T0 + dt.timedelta(minutes=1),
            },
            {
                "liveperson_id": "LP-REJECTED-2",
                "channel": "messaging",
                "operation": "failed",
                "error_code": "STRING_TOO_LONG",
                "message": "Body: data value too large",
                "fields": ["Body"],
                "at": T0 + dt.timedelta(minutes=1),
            },
            {
                "liveperson_id": "LP-OLD-3",
                "channel": "chat",
                "operation": "failed",
                "error_code": "UNABLE_TO_LOCK_ROW",
                "message": "unable to obtain exclusive access to this record",
                "fields": [],
                "at": T0 - dt.timedelta(days=3),
            },
            {
                "liveperson_id": "LP-FINE-4",
                "channel": "chat",
                "operation": "created",
                "salesforce_id": "0Mw000000000001",
            },
        ],
    )
    store.finish_run(
        FAILED_RUN,
        {
            "counts": {"extracted": 40, "created": 37, "failed": 3, "files_uploaded": 37, "files_failed": 0},
            "liveperson_calls": 5,
            "salesforce_calls": 6,
            "finished_at": T0 + dt.timedelta(minutes=3),
        },
        "failed",
        verdict={
            "status": "mismatch",
            "liveperson": 40,
            "salesforce": 37,
            "missing_in_salesforce": ["a", "b", "c"],
        },
    )
    return store
