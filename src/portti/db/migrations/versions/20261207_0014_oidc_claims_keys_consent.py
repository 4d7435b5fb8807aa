"""OpenID claims, keys and consent: keys per purpose with the key id as sealing's associated
data (SEC-25), the pending bank-ID login's nonce and verifier sealed (SEC-28), the identity
provider's acr and amr kept with the session (OIDC-5), first-party clients and remembered
consent (OIDC-4)

Keys: every existing key becomes a relying-party key (``rp``: brokers registered it, and keep
verifying Portti's assertions with it); the OpenID Provider's first ``op`` keys are made on
first use. Their private parts are sealed again with the key id as associated data, which
needs PORTTI_SECRET_KEY (read as the service reads it) when there are keys.

Pending bank-ID logins cannot be sealed again (the state that keys them travels only through
the browser): they are dropped; a person in the middle of one starts again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

import portti.db.base

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _reseal_keys(*, bind_to_row: bool) -> None:
    if context.is_offline_mode():
        raise RuntimeError(
            "0014 re-seals Portti's keys in Python and cannot be printed as SQL: "
            "run `portti migrate --to 0014` against the database"
        )
    conn = op.get_bind()
    keys = sa.table(
        "service_keys", sa.column("kid", sa.String), sa.column("private_sealed", sa.Text)
    )
    rows = conn.execute(sa.select(keys.c.kid, keys.c.private_sealed)).all()
    if not rows:
        return
    from portti.config import Settings
    from portti.keys.sealing import open_private, seal_private

    secret = Settings().secret
    for kid, sealed in rows:
        plain = open_private(secret, sealed, kid=None if bind_to_row else kid)
        conn.execute(
            keys.update()
            .where(keys.c.kid == kid)
            .values(private_sealed=seal_private(secret, plain, kid=kid if bind_to_row else None))
        )


def upgrade() -> None:
    with op.batch_alter_table("service_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=2), nullable=False, server_default="rp")
        )
        batch_op.drop_constraint("uq_service_keys_alg_generation", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_service_keys_purpose_alg_generation"), ["purpose", "alg", "generation"]
        )
    _reseal_keys(bind_to_row=True)

    op.execute("DELETE FROM oidc_flows")
    with op.batch_alter_table("oidc_flows", schema=None) as batch_op:
        batch_op.drop_column("nonce")
        batch_op.drop_column("code_verifier")
        batch_op.add_column(sa.Column("sealed", sa.Text(), nullable=False))

    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("login_acr", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("login_amr", sa.JSON(), nullable=True))

    # oidc_clients.first_party comes with migration 0013 (the registration flag).

    op.create_table(
        "oidc_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("granted_at", portti.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_oidc_consents_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_consents")),
        sa.UniqueConstraint(
            "person_id", "client_id", name=op.f("uq_oidc_consents_person_id_client_id")
        ),
    )
    with op.batch_alter_table("oidc_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_consents_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oidc_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_consents_person_id"))
    op.drop_table("oidc_consents")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("login_amr")
        batch_op.drop_column("login_acr")
    op.execute("DELETE FROM oidc_flows")
    with op.batch_alter_table("oidc_flows", schema=None) as batch_op:
        batch_op.drop_column("sealed")
        batch_op.add_column(sa.Column("nonce", sa.String(length=100), nullable=False))
        batch_op.add_column(sa.Column("code_verifier", sa.String(length=100), nullable=False))
    # The OpenID Provider's keys have no place without a purpose: they go (clients fetch the
    # key set again); the relying party's keys stay, sealed as before.
    op.execute("DELETE FROM service_keys WHERE purpose = 'op'")
    _reseal_keys(bind_to_row=False)
    with op.batch_alter_table("service_keys", schema=None) as batch_op:
        batch_op.drop_constraint("uq_service_keys_purpose_alg_generation", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_service_keys_alg_generation"), ["alg", "generation"]
        )
        batch_op.drop_column("purpose")
