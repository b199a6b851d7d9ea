"""the chats shown a staff member's own command menu

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_menus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("messenger", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_menus")),
        sa.UniqueConstraint("messenger", "external_id",
                            name=op.f("uq_staff_menus_messenger_external_id")),
    )


def downgrade() -> None:
    op.drop_table("staff_menus")
