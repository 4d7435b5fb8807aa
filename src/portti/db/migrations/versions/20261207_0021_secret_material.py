"""Keys that outlive a rotation of the root secret (the PIN pepper, the pairwise-subject key,
long-lived token hashes' keys), sealed under it. Adds only: may run before the new code

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portti.db.base

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "secret_material",
        sa.Column("purpose", sa.String(length=60), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", portti.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("purpose", name=op.f("pk_secret_material")),
    )


def downgrade() -> None:
    op.drop_table("secret_material")
