"""paid groups: memberships and personal invite links

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("enforced", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("chat_id", "external_id",
                            name=op.f("uq_memberships_chat_id_external_id")),
    )
    op.create_index(op.f("ix_memberships_check_at"), "memberships", ["check_at"])
    op.create_index(op.f("ix_memberships_external_id"), "memberships", ["external_id"])
    op.create_table(
        "invite_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["purchase_id"], ["purchases.id"],
                                name=op.f("fk_invite_links_purchase_id_purchases")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_invite_links_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invite_links")),
        sa.UniqueConstraint("url", name=op.f("uq_invite_links_url")),
    )
    op.create_index(op.f("ix_invite_links_purchase_id"), "invite_links", ["purchase_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_invite_links_purchase_id"), table_name="invite_links")
    op.drop_table("invite_links")
    op.drop_index(op.f("ix_memberships_external_id"), table_name="memberships")
    op.drop_index(op.f("ix_memberships_check_at"), table_name="memberships")
    op.drop_table("memberships")
