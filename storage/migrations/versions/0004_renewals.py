"""renewals and reminders: saved payment methods, reminder times, automatic renewal attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.add_column("purchases", sa.Column("renewal_method", sa.String(), nullable=True))
    op.add_column("purchases", sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_purchases_remind_at"), "purchases", ["remind_at"])
    op.create_table(
        "renewals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", sa.Integer(), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["purchase_id"], ["purchases.id"],
                                name=op.f("fk_renewals_purchase_id_purchases")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_renewals_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renewals")),
        sa.UniqueConstraint("purchase_id", "period_end",
                            name=op.f("uq_renewals_purchase_id_period_end")),
    )
    op.create_index("ix_renewals_due_at_pending", "renewals", ["due_at"],
                    sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_renewals_due_at_pending", table_name="renewals")
    op.drop_table("renewals")
    op.drop_index(op.f("ix_purchases_remind_at"), table_name="purchases")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("remind_at")
        batch.drop_column("renewal_method")
