"""the support inbox: conversations with students, and the messenger's id of each message
the outbox sent (a reply to it is found by it)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.add_column("outbox", sa.Column("external_message_id", sa.String(), nullable=True))
    op.create_index("ix_outbox_identity_id_external_message_id", "outbox",
                    ["identity_id", "external_message_id"])
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_student_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_conversations_user_id_users")),
        sa.ForeignKeyConstraint(["identity_id"], ["identities.id"],
                                name=op.f("fk_conversations_identity_id_identities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_index("ix_conversations_user_id", "conversations", ["user_id"])
    op.create_index("ix_conversations_open_user_id", "conversations", ["user_id"], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index("ix_conversations_status_updated_at", "conversations",
                    ["status", "updated_at"])
    op.create_table(
        "conversation_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"],
            name=op.f("fk_conversation_messages_conversation_id_conversations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_messages")),
    )
    op.create_index("ix_conversation_messages_conversation_id_id", "conversation_messages",
                    ["conversation_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_conversation_messages_conversation_id_id",
                  table_name="conversation_messages")
    op.drop_table("conversation_messages")
    op.drop_index("ix_conversations_status_updated_at", table_name="conversations")
    op.drop_index("ix_conversations_open_user_id", table_name="conversations")
    op.drop_index("ix_conversations_user_id", table_name="conversations")
    op.drop_table("conversations")
    op.drop_index("ix_outbox_identity_id_external_message_id", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("external_message_id")
