"""How many PostgreSQL connections a zone's workers hold, and whether the server has them.

Each worker keeps `zone.database_connections` connections open for its
statements (requests beyond that wait their turn, they do not open more), half
as many again for claims on instance ids, and one each for the commit feed and
the leadership. A PostgreSQL connection is a server process; a zone that could
open more than the server accepts would answer 503 under load, so the zone
says so when it starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

from zones.node.config import Settings
from zones.node.workers.dsn import plain_dsn

log = logging.getLogger("zones.workers")

HELD_APART = 2  # the commit feed's LISTEN and the leadership's lock, one each


@dataclass(frozen=True)
class ConnectionBudget:
    """The connections one worker opens at most, by use."""

    statements: int
    claims: int

    @classmethod
    def of(cls, settings: Settings) -> ConnectionBudget:
        statements = settings.zone.database_connections
        return cls(statements=statements, claims=max(1, statements // 2))

    @property
    def per_worker(self) -> int:
        return self.statements + self.claims + HELD_APART


def zone_connections(settings: Settings) -> int:
    """The most connections the whole zone (all its workers) opens to its database."""
    return settings.zone.workers * ConnectionBudget.of(settings).per_worker


async def warn_if_the_server_lacks_connections(settings: Settings) -> None:
    """Log a warning when the zone could open more connections than its server accepts
    (`max_connections` less those reserved for superusers)."""
    if not settings.on_postgresql:
        return
    connection = await asyncpg.connect(plain_dsn(settings.database_url))
    try:
        accepted = int(await connection.fetchval("SHOW max_connections")) - int(
            await connection.fetchval("SHOW superuser_reserved_connections")
        )
    finally:
        await connection.close()
    wanted = zone_connections(settings)
    if wanted > accepted:
        log.warning(
            "%s may open %d connections to PostgreSQL (%d workers of %d each: "
            "zone.database_connections = %d, claims, feed, leadership), more than the %d "
            "the server accepts; under load requests would be refused with 503. Lower "
            "zone.database_connections or zone.workers, or raise max_connections.",
            settings.zone.name,
            wanted,
            settings.zone.workers,
            ConnectionBudget.of(settings).per_worker,
            settings.zone.database_connections,
            accepted,
        )
