"""devices carry the companies whose invitations activated them; app logins carry their scope

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portti.db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_companies",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("added_at", portti.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_device_companies_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_companies_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_device_companies_invitation_id_invitations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("device_id", "company_id", name=op.f("pk_device_companies")),
    )
    with op.batch_alter_table("device_companies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_companies_company_id"), ["company_id"], unique=False
        )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "activated_by", sa.String(length=20), server_default="invitation", nullable=False
            )
        )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("company_scope", sa.JSON(), nullable=True))

    # SEC-14: what each existing device carries. Bank-ID activations keep every company; a
    # device activated by an invitation carries that invitation's company; one activated with
    # an account (or whose activation was purged) the companies of the person's invitations
    # that were activated by then. A company that only linked the person gets nothing: its
    # own invitation brings it.
    op.execute(
        "UPDATE devices SET activated_by = (SELECT activations.kind FROM activations "
        "WHERE activations.id = devices.activation_id) WHERE activation_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO device_companies (device_id, company_id, invitation_id, added_at) "
        "SELECT devices.id, invitations.company_id, MIN(invitations.id), devices.created_at "
        "FROM devices JOIN invitations ON invitations.person_id = devices.person_id "
        "WHERE devices.activated_by <> 'bank_id' AND invitations.activated_at IS NOT NULL "
        "AND (invitations.activated_at <= devices.created_at OR invitations.id = "
        "(SELECT activations.invitation_id FROM activations "
        "WHERE activations.id = devices.activation_id)) "
        "GROUP BY devices.id, invitations.company_id, devices.created_at"
    )
    # Browser sessions logged in with the app before this carry no scope: they end (their
    # absolute limit is set to their start), and the next app login carries its device's.
    op.execute(
        "UPDATE web_sessions SET expires_at = created_at "
        "WHERE login_method = 'app_qr' AND company_scope IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("company_scope")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("activated_by")
    with op.batch_alter_table("device_companies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_companies_company_id"))
    op.drop_table("device_companies")
