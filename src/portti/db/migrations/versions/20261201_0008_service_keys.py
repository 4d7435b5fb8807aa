"""Portti's own signing and encryption keys

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portti.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=20), nullable=False),
        sa.Column("use", sa.String(length=3), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("private_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", portti.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("active_from", portti.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_service_keys")),
        sa.UniqueConstraint("alg", "generation", name=op.f("uq_service_keys_alg_generation")),
    )


def downgrade() -> None:
    op.drop_table("service_keys")
