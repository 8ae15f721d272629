"""The commit feed: every process over one PostgreSQL database hears the others' commits.

A transaction that wrote a watched table (zones.node.commits) sends, from
inside itself, one `NOTIFY zones_commits` naming what it wrote; PostgreSQL
delivers it to every listener exactly when the transaction commits, and never
if it rolls back. Each process listens on a connection of its own and tells
its watchers (`told_elsewhere`), skipping its own news. A process that loses
its listening connection may have missed news: it tells every watcher that
anything may have changed, once when the connection is lost and once when it
is back, so no copy outlives the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.orm import Session

from zones.node.commits import Written, publish_with, told_elsewhere
from zones.node.database import Sessions
from zones.node.workers.dsn import CONNECT_TIMEOUT, plain_dsn

log = logging.getLogger("zones.workers")

CHANNEL = "zones_commits"
# PostgreSQL takes payloads below 8000 bytes; longer news says "any row" instead of keys.
MAX_PAYLOAD = 7900
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :payload)")


class CommitFeed:
    def __init__(self, sessions: Sessions, database_url: str, check_every: float = 1.0) -> None:
        self._sessions, self._dsn, self._check_every = (
            sessions,
            plain_dsn(database_url),
            check_every,
        )
        self.origin = uuid.uuid4().hex
        self.heard = 0  # news heard from other processes so far
        self.connected = asyncio.Event()
        publish_with(sessions, self._publish)

    def _publish(self, session: Session, written: Written) -> None:
        session.execute(_NOTIFY, {"payload": self.payload(written)})

    def payload(self, written: Written) -> str:
        news = {
            table: [
                None if keys is None else sorted(keys, key=str),
                None if columns is None else sorted(columns),
            ]
            for table, (keys, columns) in written.items()
        }
        payload = json.dumps({"origin": self.origin, "written": news}, separators=(",", ":"))
        if len(payload) <= MAX_PAYLOAD:
            return payload
        tables = {table: [None, None] for table in written}
        return json.dumps({"origin": self.origin, "written": tables}, separators=(",", ":"))

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            news = json.loads(payload)
            if news["origin"] == self.origin:
                return
            written: Written = {
                str(table): (
                    None if keys is None else frozenset(keys),
                    None if columns is None else frozenset(columns),
                )
                for table, (keys, columns) in news["written"].items()
            }
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("a commit's news could not be read; taking it as any change")
            written = None  # type: ignore[assignment]
        self.heard += 1
        told_elsewhere(self._sessions, written)

    async def listen_forever(self) -> None:
        """Listen until cancelled (the app's lifecycle runs it), reconnecting after a loss."""
        pause = 0.1
        while True:
            try:
                connection = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT)
            except (OSError, asyncpg.PostgresError) as exc:  # TimeoutError is an OSError
                log.warning("cannot listen for other workers' commits: %s; trying again", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
                continue
            pause = 0.1
            try:
                await self._listen(connection)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # TimeoutError (an OSError) too: a database cut off without a reset answers
                # nothing, and the feed must connect again, not end.
                log.warning("lost the connection that hears other workers' commits: %s", exc)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=1))
            told_elsewhere(self._sessions, None)  # what was missed meanwhile

    async def _listen(self, connection: asyncpg.Connection) -> None:
        await connection.add_listener(CHANNEL, self._heard)
        told_elsewhere(self._sessions, None)  # what was written before this listened
        self.connected.set()
        while not connection.is_closed():
            await asyncio.sleep(self._check_every)
            await connection.fetchval("SELECT 1", timeout=self._check_every * 2)
