"""Machine clients (client credentials, PRV-1) and companies created by business software
(PRV-2): the client's kind, the machine actor of audit events, a company's external id and
closing, and invitations sent on behalf of business software

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from portti.db.base import UtcDateTime

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every existing client logs people in.
    with op.batch_alter_table("oidc_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), server_default="login", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_oidc_clients_kind"), "kind IN ('login', 'machine')"
        )
    # Not in batch mode: the audit trail keeps its append-only triggers (SQLite adds a
    # nullable column in place).
    op.add_column("audit_events", sa.Column("actor_client_id", sa.String(length=64)))
    op.create_index(
        op.f("ix_audit_events_actor_client"),
        "audit_events",
        ["actor_client_id", "id"],
        unique=False,
    )
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_client_id", sa.String(length=64)))
        batch_op.add_column(sa.Column("external_id", sa.String(length=100)))
        batch_op.add_column(sa.Column("external_request_hash", sa.String(length=64)))
        batch_op.add_column(sa.Column("closed_at", UtcDateTime(timezone=True)))
        batch_op.create_unique_constraint(
            op.f("uq_companies_created_by_client_id_external_id"),
            ["created_by_client_id", "external_id"],
        )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.alter_column("inviter_person_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("inviter_client_id", sa.String(length=64)))
        batch_op.add_column(sa.Column("inviter_client_name", sa.String(length=200)))


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("inviter_client_name")
        batch_op.drop_column("inviter_client_id")
        batch_op.alter_column("inviter_person_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("uq_companies_created_by_client_id_external_id"), type_="unique"
        )
        batch_op.drop_column("closed_at")
        batch_op.drop_column("external_request_hash")
        batch_op.drop_column("external_id")
        batch_op.drop_column("created_by_client_id")
    op.drop_index(op.f("ix_audit_events_actor_client"), table_name="audit_events")
    op.drop_column("audit_events", "actor_client_id")
    with op.batch_alter_table("oidc_clients", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_oidc_clients_kind"), type_="check")
        batch_op.drop_column("kind")
