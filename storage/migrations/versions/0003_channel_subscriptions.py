"""channels sold as Telegram Stars subscriptions: who renews a purchase, and the links

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("purchases", sa.Column("renewal", sa.String(), nullable=True))
    op.create_table(
        "subscription_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(), nullable=False),
        sa.Column("offer_code", sa.String(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_links")),
        sa.UniqueConstraint("url", name=op.f("uq_subscription_links_url")),
    )
    op.create_index("ix_subscription_links_group_offer", "subscription_links",
                    ["group", "offer_code"])


def downgrade() -> None:
    op.drop_index("ix_subscription_links_group_offer", table_name="subscription_links")
    op.drop_table("subscription_links")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("renewal")
