"""Alembic environment: the URL comes from the caller (``portti migrate``) or from settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from portti.db.session import make_engine
from portti.schema import Model

config = context.config
target_metadata = Model.metadata


def run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch migration rebuilds a SQLite table (create, copy, drop, rename). With foreign
        # keys on, dropping the old table deletes every row that refers to it through ON DELETE
        # CASCADE (a rebuilt `invitations` took the devices activated by them, and their
        # companies). SQLite reads the pragma only outside a transaction, so before the first
        # write; the connection's engine is disposed after the migration, and the pool's
        # connections turn foreign keys on as they connect (``db/session.py``).
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows without their parents: {broken}")


connection = config.attributes.get("connection")
if context.is_offline_mode():
    # `portti migrate --sql`: the SQL for a DBA to read or run, PostgreSQL only (SQLite's batch
    # table rebuilds need the live schema).
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from portti.config import Settings

        url = Settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
