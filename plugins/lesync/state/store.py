"""``StateStore``: lesync's memory between runs and workers, one engine, small methods.

Writers are serialised where they would otherwise race: on PostgreSQL the ledger methods take a
transaction-scoped advisory lock per integration (mapped tasks of one integration queue for a
few milliseconds; integrations never wait for each other) and the rate budget locks its row
(``SELECT ... FOR UPDATE``); on SQLite every write transaction starts with ``BEGIN IMMEDIATE``.
Times are aware UTC datetimes; ``now`` parameters exist so tests and replays can fix the clock.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, case, func, literal, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from lesync.state import schema
from lesync.state.engine import (
    DEFAULT_CONN_ID,
    StateStoreError,
    build_engine,
    masked,
    resolve_url,
    write_transaction,
)
from lesync.state.ledger import (
    FAILED,
    QUEUED,
    SUCCESS,
    LedgerOutcome,
    RetryPolicy,
    next_status,
    scrub_document,
    scrub_text,
    supersedes,
    unique_outcomes,
)

log = logging.getLogger(__name__)

CHUNK = 500  # ids per IN list / rows per statement
RUN_STATES = ("running", "success", "failed")
RUN_COUNT_COLUMNS = (
    "extracted",
    "created",
    "updated",
    "unchanged",
    "failed",
    "skipped",
    "files_uploaded",
    "files_failed",
    "liveperson_calls",
    "salesforce_calls",
)
FILE_COUNT_KEYS = {
    "created": "files_uploaded",
    "updated": "files_uploaded",
    "unchanged": "files_unchanged",
    "failed": "files_failed",
    "skipped": "files_skipped",
}
STATUS_COLUMNS = tuple(c.name for c in schema.record_status.columns if c.name not in ("integration",))


def utcnow() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``."""
    return int.from_bytes(
        hashlib.blake2b(f"lesync:{name}".encode(), digest_size=8).digest(), "big", signed=True
    )


