"""One child follower (watcher or poller) per zone at a time, whichever worker it runs on.

Each worker asks for the zone's leadership, a session-scoped advisory lock
held on a connection of its own (`pg_try_advisory_lock`), and only the holder
runs the follower; what it learns it writes, and the commit feed tells the
others. The holder checks its connection every `check_every` seconds and stops
following when it is lost (another worker may hold the lock by then); the
others ask again as often. A holder that dies drops its connection, which frees
the lock, so another worker takes over within about `check_every` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from zones.node.workers.claims import CLAIM_SPACE
from zones.node.workers.dsn import CONNECT_TIMEOUT, plain_dsn

log = logging.getLogger("zones.workers")

LEADER_SPACE = CLAIM_SPACE + 1
_TAKE = f"SELECT pg_try_advisory_lock({LEADER_SPACE}, 0)"


class Leadership:
    def __init__(self, database_url: str, name: str, check_every: float = 1.0) -> None:
        self._dsn, self._name, self._check_every = plain_dsn(database_url), name, check_every
        self.leading = asyncio.Event()

    async def run(self, follow: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `follow()` whenever this worker holds the leadership, until cancelled."""
        while True:
            try:
                connection = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot ask for %s's leadership: %s", self._name, exc)
                await asyncio.sleep(self._check_every)
                continue
            try:
                await self._lead_while_held(connection, follow)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("lost the connection holding %s's leadership: %s", self._name, exc)
            except Exception:
                log.exception(
                    "%s's child follower stopped; asking for the leadership again", self._name
                )
                await asyncio.sleep(self._check_every)
            finally:
                self.leading.clear()
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=1))

    async def _lead_while_held(
        self, connection: asyncpg.Connection, follow: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        while not await connection.fetchval(_TAKE, timeout=self._check_every * 2):
            await asyncio.sleep(self._check_every)
        log.info("this worker follows %s's children now", self._name)
        self.leading.set()
        following = asyncio.create_task(follow(), name="child follower (leader)")
        try:
            while not following.done():
                await asyncio.wait({following}, timeout=self._check_every)
                await connection.fetchval("SELECT 1", timeout=self._check_every * 2)
            following.result()  # a follower that ended on its own: say why
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
