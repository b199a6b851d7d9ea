"""stats and exports: when a payment was refunded, the indexes the figures read by time, and
the staff's daily digest

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("payments", "created_at"),
    ("payments", "refunded_at"),
    ("orders", "created_at"),
    ("orders", "paid_at"),
    ("users", "created_at"),
    ("purchases", "ended_at"),
)


def upgrade() -> None:
    op.add_column("payments", sa.Column("refunded_at", sa.DateTime(timezone=True),
                                        nullable=True))
    # Refunds recorded before: when their order was closed, or else when the money came.
    op.execute(sa.text(
        "UPDATE payments SET refunded_at = COALESCE("
        "(SELECT orders.closed_at FROM orders WHERE orders.id = payments.order_id "
        "AND orders.status = 'refunded'), payments.created_at) "
        "WHERE payments.status = 'refunded'"))
    for table, column in INDEXES:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])
    op.create_table(
        "staff_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("messenger", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_digests")),
        sa.UniqueConstraint("messenger", "external_id",
                            name=op.f("uq_staff_digests_messenger_external_id")),
    )
    op.create_index(op.f("ix_staff_digests_due_at"), "staff_digests", ["due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_digests_due_at"), table_name="staff_digests")
    op.drop_table("staff_digests")
    for table, column in reversed(INDEXES):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("refunded_at")
