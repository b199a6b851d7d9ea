"""linked accounts: one-time link codes, the messenger a student prefers, merged students

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("preferred_messenger", sa.String(), nullable=True))
    op.add_column("users", sa.Column("merged_into", sa.Integer(), nullable=True))
    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_link_codes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_link_codes_code")),
    )
    op.create_index(op.f("ix_link_codes_user_id"), "link_codes", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_link_codes_user_id"), table_name="link_codes")
    op.drop_table("link_codes")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("merged_into")
        batch.drop_column("preferred_messenger")
