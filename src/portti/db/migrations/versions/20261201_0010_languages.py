"""Languages: a person's own, a company's default, and an invitation's

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("default_language", sa.String(length=8), server_default="en", nullable=False)
        )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        # Invitations sent before there was a choice went out in English.
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="en", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_column("default_language")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_column("language")
