"""SCIM users: the identity provider's userName, externalId and display name of a membership,
unique userName per company whatever its case, and the indexes the SCIM filters search by;
on SQLite, membership ids (the SCIM users' ids) are never given again after a removal; e-mail
addresses searched whatever their case

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


# The tables whose rows name a membership (ON DELETE CASCADE): kept aside while SQLite rebuilds
# the memberships table, whose old copy's drop would otherwise delete them.
_CHILDREN = ("membership_roles", "membership_profiles")


def _memberships_never_reuse_ids() -> None:
    """A SCIM user's ``id`` is its membership's id, and RFC 7643 §3.1 forbids giving it again.
    PostgreSQL's sequence never does; SQLite's plain ``INTEGER PRIMARY KEY`` gives the largest
    id again once its row is removed, so the table is rebuilt with AUTOINCREMENT (its
    ``sqlite_sequence`` remembers the largest id ever given)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for child in _CHILDREN:
        op.execute(f"CREATE TEMP TABLE keep_{child} AS SELECT * FROM {child}")  # noqa: S608 (names are ours)
    with op.batch_alter_table(
        "memberships", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass
    for child in _CHILDREN:
        op.execute(f"DELETE FROM {child}")  # noqa: S608 (names are ours)
        op.execute(f"INSERT INTO {child} SELECT * FROM keep_{child}")  # noqa: S608 (names are ours)
        op.execute(f"DROP TABLE keep_{child}")


def upgrade() -> None:
    _memberships_never_reuse_ids()
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
    op.create_index("ix_persons_email_lower", "persons", [sa.text("lower(email)")])


def downgrade() -> None:
    # Memberships keep AUTOINCREMENT on SQLite: harmless to the earlier revisions.
    op.drop_index("ix_persons_email_lower", table_name="persons")
    op.drop_index("ix_scim_users_company_external", table_name="scim_users")
    op.drop_table("scim_users")
