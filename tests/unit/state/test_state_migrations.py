"""Migrations: idempotent, safe to run from two processes at once, and in step with the schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from state_processes import parallel_map

from lesync.state import LedgerOutcome, StateStore
from lesync.state.migrate import alembic_config, head_revision
from lesync.state.schema import VERSION_TABLE, metadata

TABLES = {"sync_runs", "record_outcomes", "record_status", "open_conversations", "watermarks", "rate_buckets"}


def test_migrate_creates_every_table_and_a_second_run_changes_nothing(fresh_url) -> None:
    store = StateStore(fresh_url)
    assert store.revisions() == (None, head_revision())

    assert store.migrate() == head_revision()
    store.record_outcomes("run", "acme", [LedgerOutcome("chat", "1", "created")])
    assert store.migrate() == head_revision()

    assert TABLES | {VERSION_TABLE} <= set(inspect(store.engine).get_table_names())
    assert store.record_status("acme", "1")["operation"] == "created"
    store.dispose()


def test_the_head_revision_matches_the_schema(store: StateStore) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []


def test_one_linear_history() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert [rev.revision for rev in script.walk_revisions()][::-1] == ["0001", "0002"]


def _migrate(url: str) -> str:
    return StateStore(url).migrate()


def test_two_processes_migrating_at_once_both_end_at_head(fresh_url) -> None:
    url = fresh_url.render_as_string(hide_password=False)
    assert parallel_map(_migrate, [url] * 3) == [head_revision()] * 3
