"""One link of the floor: a minimal aiohttp app that forwards each request to the next link.

    python -m bench.floor_chain PORT [NEXT_URL] [--durable DB_PATH]

The last link (no NEXT_URL) answers a small JSON body. One pooled
ClientSession per process, as in a zone: this is the least a hop can cost.

With `--durable`, each POST also commits one row at every link, with stdlib
sqlite3 on a thread of its own (WAL, synchronous=NORMAL, as the zones run
SQLite): the least a write can cost when a 201 means committed on every hop.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
from aiohttp import web

from zones.node.cli import event_loop_factory


class DurableRows:
    """One row committed per write, on one thread that owns the connection."""

    def __init__(self, path: Path) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="floor-sqlite")
        self._connection: sqlite3.Connection | None = None
        self._path = path

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, body BLOB)")
        return connection

    def _commit(self, body: bytes) -> None:
        if self._connection is None:
            self._connection = self._open()
        self._connection.execute("BEGIN")
        self._connection.execute("INSERT INTO rows VALUES (?, ?)", (uuid.uuid4().hex, body))
        self._connection.execute("COMMIT")

    async def commit(self, body: bytes) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._commit, body)


def build(next_url: str | None, durable: Path | None = None) -> web.Application:
    app = web.Application()
    session_key = web.AppKey("session", aiohttp.ClientSession)
    rows = DurableRows(durable) if durable is not None else None

    async def session_context(app: web.Application):  # type: ignore[no-untyped-def]
        async with aiohttp.ClientSession() as session:
            app[session_key] = session
            yield

    async def commit_write(request: web.Request, body: bytes) -> None:
        if rows is not None and request.method == "POST":
            await rows.commit(body)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if next_url is None:
            await commit_write(request, body)
            return web.json_response({"instance": {"id": request.match_info["tail"], "ok": True}})
        try:
            async with app[session_key].request(
                request.method, f"{next_url}/{request.match_info['tail']}", data=body or None
            ) as answer:
                answered = await answer.read()
                await commit_write(request, answered)
                return web.Response(
                    body=answered, status=answer.status, content_type="application/json"
                )
        except aiohttp.ClientConnectionError:  # the next hop is not up yet (wait_for_floor)
            return web.Response(status=502)

    app.cleanup_ctx.append(session_context)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("next_url", nargs="?")
    parser.add_argument("--durable", type=Path, help="commit one row per POST to this database")
    arguments = parser.parse_args()
    web.run_app(
        build(arguments.next_url, arguments.durable),
        host="127.0.0.1",
        port=arguments.port,
        print=None,
        loop=event_loop_factory()() if event_loop_factory() else None,
    )


if __name__ == "__main__":
    main()
