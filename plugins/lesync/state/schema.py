"""lesync's own tables (never Airflow's): one ``MetaData`` that the Alembic migrations must match.

- ``sync_runs``: one row per DAG run (window, state, counts, API calls, reconcile verdict).
- ``record_outcomes``: the ledger, one row per record x attempt (a task try of a run).
- ``record_status``: the current state of each record (last outcome, open failure episode,
  replay bookkeeping), kept in step with ``record_outcomes`` in the same transaction.
- ``open_conversations``, ``watermarks``, ``rate_buckets``: memory between runs and workers.

A test compares this metadata with the migrated database (autogenerate diff empty), so a
change here needs a new revision in ``migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

# Names for constraints and indexes so migrations and the database agree on every dialect.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
VERSION_TABLE = "lesync_alembic_version"

metadata = MetaData(naming_convention=NAMING)

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAME = 100  # integration, stream, channel, operation names
ID = 120  # LivePerson and Salesforce ids, Airflow run ids are longer
RUN_ID = 400


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in and out on every dialect (SQLite keeps no zone; naive input is refused)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass an aware one (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if getattr(dialect, "name", "") == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(name: str, nullable: bool = True) -> Column:
    return Column(name, UtcDateTime(), nullable=nullable)


sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(RUN_ID), nullable=False, unique=True),
    Column("integration", String(NAME), nullable=False),
    Column("kind", String(NAME), nullable=False),
    _when("window_start"),
    _when("window_end"),
    Column("state", String(20), nullable=False),
    _when("started_at", nullable=False),
    _when("finished_at"),
    Column("extracted", Integer, nullable=False, default=0),
    Column("created", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("files_uploaded", Integer, nullable=False, default=0),
    Column("files_failed", Integer, nullable=False, default=0),
    Column("liveperson_calls", Integer, nullable=False, default=0),
    Column("salesforce_calls", Integer, nullable=False, default=0),
    Column("summary", JSON, nullable=True),
    Column("verdict", JSON, nullable=True),
    Index("ix_sync_runs_integration_started", "integration", "started_at"),
    Index("ix_sync_runs_finished", "finished_at"),
)

record_outcomes = Table(
    "record_outcomes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(RUN_ID), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("integration", String(NAME), nullable=False),
    Column("channel", String(NAME), nullable=False),
    Column("liveperson_id", String(ID), nullable=False),
    Column("target", String(20), nullable=False),
    Column("operation", String(20), nullable=False),
    Column("salesforce_id", String(ID), nullable=True),
    Column("error_code", String(NAME), nullable=True),
    Column("message", Text, nullable=True),
    Column("fields", JSON, nullable=True),
    Column("transient", Boolean, nullable=False, default=False),
    _when("recorded_at", nullable=False),
    UniqueConstraint("run_id", "liveperson_id", "target", "attempt"),
    Index("ix_record_outcomes_record", "integration", "liveperson_id"),
    Index("ix_record_outcomes_recorded", "integration", "recorded_at"),
)

record_status = Table(
    "record_status",
    metadata,
    Column("integration", String(NAME), primary_key=True),
    Column("liveperson_id", String(ID), primary_key=True),
    Column("target", String(20), primary_key=True),
    Column("channel", String(NAME), nullable=False),
    Column("operation", String(20), nullable=False),
    Column("salesforce_id", String(ID), nullable=True),
    Column("error_code", String(NAME), nullable=True),
    Column("message", Text, nullable=True),
    Column("fields", JSON, nullable=True),
    Column("transient", Boolean, nullable=False, default=False),
    Column("failures", Integer, nullable=False, default=0),
    _when("first_failure_at"),
    _when("last_attempt_at"),  # None: queued for replay, never attempted (reconcile found it missing)
    _when("resolved_at"),
    _when("next_retry_at"),
    Column("last_run_id", String(RUN_ID), nullable=True),
    Column("mapping_version", String(NAME), nullable=True),
    Column("replay_requested", Boolean, nullable=False, default=False),
    Column("replay_taken_by", String(RUN_ID), nullable=True),
    _when("replay_taken_at"),
    Index("ix_record_status_open_failures", "integration", "resolved_at", "error_code"),
    Index("ix_record_status_channel", "integration", "channel"),
    Index("ix_record_status_last_attempt", "integration", "last_attempt_at"),
    Index("ix_record_status_next_retry", "integration", "next_retry_at"),
)

open_conversations = Table(
    "open_conversations",
    metadata,
    Column("integration", String(NAME), primary_key=True),
    Column("channel", String(NAME), primary_key=True),
    Column("conversation_id", String(ID), primary_key=True),
    _when("first_seen_open", nullable=False),
    _when("last_checked"),
    _when("started_at"),  # the conversation's own start: a window search finds those after its start
    Column("checks", Integer, nullable=False, default=0),
    Index("ix_open_conversations_checked", "integration", "channel", "last_checked"),
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("integration", String(NAME), primary_key=True),
    Column("stream", String(NAME), primary_key=True),
    _when("value", nullable=False),
    _when("updated_at", nullable=False),
)

rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),  # epoch seconds: the refill arithmetic needs floats
)
