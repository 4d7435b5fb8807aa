"""TOTP seeds, queued messages and the dev mailbox sealed with their row's id as associated data
(SEC-25): each sealed value is opened and sealed again, bound to its row. Needs
PORTTI_SECRET_KEY (and PORTTI_PREVIOUS_SECRET_KEYS after a rotation) when such rows exist; runs
against the database only (not as printed SQL)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, key column, sealed column, SecretBox purpose, associated data of a row)
SEALED = (
    ("accounts", "id", "totp_secret_sealed", "totp", "account:{key}"),
    ("outbox_messages", "id", "sealed_body", "outbox", "outbox:{key}"),
    ("dev_messages", "id", "sealed_body", "devmail", "devmail:{key}"),
)


def _reseal(*, bind: bool) -> None:
    if context.is_offline_mode():
        raise RuntimeError(
            "0022 seals rows again in Python and cannot be printed as SQL: "
            "run `portti migrate --to 0022` against the database"
        )
    conn = op.get_bind()
    todo = []
    for table, key, column, purpose, ctx in SEALED:
        t = sa.table(table, sa.column(key), sa.column(column, sa.Text))
        rows = conn.execute(
            sa.select(t.c[key], t.c[column]).where(t.c[column].is_not(None), t.c[column] != "")
        ).all()
        todo.append((t, key, column, purpose, ctx, rows))
    if not any(rows for *_, rows in todo):
        return
    from portti.config import Settings
    from portti.infra.crypto import SecretBox

    secret = Settings().secret
    for t, key, column, purpose, ctx, rows in todo:
        box = SecretBox(secret, purpose)
        for row_key, sealed in rows:
            bound = ctx.format(key=row_key)
            plain = box.open(sealed, context=None if bind else bound)
            conn.execute(
                t.update()
                .where(t.c[key] == row_key)
                .values({column: box.seal(plain, context=bound if bind else None)})
            )


def upgrade() -> None:
    _reseal(bind=True)


def downgrade() -> None:
    _reseal(bind=False)
