"""One create, move or delete per instance id in the whole zone, whichever worker runs it.

A concurrent retry of a create must wait for the first attempt and then find
what it made, instead of placing a second copy elsewhere; a delete must not
slip between a move's new copy and its removal of the old one. Within one
process an asyncio lock per id does it; across the workers of a zone over
PostgreSQL, the holder also takes `pg_advisory_xact_lock` on the id, in a
transaction of its own held for the whole operation (the forwarded calls
included) on a pool kept for claims, so a claim never waits for a connection
that a claim holds. A worker that dies drops its connections, and PostgreSQL
frees its claims at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# The first half of the two-key advisory lock space names what is locked (2: the leader).
CLAIM_SPACE = 1
_CLAIM = text(f"SELECT pg_advisory_xact_lock({CLAIM_SPACE}, hashtext(:key))")


class Claims:
    """`async with claims.hold(instance_id):` one holder of the id at a time, zone-wide."""

    def __init__(self, database_url: str | None, concurrent: int = 32, wait: float = 60.0) -> None:
        """`database_url` of PostgreSQL, or None for one process (the in-process lock alone);
        at most `concurrent` ids claimed at once per process, a claim waiting at most `wait`
        seconds for a connection."""
        self._engine: AsyncEngine | None = None
        if database_url is not None:
            # Kept open, not made and closed per claim: a PostgreSQL connection is a process.
            self._engine = create_async_engine(
                database_url,
                pool_size=concurrent,
                max_overflow=0,
                pool_timeout=wait,
                pool_pre_ping=True,
            )
        self._held: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        async with self._here(key):
            if self._engine is None:
                yield
                return
            async with self._engine.connect() as connection, connection.begin():
                await connection.execute(_CLAIM, {"key": key})
                yield

    @asynccontextmanager
    async def _here(self, key: str) -> AsyncIterator[None]:
        """The in-process lock: waiters of this process queue here, holding no connection."""
        lock, waiting = self._held.get(key, (asyncio.Lock(), 0))
        self._held[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self._held[key]
            if waiting == 1:
                del self._held[key]
            else:
                self._held[key] = (lock, waiting - 1)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
