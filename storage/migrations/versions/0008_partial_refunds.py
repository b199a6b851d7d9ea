"""partial refunds and renewal charges in doubt: how much of a payment has been given back,
and when a renewal's current key was first sent to the gateway

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("refunded_amount", sa.Integer(), nullable=False,
                                        server_default="0"))
    op.add_column("renewals", sa.Column("key_sent_at", sa.DateTime(timezone=True),
                                        nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("renewals") as batch:
        batch.drop_column("key_sent_at")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("refunded_amount")
