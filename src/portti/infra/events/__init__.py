"""Publish/subscribe between requests and between processes (server push, WEB-1, OPS-2).

A waiting browser's stream subscribes to a channel (one per login transaction); the handler that
changes the transaction publishes to it after the commit. Three implementations behind one
protocol, picked by ``settings.event_bus_url``:

* ``memory://`` — one process (the default; tests, ``make run``);
* ``postgresql`` — PostgreSQL ``LISTEN``/``NOTIFY`` on the application database (no extra
  service); a ``postgresql://…`` URL names another database;
* ``redis://…`` — Redis pub/sub.

Delivery is at most once and best effort: a subscriber that is slow, or a message lost while a
connection was being re-established, is not retried; a subscriber may also see a message
published just before it subscribed (PostgreSQL unlistens lazily). Subscribers therefore treat
a message as a hint, re-read the database on connect and every few seconds, and never move
backwards: the database is the truth.

``publish`` is a coroutine for async code; ``publish_threadsafe`` is for ``def`` handlers that
run in the threadpool, and never raises (the commit has happened; a lost hint only delays the
browser until its next re-check).
"""

from __future__ import annotations

from portti.infra.events.bus import EventBus, InMemoryEventBus, Subscription, channel_digest
from portti.infra.events.postgres_bus import PostgresEventBus, pg_identifier
from portti.infra.events.redis_bus import RedisEventBus

__all__ = [
    "EventBus",
    "InMemoryEventBus",
    "PostgresEventBus",
    "RedisEventBus",
    "Subscription",
    "channel_digest",
    "make_event_bus",
    "pg_identifier",
]


def make_event_bus(event_bus_url: str, database_url: str) -> EventBus:
    if event_bus_url.startswith("memory://"):
        return InMemoryEventBus()
    if event_bus_url in {"postgresql", "postgres"}:
        if not database_url.startswith(("postgresql", "postgres")):
            raise ValueError(
                "PORTTI_EVENT_BUS_URL=postgresql needs a PostgreSQL PORTTI_DATABASE_URL"
            )
        return PostgresEventBus(database_url)
    if event_bus_url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return PostgresEventBus(event_bus_url)
    if event_bus_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisEventBus(event_bus_url)
    raise ValueError(f"Unknown event bus URL scheme: {event_bus_url.split('://', 1)[0]!r}")
