"""automations: runs, events, states, student fields, webhook calls; free orders

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_RUN = sa.text("status IN ('active', 'waiting')")


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.add_column("orders", sa.Column("free", sa.Boolean(), nullable=False,
                                      server_default=sa.text("false")))
    op.create_table(
        "automation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("automation", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("position", sa.String(), nullable=False),
        _when("wait_until"),
        sa.Column("waiting_for", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _when("started_at"),
        _when("updated_at"),
        sa.Column("repeat_key", sa.String(), nullable=False),
        sa.Column("paused_from", sa.String(length=20), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_automation_runs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint("automation", "user_id", "repeat_key",
                            name=op.f("uq_automation_runs_automation_user_id_repeat_key")),
    )
    op.create_index(op.f("ix_automation_runs_user_id"), "automation_runs", ["user_id"])
    op.create_index("ix_automation_runs_wait_until_live", "automation_runs", ["wait_until"],
                    sqlite_where=OPEN_RUN, postgresql_where=OPEN_RUN)
    op.create_index("ix_automation_runs_automation_status", "automation_runs",
                    ["automation", "status"])
    op.create_table(
        "automation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_automation_events_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_events")),
    )
    op.create_index(op.f("ix_automation_events_user_id"), "automation_events", ["user_id"])
    op.create_table(
        "automation_states",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(), nullable=False),
        _when("changed_at"),
        sa.Column("cursor", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_automation_states")),
    )
    op.create_table(
        "student_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_student_fields_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student_fields")),
        sa.UniqueConstraint("user_id", "key", name=op.f("uq_student_fields_user_id_key")),
    )
    op.create_table(
        "webhook_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("automation", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("due_at"),
        _when("claimed_at"),
        _when("sent_at"),
        sa.Column("last_error", sa.String(), nullable=True),
        _when("created_at"),
        sa.ForeignKeyConstraint(["run_id"], ["automation_runs.id"],
                                name=op.f("fk_webhook_calls_run_id_automation_runs")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_webhook_calls_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_calls")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_webhook_calls_dedupe_key")),
    )
    op.create_index(op.f("ix_webhook_calls_run_id"), "webhook_calls", ["run_id"])
    op.create_index(op.f("ix_webhook_calls_user_id"), "webhook_calls", ["user_id"])
    op.create_index("ix_webhook_calls_status_due_at", "webhook_calls", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("webhook_calls")
    op.drop_table("student_fields")
    op.drop_table("automation_states")
    op.drop_table("automation_events")
    op.drop_table("automation_runs")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("free")
