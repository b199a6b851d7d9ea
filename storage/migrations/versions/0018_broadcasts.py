"""broadcasts: broadcasts, their recipients and button presses; students' marketing opt-out

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.add_column("users", sa.Column("marketing", sa.Boolean(), nullable=False,
                                     server_default=sa.text("true")))
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("author_messenger", sa.String(), nullable=False),
        sa.Column("author_chat_id", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("picture_url", sa.String(), nullable=True),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("segment", sa.String(), nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _when("created_at"),
        _when("start_at"),
        _when("finished_at"),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("progress_message_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_index("ix_broadcasts_status_start_at", "broadcasts", ["status", "start_at"])
    op.create_table(
        "broadcast_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("messenger", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("claimed_at"),
        _when("done_at"),
        sa.Column("error", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"],
                                name=op.f("fk_broadcast_recipients_broadcast_id_broadcasts")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_broadcast_recipients_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_recipients")),
        sa.UniqueConstraint("broadcast_id", "user_id",
                            name=op.f("uq_broadcast_recipients_broadcast_id_user_id")),
    )
    op.create_index("ix_broadcast_recipients_broadcast_id_status_id", "broadcast_recipients",
                    ["broadcast_id", "status", "id"])
    op.create_index(op.f("ix_broadcast_recipients_user_id"), "broadcast_recipients",
                    ["user_id"])
    op.create_table(
        "broadcast_presses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("button", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _when("pressed_at"),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"],
                                name=op.f("fk_broadcast_presses_broadcast_id_broadcasts")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_broadcast_presses_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_presses")),
        sa.UniqueConstraint("broadcast_id", "button", "user_id",
                            name=op.f("uq_broadcast_presses_broadcast_id_button_user_id")),
    )
    op.create_index(op.f("ix_broadcast_presses_user_id"), "broadcast_presses", ["user_id"])


def downgrade() -> None:
    op.drop_table("broadcast_presses")
    op.drop_table("broadcast_recipients")
    op.drop_table("broadcasts")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("marketing")
