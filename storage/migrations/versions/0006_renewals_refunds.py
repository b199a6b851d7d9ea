"""money to refund and renewal orders: payments that granted nothing are marked with why, and a
renewal is found by its order

Revision ID: 0006_renewals
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_renewals"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TO_REFUND = sa.text("refund_reason IS NOT NULL AND status = 'succeeded'")


def upgrade() -> None:
    op.add_column("payments", sa.Column("refund_reason", sa.String(), nullable=True))
    op.create_index("ix_payments_to_refund", "payments", ["created_at"],
                    sqlite_where=TO_REFUND, postgresql_where=TO_REFUND)
    op.create_index(op.f("ix_renewals_order_id"), "renewals", ["order_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_renewals_order_id"), table_name="renewals")
    op.drop_index("ix_payments_to_refund", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("refund_reason")
