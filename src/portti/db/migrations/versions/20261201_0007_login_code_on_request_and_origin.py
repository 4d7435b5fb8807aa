"""login transactions: the code to type is issued on request with its own expiry, and the
browser's origin is kept (SEC-13)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portti.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_transactions", schema=None) as batch_op:
        batch_op.alter_column("short_code_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(
            sa.Column(
                "short_code_expires_at", portti.db.base.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("origin", sa.String(length=200), nullable=True))
    # Codes issued before this revision were valid for the whole transaction: none stays valid.
    op.execute("UPDATE login_transactions SET short_code_hash = NULL")


def downgrade() -> None:
    # Transactions live two minutes; the old schema wants a code for each, so the open ones end.
    op.execute("DELETE FROM login_transactions WHERE short_code_hash IS NULL")
    with op.batch_alter_table("login_transactions", schema=None) as batch_op:
        batch_op.drop_column("origin")
        batch_op.drop_column("short_code_expires_at")
        batch_op.alter_column("short_code_hash", existing_type=sa.String(length=64), nullable=False)
