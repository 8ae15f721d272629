"""The plain driver address of a zone's PostgreSQL database.

The feed and the leadership hold connections of their own, outside the
engine's pool (a LISTEN, a session lock), opened with asyncpg directly.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url


def is_postgresql(database_url: str) -> bool:
    return database_url.startswith("postgresql")


def plain_dsn(database_url: str) -> str:
    """`postgresql+asyncpg://u:p@h/db` as asyncpg takes it: `postgresql://u:p@h/db`."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


# How long the feed and the leadership wait for a connection to be made: a database cut off
# without a reset would otherwise hold them for asyncpg's default of a minute.
CONNECT_TIMEOUT = 5.0