class StateStore:
    """The state store: runs, the ledger, replays, open conversations, watermarks, rate budget."""

    def __init__(
        self,
        url_or_engine: str | URL | Engine,
        *,
        retry_policy: RetryPolicy | None = None,
        replay_lease: timedelta = timedelta(hours=6),
    ) -> None:
        self.engine = url_or_engine if isinstance(url_or_engine, Engine) else build_engine(url_or_engine)
        self.retry_policy = retry_policy or RetryPolicy()
        self.replay_lease = replay_lease

    @classmethod
    def from_conn(cls, conn_id: str = DEFAULT_CONN_ID, **options: Any) -> StateStore:
        """The store behind the Airflow connection ``conn_id`` (see ``engine.resolve_url``)."""
        return cls(resolve_url(conn_id), **options)

    def __repr__(self) -> str:
        return f"StateStore({masked(self.engine.url)})"

    @property
    def url(self) -> str:
        """The store's URL with the password masked (safe to log)."""
        return masked(self.engine.url)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ migrations

    def migrate(self) -> str:
        """Create or upgrade the tables to the newest revision (idempotent); returns the revision."""
        from lesync.state.migrate import upgrade

        return self._guard(lambda: upgrade(self.engine))

    def revisions(self) -> tuple[str | None, str]:
        """(the database's revision, the code's head revision)."""
        from lesync.state.migrate import current_revision, head_revision

        return self._guard(lambda: current_revision(self.engine)), head_revision()

    def table_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                table.name: conn.scalar(select(func.count()).select_from(table))
                for table in schema.metadata.sorted_tables
            }

    def _guard(self, action: Any) -> Any:
        """Run ``action``; a connection failure becomes an error that shows the masked URL only."""
        try:
            return action()
        except SQLAlchemyError as error:
            raise StateStoreError(
                f"state store {self.url} failed ({self._reason(error)}); check the lesync_state "
                "connection and that the database is up"
            ) from None

    def _reason(self, error: SQLAlchemyError) -> str:
        """The driver's first line, without the password should a driver ever echo it."""
        cause = getattr(error, "orig", None) or error
        first = (str(cause).strip().splitlines() or [""])[0]
        password = self.engine.url.password
        if password:
            first = first.replace(str(password), "***")
        return f"{type(cause).__name__}: {first}" if first else type(cause).__name__

    # ------------------------------------------------------------------ locking helpers

    def _insert(self, table: Any) -> Any:
        dialect_insert = postgresql.insert if self.is_postgres else sqlite.insert
        return dialect_insert(table)

    def _lock(self, conn: Connection, name: str) -> None:
        """Serialise writers of ``name`` on PostgreSQL (SQLite: BEGIN IMMEDIATE already did)."""
        if self.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})

    # ------------------------------------------------------------------ runs

    def start_run(
        self,
        integration: str,
        kind: str,
        run_id: str,
        window_start: datetime | None,
        window_end: datetime | None,
        *,
        now: datetime | None = None,
    ) -> None:
        """Record that a run started; again for the same run (a cleared run) marks it running again."""
        now = now or utcnow()
        row = {
            "run_id": run_id,
            "integration": integration,
            "kind": kind,
            "window_start": window_start,
            "window_end": window_end,
            "state": "running",
            "started_at": now,
            **dict.fromkeys(RUN_COUNT_COLUMNS, 0),
        }
        with write_transaction(self.engine) as conn:
            conn.execute(self._insert(schema.sync_runs).values(row).on_conflict_do_nothing())
            stored = conn.execute(
                select(schema.sync_runs.c.integration, schema.sync_runs.c.kind).where(
                    schema.sync_runs.c.run_id == run_id
                )
            ).one()
            if (stored.integration, stored.kind) != (integration, kind):
                raise StateStoreError(
                    f"run id {run_id!r} already belongs to {stored.integration}/{stored.kind}; "
                    "pass a run id unique across DAGs (lesync.state.run_key(dag_id, run_id))"
                )
            conn.execute(
                schema.sync_runs.update()
                .where(schema.sync_runs.c.run_id == run_id)
                .values(state="running", finished_at=None, window_start=window_start, window_end=window_end)
            )

    def finish_run(
        self,
        run_id: str,
        summary: dict[str, Any],
        state: str,
        verdict: dict[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> dict[str, int]:
        """Close the run with its summary; record and file counts come from the ledger (all
        attempts of the run) wherever it holds outcomes. Returns the counts stored."""
        if state not in RUN_STATES:
            raise ValueError(f"run state {state!r}: use one of {', '.join(RUN_STATES)}")
        ledger = self.run_counts(run_id)
        counts = {name: int(summary.get(name) or 0) for name in RUN_COUNT_COLUMNS}
        if ledger["records"]:
            counts.update({name: ledger[name] for name in ("created", "updated", "unchanged", "failed")})
            counts["skipped"] = ledger["skipped"] or counts["skipped"]  # duplicates may not be in the ledger
        if ledger["files"]:
            counts.update(files_uploaded=ledger["files_uploaded"], files_failed=ledger["files_failed"])
        document = scrub_document({**summary, **{k: v for k, v in ledger.items() if k in summary}})
        # No verdict given: keep the one the reconcile task attached (set_verdict) before the report.
        kept = {"verdict": scrub_document(verdict)} if verdict is not None else {}
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                schema.sync_runs.update()
                .where(schema.sync_runs.c.run_id == run_id)
                .values(state=state, finished_at=now or utcnow(), summary=document, **kept, **counts)
            )
        if done.rowcount == 0:
            raise StateStoreError(f"run {run_id!r} was never started; call start_run first")
        return counts

    def set_verdict(self, run_id: str, verdict: dict[str, Any]) -> None:
        """Attach a reconcile verdict to a run (the reconcile task may finish after the report)."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                schema.sync_runs.update()
                .where(schema.sync_runs.c.run_id == run_id)
                .values(verdict=scrub_document(verdict))
            )

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.sync_runs).where(schema.sync_runs.c.run_id == run_id)).first()
        return _run_dict(row) if row else None

    def latest_runs(self, integration: str, limit: int = 20) -> list[dict[str, Any]]:
        """The integration's newest runs first."""
        query = (
            select(schema.sync_runs)
            .where(schema.sync_runs.c.integration == integration)
            .order_by(schema.sync_runs.c.started_at.desc(), schema.sync_runs.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_run_dict(row) for row in conn.execute(query)]

    def run_counts(self, run_id: str) -> dict[str, int]:
        """The run's counts over all its attempts: each record counted once by its last attempt,
        as ``created`` when any attempt created it and the last one succeeded."""
        outcomes = schema.record_outcomes
        ranked = select(
            outcomes.c.target,
            outcomes.c.operation,
            func.row_number()
            .over(
                partition_by=(outcomes.c.liveperson_id, outcomes.c.target),
                order_by=outcomes.c.attempt.desc(),
            )
            .label("latest"),
            func.max(case((outcomes.c.operation == "created", 1), else_=0))
            .over(partition_by=(outcomes.c.liveperson_id, outcomes.c.target))
            .label("ever_created"),
        ).where(outcomes.c.run_id == run_id)
        ranked = ranked.subquery()
        final = case(
            (and_(ranked.c.operation.in_(SUCCESS), ranked.c.ever_created == 1), literal("created")),
            else_=ranked.c.operation,
        ).label("final")
        query = (
            select(ranked.c.target, final, func.count())
            .where(ranked.c.latest == 1)
            .group_by(ranked.c.target, final)
        )
        counts = dict.fromkeys(
            (
                "created",
                "updated",
                "unchanged",
                "failed",
                "skipped",
                "records",
                "files",
                *FILE_COUNT_KEYS.values(),
            ),
            0,
        )
        with self.engine.connect() as conn:
            for target, operation, number in conn.execute(query):
                key = operation if target == "record" else FILE_COUNT_KEYS[operation]
                counts[key] += number
                counts["records" if target == "record" else "files"] += number
        return counts

    # ------------------------------------------------------------------ the ledger

    def record_outcomes(
        self,
        run_id: str,
        integration: str,
        outcomes: Iterable[LedgerOutcome],
        *,
        attempt: int = 1,
        mapping_version: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Store one attempt's outcomes (``attempt`` = the task's try number) and move each
        record's status. Reporting the same attempt again changes nothing; returns the number
        of records written."""
        batch = unique_outcomes(outcomes)
        now = now or utcnow()
        with write_transaction(self.engine) as conn:
            self._lock(conn, f"ledger:{integration}")
            for chunk in _chunks(batch):
                self._record_chunk(conn, run_id, integration, chunk, attempt, mapping_version, now)
        return len(batch)

    def _record_chunk(
        self,
        conn: Connection,
        run_id: str,
        integration: str,
        chunk: Sequence[LedgerOutcome],
        attempt: int,
        mapping_version: str | None,
        now: datetime,
    ) -> None:
        stored = self._stored_attempt(conn, run_id, attempt, chunk)
        statuses = self._statuses(conn, integration, {o.liveperson_id for o in chunk})
        plan = _ChunkPlan()
        for outcome in chunk:
            key = (outcome.liveperson_id, outcome.target)
            old = stored.get(key)
            if old is not None and (old == _outcome_signature(outcome) or not supersedes(outcome, old[0])):
                continue  # this attempt already said so
            row = _outcome_row(run_id, attempt, integration, outcome, now)
            (plan.replaced if old is not None else plan.inserts).append(row)
            status = next_status(
                statuses.get(key),
                outcome,
                run_id=run_id,
                now=now,
                mapping_version=mapping_version,
                policy=self.retry_policy,
                new_attempt=old is None,
            )
            if status is not None:
                status.update(
                    integration=integration, liveperson_id=outcome.liveperson_id, target=outcome.target
                )
                (plan.changed_status if key in statuses else plan.new_status).append(status)
        self._write_outcomes(conn, run_id, attempt, plan)
        self._write_statuses(conn, plan.new_status, plan.changed_status)

    def _write_outcomes(self, conn: Connection, run_id: str, attempt: int, plan: _ChunkPlan) -> None:
        outcomes = schema.record_outcomes
        if plan.inserts:
            conn.execute(outcomes.insert(), plan.inserts)
        for row in plan.replaced:
            conn.execute(
                outcomes.update().where(
                    outcomes.c.run_id == run_id,
                    outcomes.c.attempt == attempt,
                    outcomes.c.liveperson_id == row["liveperson_id"],
                    outcomes.c.target == row["target"],
                ),
                row,
            )

    def _stored_attempt(
        self, conn: Connection, run_id: str, attempt: int, chunk: Sequence[LedgerOutcome]
    ) -> dict[tuple[str, str], tuple]:
        outcomes = schema.record_outcomes
        query = select(
            outcomes.c.liveperson_id,
            outcomes.c.target,
            outcomes.c.operation,
            outcomes.c.salesforce_id,
            outcomes.c.error_code,
        ).where(
            outcomes.c.run_id == run_id,
            outcomes.c.attempt == attempt,
            outcomes.c.liveperson_id.in_({o.liveperson_id for o in chunk}),
        )
        return {(row[0], row[1]): tuple(row[2:]) for row in conn.execute(query)}

    def _statuses(
        self, conn: Connection, integration: str, ids: Iterable[str]
    ) -> dict[tuple[str, str], dict]:
        status = schema.record_status
        found: dict[tuple[str, str], dict] = {}
        for chunk in _chunks(sorted(ids)):
            query = select(status).where(
                status.c.integration == integration, status.c.liveperson_id.in_(chunk)
            )
            for row in conn.execute(query).mappings():
                found[(row["liveperson_id"], row["target"])] = dict(row)
        return found

    def _write_statuses(self, conn: Connection, new: list[dict], changed: list[dict]) -> None:
        status = schema.record_status
        if new:
            conn.execute(status.insert(), [_status_row(row) for row in new])
        if changed:
            names = [name for name in STATUS_COLUMNS if name not in ("liveperson_id", "target")]
            statement = (
                status.update()
                .where(
                    status.c.integration == bindparam("k_integration"),
                    status.c.liveperson_id == bindparam("k_liveperson_id"),
                    status.c.target == bindparam("k_target"),
                )
                .values({name: bindparam(f"v_{name}") for name in names})
            )
            rows = []
            for row in changed:
                values = _status_row(row)
                keys = {f"k_{key}": values[key] for key in ("integration", "liveperson_id", "target")}
                rows.append({**keys, **{f"v_{name}": values[name] for name in names}})
            conn.execute(statement, rows)

    def record_status(
        self, integration: str, liveperson_id: str, target: str = "record"
    ) -> dict[str, Any] | None:
        """The record's current status (last outcome, open failure, replay bookkeeping)."""
        status = schema.record_status
        query = select(status).where(
            status.c.integration == integration,
            status.c.liveperson_id == liveperson_id,
            status.c.target == target,
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _status_dict(row) if row else None

    def record_history(self, integration: str, liveperson_id: str) -> list[dict[str, Any]]:
        """Every stored attempt outcome of one record, oldest first."""
        outcomes = schema.record_outcomes
        query = (
            select(outcomes)
            .where(outcomes.c.integration == integration, outcomes.c.liveperson_id == liveperson_id)
            .order_by(outcomes.c.recorded_at, outcomes.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def failed_records(
        self,
        integration: str,
        *,
        run_id: str | None = None,
        error_code: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        resolved: bool | None = False,
        limit: int = 200,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Records with a failure: open ones (``resolved=False``), healed ones (True) or both (None);
        newest attempt first. ``run_id`` keeps records that failed in that run."""
        status = schema.record_status
        query = (
            select(status)
            .where(*self._failure_filters(integration, run_id, error_code, channel, since, until, resolved))
            .order_by(status.c.last_attempt_at.desc(), status.c.liveperson_id, status.c.target)
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            return [_status_dict(row) for row in conn.execute(query).mappings()]

    def count_failed_records(self, integration: str, **filters: Any) -> int:
        """How many records ``failed_records`` would list without limit (for paging)."""
        query = select(func.count()).where(*self._failure_filters(integration, **filters))
        with self.engine.connect() as conn:
            return int(conn.scalar(query.select_from(schema.record_status)) or 0)

    def error_code_counts(self, integration: str) -> dict[str, int]:
        """Open failures per Salesforce error code (the UI's filter and "replay all with this error")."""
        status = schema.record_status
        query = (
            select(status.c.error_code, func.count())
            .where(status.c.integration == integration, status.c.operation == FAILED)
            .group_by(status.c.error_code)
        )
        with self.engine.connect() as conn:
            return {code: number for code, number in conn.execute(query)}

    def _failure_filters(
        self,
        integration: str,
        run_id: str | None = None,
        error_code: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        resolved: bool | None = False,
    ) -> list[Any]:
        status, outcomes = schema.record_status, schema.record_outcomes
        filters: list[Any] = [status.c.integration == integration, status.c.first_failure_at.is_not(None)]
        if resolved is False:
            filters.append(status.c.operation == FAILED)
        elif resolved is True:
            filters.append(status.c.resolved_at.is_not(None))
        if run_id is not None:
            filters.append(
                select(outcomes.c.id)
                .where(
                    outcomes.c.run_id == run_id,
                    outcomes.c.liveperson_id == status.c.liveperson_id,
                    outcomes.c.target == status.c.target,
                    outcomes.c.operation == FAILED,
                )
                .exists()
            )
        if error_code is not None:
            filters.append(status.c.error_code == error_code)
        if channel is not None:
            filters.append(status.c.channel == channel)
        if since is not None:
            filters.append(status.c.last_attempt_at >= since)
        if until is not None:
            filters.append(status.c.last_attempt_at < until)
        return filters

    # ------------------------------------------------------------------ replays

    def pending_replays(
        self,
        integration: str,
        now: datetime,
        *,
        max_attempts: int,
        mapping_version: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Records a run should try again, each with ``reason``: ``queued`` (asked for),
        ``transient`` (backoff elapsed, fewer than ``max_attempts`` failures) or
        ``mapping_changed`` (a permanent failure under another mapping version). Records taken
        by a run within the replay lease are left out."""
        status = schema.record_status
        is_failed = status.c.operation == FAILED
        transient_due = and_(
            is_failed,
            status.c.transient.is_(True),
            status.c.failures < max_attempts,
            status.c.next_retry_at <= now,
        )
        mapping_changed = (
            and_(
                is_failed,
                status.c.transient.is_(False),
                status.c.mapping_version.is_not(None),
                status.c.mapping_version != mapping_version,
            )
            if mapping_version is not None
            else literal(False)
        )
        reason = case(
            (status.c.replay_requested.is_(True), literal("queued")),
            (transient_due, literal("transient")),
            else_=literal("mapping_changed"),
        ).label("reason")
        query = (
            select(status, reason)
            .where(
                status.c.integration == integration,
                or_(status.c.replay_taken_at.is_(None), status.c.replay_taken_at <= now - self.replay_lease),
                or_(status.c.replay_requested.is_(True), transient_due, mapping_changed),
            )
            .order_by(status.c.liveperson_id, status.c.target)
        )
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_status_dict(row) for row in conn.execute(query).mappings()]

    def queue_replay(
        self,
        integration: str,
        liveperson_ids: Iterable[str] | None = None,
        *,
        error_code: str | None = None,
        run_id: str | None = None,
        all_pending: bool = False,
        channel: str | None = None,
    ) -> int:
        """Ask the next run (or the replay DAG) to try records again: given ids (ids the ledger
        does not know yet, e.g. missing in Salesforce, need ``channel``), every open failure with
        an error code, every open failure of a run, or every open failure. Returns how many."""
        chosen = [liveperson_ids is not None, error_code is not None, run_id is not None, all_pending]
        if sum(chosen) != 1:
            raise ValueError(
                "queue_replay: give exactly one of liveperson_ids, error_code, run_id, all_pending"
            )
        status = schema.record_status
        with write_transaction(self.engine) as conn:
            self._lock(conn, f"ledger:{integration}")
            if liveperson_ids is not None:
                return self._queue_ids(conn, integration, list(dict.fromkeys(liveperson_ids)), channel)
            filters = self._failure_filters(integration, run_id=run_id, error_code=error_code, resolved=False)
            done = conn.execute(
                status.update()
                .where(*filters)
                .values(replay_requested=True, replay_taken_by=None, replay_taken_at=None)
            )
            return done.rowcount

    def _queue_ids(self, conn: Connection, integration: str, ids: list[str], channel: str | None) -> int:
        status = schema.record_status
        known = {key[0] for key in self._statuses(conn, integration, ids)}
        for chunk in _chunks(sorted(known)):
            conn.execute(
                status.update()
                .where(status.c.integration == integration, status.c.liveperson_id.in_(chunk))
                .values(replay_requested=True, replay_taken_by=None, replay_taken_at=None)
            )
        unknown = [i for i in ids if i not in known]
        if unknown and not channel:
            raise ValueError(
                f"queue_replay: {len(unknown)} id(s) unknown to the ledger (e.g. {unknown[0]!r}); "
                "pass channel="
            )
        rows = [_queued_row(integration, lp_id, channel or "") for lp_id in unknown]
        if rows:
            conn.execute(status.insert(), rows)
        return len(ids)

    def mark_replay_taken(
        self, integration: str, liveperson_ids: Iterable[str], run_id: str, *, now: datetime | None = None
    ) -> int:
        """A run took these records: other runs leave them alone until an outcome or the lease ends."""
        status = schema.record_status
        ids = sorted(set(liveperson_ids))
        taken = 0
        with write_transaction(self.engine) as conn:
            self._lock(conn, f"ledger:{integration}")
            for chunk in _chunks(ids):
                done = conn.execute(
                    status.update()
                    .where(status.c.integration == integration, status.c.liveperson_id.in_(chunk))
                    .values(replay_taken_by=run_id, replay_taken_at=now or utcnow())
                )
                taken += done.rowcount
        return taken

    # ------------------------------------------------------------------ open conversations

    def remember_open(
        self,
        integration: str,
        channel: str,
        ids: Iterable[str],
        *,
        now: datetime | None = None,
        started: dict[str, datetime | None] | None = None,
    ) -> int:
        """Conversations still open in LivePerson, to check again later (``started``: each one's
        start, when known); returns how many were new."""
        table = schema.open_conversations
        rows = [
            {
                "integration": integration,
                "channel": channel,
                "conversation_id": cid,
                "first_seen_open": now or utcnow(),
                "started_at": (started or {}).get(cid),
                "checks": 0,
            }
            for cid in dict.fromkeys(ids)
        ]
        added = 0
        with write_transaction(self.engine) as conn:
            for chunk in _chunks(rows):
                insert = self._insert(table).on_conflict_do_nothing().returning(table.c.conversation_id)
                added += len(conn.execute(insert, list(chunk)).all())
        return added

    def open_conversations(
        self, integration: str, channel: str, limit: int = 1000, *, started_before: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Open conversations, least recently checked first; with ``started_before``, only those
        that started earlier (or whose start is unknown): a window's own search finds the rest."""
        table = schema.open_conversations
        where = [table.c.integration == integration, table.c.channel == channel]
        if started_before is not None:
            where.append(or_(table.c.started_at.is_(None), table.c.started_at < started_before))
        query = (
            select(table)
            .where(*where)
            .order_by(
                table.c.last_checked.asc().nulls_first(), table.c.first_seen_open, table.c.conversation_id
            )
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def forget_open(self, integration: str, channel: str, ids: Iterable[str]) -> int:
        """These conversations closed (or are gone): stop checking them."""
        return self._open_update(integration, channel, ids, None)

    def touch_open_checked(
        self, integration: str, channel: str, ids: Iterable[str], *, now: datetime | None = None
    ) -> int:
        """These conversations were checked and are still open."""
        return self._open_update(integration, channel, ids, now or utcnow())

    def _open_update(
        self, integration: str, channel: str, ids: Iterable[str], checked: datetime | None
    ) -> int:
        table = schema.open_conversations
        changed = 0
        with write_transaction(self.engine) as conn:
            for chunk in _chunks(sorted(set(ids))):
                where = (
                    table.c.integration == integration,
                    table.c.channel == channel,
                    table.c.conversation_id.in_(chunk),
                )
                if checked is None:
                    statement = table.delete().where(*where)
                else:
                    statement = (
                        table.update().where(*where).values(last_checked=checked, checks=table.c.checks + 1)
                    )
                changed += conn.execute(statement).rowcount
        return changed

    # ------------------------------------------------------------------ high-water marks

    def get_watermark(self, integration: str, stream: str) -> datetime | None:
        table = schema.watermarks
        query = select(table.c.value).where(table.c.integration == integration, table.c.stream == stream)
        with self.engine.connect() as conn:
            return conn.scalar(query)

    def set_watermark(
        self, integration: str, stream: str, value: datetime, *, now: datetime | None = None
    ) -> datetime:
        """Move the mark forward (never backwards); returns the mark now stored."""
        table = schema.watermarks
        now = now or utcnow()
        where = (table.c.integration == integration, table.c.stream == stream)
        with write_transaction(self.engine) as conn:
            row = {"integration": integration, "stream": stream, "value": value, "updated_at": now}
            conn.execute(self._insert(table).values(row).on_conflict_do_nothing())
            conn.execute(
                table.update().where(*where, table.c.value < value).values(value=value, updated_at=now)
            )
            return conn.scalar(select(table.c.value).where(*where))

    # ------------------------------------------------------------------ rate budget

    def take_rate_tokens(
        self, key: str, n: float, rate_per_second: float, burst: float, *, now: float | None = None
    ) -> float:
        """Take ``n`` tokens from the shared bucket ``key``; returns the seconds to wait before
        spending them (0 when the bucket had them). Tokens are reserved at once, so callers that
        wait the returned time never exceed ``rate_per_second`` after a ``burst``."""
        if rate_per_second <= 0 or burst <= 0 or n < 0:
            raise ValueError("take_rate_tokens: rate_per_second and burst must be > 0 and n >= 0")
        table = schema.rate_buckets
        now = time.time() if now is None else now
        with write_transaction(self.engine) as conn:
            conn.execute(
                self._insert(table)
                .values(key=key, tokens=float(burst), updated_at=now)
                .on_conflict_do_nothing()
            )
            row = conn.execute(select(table).where(table.c.key == key).with_for_update()).one()
            elapsed = max(0.0, now - row.updated_at)
            tokens = min(float(burst), row.tokens + elapsed * rate_per_second) - n
            conn.execute(
                table.update()
                .where(table.c.key == key)
                .values(tokens=tokens, updated_at=max(now, row.updated_at))
            )
        return max(0.0, -tokens / rate_per_second)

    # ------------------------------------------------------------------ retention

    def purge(self, now: datetime, ledger_days: int = 90) -> dict[str, int]:
        """Delete runs and healed ledger rows older than ``ledger_days``; open failures and
        queued replays stay whatever their age (they are the dead-letter queue)."""
        cutoff = now - timedelta(days=ledger_days)
        runs, outcomes, status = schema.sync_runs, schema.record_outcomes, schema.record_status
        still_open = or_(status.c.operation.in_((FAILED, QUEUED)), status.c.replay_requested.is_(True))
        open_record = (
            select(status.c.liveperson_id)
            .where(
                status.c.integration == outcomes.c.integration,
                status.c.liveperson_id == outcomes.c.liveperson_id,
                status.c.target == outcomes.c.target,
                still_open,
            )
            .exists()
        )
        with write_transaction(self.engine) as conn:
            for integration in sorted(conn.scalars(select(status.c.integration).distinct())):
                self._lock(conn, f"ledger:{integration}")
            deleted = {
                "runs": conn.execute(
                    runs.delete().where(func.coalesce(runs.c.finished_at, runs.c.started_at) < cutoff)
                ).rowcount,
                "outcomes": conn.execute(
                    outcomes.delete().where(outcomes.c.recorded_at < cutoff, ~open_record)
                ).rowcount,
                "records": conn.execute(
                    status.delete().where(status.c.last_attempt_at < cutoff, ~still_open)
                ).rowcount,
            }
        log.info("state store purge before %s: %s", cutoff.isoformat(), deleted)
        return deleted


# ---------------------------------------------------------------------- row helpers


@dataclass
class _ChunkPlan:
    """What one chunk of outcomes writes: new and replaced outcome rows, new and changed statuses."""

    inserts: list[dict] = field(default_factory=list)
    replaced: list[dict] = field(default_factory=list)
    new_status: list[dict] = field(default_factory=list)
    changed_status: list[dict] = field(default_factory=list)


def run_key(dag_id: str, run_id: str) -> str:
    """A run id unique across DAGs (Airflow's run ids repeat between DAGs: ``scheduled__<date>``)."""
    return f"{dag_id}/{run_id}"


def dag_run_of(key: str) -> tuple[str, str]:
    """``(dag_id, run_id)`` back from a ``run_key`` (DAG ids never hold a slash)."""
    dag_id, slash, run_id = key.partition("/")
    if not slash:
        raise ValueError(f"{key!r} is not a run key; expected '<dag_id>/<run_id>' (see run_key)")
    return dag_id, run_id


def _outcome_signature(outcome: LedgerOutcome) -> tuple:
    return (outcome.operation, outcome.salesforce_id, outcome.error_code)


def _outcome_row(run_id: str, attempt: int, integration: str, outcome: LedgerOutcome, now: datetime) -> dict:
    return {
        "run_id": run_id,
        "attempt": attempt,
        "integration": integration,
        "channel": outcome.channel,
        "liveperson_id": outcome.liveperson_id,
        "target": outcome.target,
        "operation": outcome.operation,
        "salesforce_id": outcome.salesforce_id,
        "error_code": outcome.error_code,
        "message": scrub_text(outcome.message),
        "fields": list(outcome.fields) if outcome.fields else None,
        "transient": outcome.transient,
        "recorded_at": now,
    }


def _status_row(status: dict[str, Any]) -> dict[str, Any]:
    row = {name: status.get(name) for name in ("integration", *STATUS_COLUMNS)}
    row["replay_requested"] = bool(row["replay_requested"])
    row["transient"] = bool(row["transient"])
    return row


def _queued_row(integration: str, liveperson_id: str, channel: str) -> dict[str, Any]:
    return _status_row(
        {
            "integration": integration,
            "liveperson_id": liveperson_id,
            "target": "record",
            "channel": channel,
            "operation": QUEUED,
            "failures": 0,
            "replay_requested": True,
            "transient": False,
        }
    )


def _status_dict(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["attempts"] = data.get("failures", 0)
    data["fields"] = list(data.get("fields") or [])
    return data


def _run_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)
