"""OpenID clients: web origins (CORS for single-page apps) and the first-party flag

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite rebuilds the table; PostgreSQL adds the columns in place. Existing clients
    # get no web origins (no CORS) and are not first-party (consent is asked).
    with op.batch_alter_table("oidc_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_party", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("web_origins", sa.JSON(), server_default="[]", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("oidc_clients", schema=None) as batch_op:
        batch_op.drop_column("web_origins")
        batch_op.drop_column("first_party")
