"""SCIM users: the identity provider's userName, externalId and display name of a membership,
unique userName per company whatever its case, and the indexes the SCIM filters search by

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scim_users",
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=300), nullable=False),
        sa.Column("user_name_key", sa.String(length=300), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=True),
        sa.Column("display_name", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_scim_users_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_scim_users_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("membership_id", name=op.f("pk_scim_users")),
        sa.UniqueConstraint(
            "company_id", "user_name_key", name=op.f("uq_scim_users_company_id_user_name_key")
        ),
    )
    op.create_index("ix_scim_users_company_external", "scim_users", ["company_id", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_scim_users_company_external", table_name="scim_users")
    op.drop_table("scim_users")
