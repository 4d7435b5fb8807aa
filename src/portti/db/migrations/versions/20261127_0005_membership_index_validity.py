"""membership list index carries the validity dates

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_memberships_company_sort")
        batch_op.create_index(
            "ix_memberships_company_sort",
            ["company_id", "sort_name", "id", "valid_from", "valid_until"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_memberships_company_sort")
        batch_op.create_index(
            "ix_memberships_company_sort", ["company_id", "sort_name", "id"], unique=False
        )
