"""the student card: staff notes, usernames of identities, access granted by staff

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("identities", sa.Column("username", sa.String(), nullable=True))
    op.create_index(op.f("ix_identities_external_id"), "identities", ["external_id"])
    op.add_column("orders", sa.Column("granted_by", sa.String(), nullable=True))
    op.create_table(
        "staff_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_staff_notes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_notes")),
    )
    op.create_index("ix_staff_notes_user_id_id", "staff_notes", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_staff_notes_user_id_id", table_name="staff_notes")
    op.drop_table("staff_notes")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("granted_by")
    op.drop_index(op.f("ix_identities_external_id"), table_name="identities")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("username")
