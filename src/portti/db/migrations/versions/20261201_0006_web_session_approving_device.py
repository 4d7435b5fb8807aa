"""web sessions remember the device that approved them; unproven accounts need an invitation

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_by_device_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_web_sessions_approved_by_device_id"),
            ["approved_by_device_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_web_sessions_approved_by_device_id_devices"),
            "devices",
            ["approved_by_device_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # SEC-2: an account no device was ever bound with was set up in an activation that has not
    # finished (and may never: its invitation can end). It does not activate the app alone.
    op.execute(
        sa.text(
            "UPDATE accounts SET requires_invitation = :yes WHERE NOT EXISTS "
            "(SELECT 1 FROM devices WHERE devices.account_id = accounts.id)"
        ).bindparams(yes=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_web_sessions_approved_by_device_id_devices"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_web_sessions_approved_by_device_id"))
        batch_op.drop_column("approved_by_device_id")
