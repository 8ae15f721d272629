"""How a zone's HTTP server meets its clients: the runner and site every zone serves with.

What a slow, stalled or vanished client may cost a zone is bounded here:

- headers: a connection must bring a complete request head within
  `zone.header_timeout` of connecting, or of the answer to its previous request,
  or it is closed. That is aiohttp's keep-alive clock, which closes a connection
  whose handler still waits for a whole request head when it runs out; half-sent
  headers do not wind it back;
- bodies: `read_body` gives a body `zone.body_timeout` to arrive, else 408;
- connections: a worker holds at most `zone.max_connections` client connections;
  one more is answered 503 at once and closed, never queued;
- a client that goes away mid-request (`read_body`) and a request the HTTP parser
  refuses (a request line over 8 KiB, say) are one log line each, with no traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from zones.errors import ClientGone, RequestTimeout
from zones.node.appkeys import SETTINGS
from zones.node.config import Settings
from zones.node.logs import event

log = logging.getLogger("zones.http")
# How long a zone keeps an idle connection to another zone: under the header clock of the
# zones it calls (zone.header_timeout, 10 s by default; keep it above this), so the far
# end never closes a connection just as it is being reused.
IDLE_CONNECTION_SECONDS = 4.0
REFUSED_EVERY = 60.0  # seconds between two log lines about refused connections


class ClientErrorLogger(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger, with the client's own mistakes in one line, no traceback."""

    def exception(self, msg: object, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            reason = exc_info.message.splitlines()[0][:200] if exc_info.message else ""
            event(
                log, f"refused a malformed request: {exc_info.code} {reason}", status=exc_info.code
            )
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)


def zone_runner(app: web.Application, settings: Settings) -> web.AppRunner:
    """The app's runner, its connections under the header clock."""
    return web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=settings.zone.header_timeout,
        logger=ClientErrorLogger(logging.getLogger("aiohttp.server"), {}),
    )


class CappedSite(web.SockSite):
    """A listening socket that takes no more than `limit` connections at once."""

    def __init__(self, runner: web.BaseRunner, sock: socket.socket, limit: int) -> None:
        super().__init__(runner, sock)
        self._limit = limit
        self._refused = RefusalCounter(limit)

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None

        def connection() -> asyncio.Protocol:
            if len(server.connections) >= self._limit:
                return self._refused.refusal()
            return server()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(connection, sock=self._sock, backlog=self._backlog)


async def start_site(runner: web.AppRunner, sock: socket.socket, settings: Settings) -> None:
    await CappedSite(runner, sock, settings.zone.max_connections).start()


class RefusalCounter:
    """Makes the protocols that refuse connections over the limit, logging at most one line a
    minute saying how many were refused."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._since_logged = 0
        self._logged_at = float("-inf")

    def refusal(self) -> asyncio.Protocol:
        self._since_logged += 1
        now = time.monotonic()
        if now - self._logged_at >= REFUSED_EVERY:
            event(
                log,
                f"refused {self._since_logged} connection(s): this worker holds"
                f" zone.max_connections = {self._limit} already",
                refused=self._since_logged,
            )
            self._since_logged, self._logged_at = 0, now
        return Refusal(self._limit)


class Refusal(asyncio.Protocol):
    """Answers one connection over the limit with a 503 problem and closes it."""

    def __init__(self, limit: int) -> None:
        self._limit = limit

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        problem = {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": f"this zone holds zone.max_connections = {self._limit} connections now",
        }
        body = json.dumps(problem).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(head.encode() + body)
        transport.close()


async def read_body(request: web.Request) -> bytes:
    """The request's body, given `zone.body_timeout` to arrive."""
    limit = request.app[SETTINGS].zone.body_timeout
    try:
        async with asyncio.timeout(limit):
            return await request.read()
    except TimeoutError as exc:
        timeout = RequestTimeout(f"body: not received within zone.body_timeout ({limit:g} s)")
        timeout.headers["Connection"] = "close"
        raise timeout from exc
    except ConnectionError as exc:
        raise ClientGone(f"the client went away before its body was read: {exc}") from exc
