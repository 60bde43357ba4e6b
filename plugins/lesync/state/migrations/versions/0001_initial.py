"""state store: runs, ledger, replays, open conversations, watermarks, rate budget

Revision ID: 0001
Revises:
Create Date: 2026-12-03 08:03:02.018832
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "open_conversations",
        sa.Column("integration", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=False),
        sa.Column("first_seen_open", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_checked", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "integration", "channel", "conversation_id", name=op.f("pk_open_conversations")
        ),
    )
    op.create_index(
        "ix_open_conversations_checked",
        "open_conversations",
        ["integration", "channel", "last_checked"],
        unique=False,
    )

    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_buckets")),
    )
    op.create_table(
        "record_outcomes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("run_id", sa.String(length=400), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("integration", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("liveperson_id", sa.String(length=120), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("salesforce_id", sa.String(length=120), nullable=True),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("transient", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_outcomes")),
        sa.UniqueConstraint(
            "run_id",
            "liveperson_id",
            "target",
            "attempt",
            name=op.f("uq_record_outcomes_run_id_liveperson_id_target_attempt"),
        ),
    )
    op.create_index(
        "ix_record_outcomes_record", "record_outcomes", ["integration", "liveperson_id"], unique=False
    )
    op.create_index(
        "ix_record_outcomes_recorded", "record_outcomes", ["integration", "recorded_at"], unique=False
    )

    op.create_table(
        "record_status",
        sa.Column("integration", sa.String(length=100), nullable=False),
        sa.Column("liveperson_id", sa.String(length=120), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("salesforce_id", sa.String(length=120), nullable=True),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("transient", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.String(length=400), nullable=True),
        sa.Column("mapping_version", sa.String(length=100), nullable=True),
        sa.Column("replay_requested", sa.Boolean(), nullable=False),
        sa.Column("replay_taken_by", sa.String(length=400), nullable=True),
        sa.Column("replay_taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("integration", "liveperson_id", "target", name=op.f("pk_record_status")),
    )
    op.create_index("ix_record_status_channel", "record_status", ["integration", "channel"], unique=False)
    op.create_index(
        "ix_record_status_last_attempt", "record_status", ["integration", "last_attempt_at"], unique=False
    )
    op.create_index(
        "ix_record_status_next_retry", "record_status", ["integration", "next_retry_at"], unique=False
    )
    op.create_index(
        "ix_record_status_open_failures",
        "record_status",
        ["integration", "resolved_at", "error_code"],
        unique=False,
    )

    op.create_table(
        "sync_runs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("run_id", sa.String(length=400), nullable=False),
        sa.Column("integration", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extracted", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("files_uploaded", sa.Integer(), nullable=False),
        sa.Column("files_failed", sa.Integer(), nullable=False),
        sa.Column("liveperson_calls", sa.Integer(), nullable=False),
        sa.Column("salesforce_calls", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("verdict", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
        sa.UniqueConstraint("run_id", name=op.f("uq_sync_runs_run_id")),
    )
    op.create_index("ix_sync_runs_finished", "sync_runs", ["finished_at"], unique=False)
    op.create_index(
        "ix_sync_runs_integration_started", "sync_runs", ["integration", "started_at"], unique=False
    )

    op.create_table(
        "watermarks",
        sa.Column("integration", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("value", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("integration", "stream", name=op.f("pk_watermarks")),
    )


def downgrade() -> None:

    op.drop_table("watermarks")
    op.drop_index("ix_sync_runs_integration_started", table_name="sync_runs")
    op.drop_index("ix_sync_runs_finished", table_name="sync_runs")

    op.drop_table("sync_runs")
    op.drop_index("ix_record_status_open_failures", table_name="record_status")
    op.drop_index("ix_record_status_next_retry", table_name="record_status")
    op.drop_index("ix_record_status_last_attempt", table_name="record_status")
    op.drop_index("ix_record_status_channel", table_name="record_status")

    op.drop_table("record_status")
    op.drop_index("ix_record_outcomes_recorded", table_name="record_outcomes")
    op.drop_index("ix_record_outcomes_record", table_name="record_outcomes")

    op.drop_table("record_outcomes")
    op.drop_table("rate_buckets")
    op.drop_index("ix_open_conversations_checked", table_name="open_conversations")

    op.drop_table("open_conversations")
