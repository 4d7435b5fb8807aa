"""outbox: queued e-mail and SMS (INV-7) and the dev mailbox (OPS-1)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:41:03.952747
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portti.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Bodies are sealed (SecretBox) in both tables; outbox bodies are erased once delivered.
    op.create_table(
        "dev_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=True),
        sa.Column("sealed_body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=True),
        sa.Column("created_at", portti.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_messages")),
    )
    with op.batch_alter_table("dev_messages", schema=None) as batch_op:
        batch_op.create_index("ix_dev_messages_recipient", ["recipient", "id"], unique=False)

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=True),
        sa.Column("sealed_body", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", portti.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", portti.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", portti.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", portti.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_outbox_messages_channel")),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')",
            name=op.f("ck_outbox_messages_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_messages_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_due")

    op.drop_table("outbox_messages")
    with op.batch_alter_table("dev_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_dev_messages_recipient")

    op.drop_table("dev_messages")
