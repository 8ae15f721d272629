"""The PostgreSQL databases a topology's zones use, made before the zones start.

`[defaults] database = "postgresql+asyncpg://user@host:5432/"` gives each zone
a database named after it; `zones up` creates the ones that are missing (the
zone itself only ever connects to its own, and a zone started by hand over a
missing database refuses to start rather than make one somewhere unexpected).
"""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url

from zones.node.launch.topology import Topology
from zones.node.workers.dsn import plain_dsn


class DatabaseError(Exception):
    """A zone's PostgreSQL database could not be found or made."""


async def create_missing_databases(topology: Topology) -> list[str]:
    """Create each zone's PostgreSQL database that does not exist yet; the names made."""
    made = []
    for zone in topology.zones.values():
        if zone.database is None or not zone.database.startswith("postgresql"):
            continue
        url = make_url(zone.database)
        name = url.database
        if not name:
            raise DatabaseError(f"zone {zone.name!r}: its database URL names no database")
        server = plain_dsn(url.set(database="postgres").render_as_string(hide_password=False))
        try:
            connection = await asyncpg.connect(server)
        except (OSError, asyncpg.PostgresError) as exc:
            raise DatabaseError(f"zone {zone.name!r}: cannot reach PostgreSQL: {exc}") from exc
        try:
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                quoted = '"' + name.replace('"', '""') + '"'
                await connection.execute(f"CREATE DATABASE {quoted}")
                made.append(name)
        except asyncpg.PostgresError as exc:
            raise DatabaseError(
                f"zone {zone.name!r}: cannot create database {name}: {exc}"
            ) from exc
        finally:
            await connection.close()
    return made
