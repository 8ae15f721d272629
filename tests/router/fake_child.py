"""A stand-in child for the cases a real zone never produces: garbage, hostility, header checks.

It is a real HTTP server on loopback, not a mock: the parent talks to it over
the same sockets and client it uses for real children.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web


@dataclass
class FakeChild:
    """Logs in like a zone, answers `/zones/info` with `answer()`, and records what it was sent."""

    answer: Callable[[], web.StreamResponse]
    expires_at: str = "2999-01-01T00:00:00+00:00"
    logins: int = 0
    info_calls: int = 0
    drop_connections: int = 0  # this many next info calls lose their connection unanswered
    request_ids: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        async def login(request: web.Request) -> web.Response:
            self.logins += 1
            self.request_ids.append(request.headers.get("X-Request-Id", ""))
            body = {"token": f"t{self.logins}", "expires_at": self.expires_at}
            return web.json_response(body, status=201)

        async def info(request: web.Request) -> web.StreamResponse:
            self.info_calls += 1
            self.request_ids.append(request.headers.get("X-Request-Id", ""))
            if self.drop_connections > 0 and request.transport is not None:
                self.drop_connections -= 1
                request.transport.close()
            return self.answer()

        app = web.Application()
        app.router.add_post("/auth/tokens", login)
        app.router.add_get("/zones/info", info)
        return app


def zone_info_body(**changes: object) -> dict[str, object]:
    """A well-formed `/zones/info` answer, with fields changed."""
    zone = {
        "uuid": "0b6a1b9e-3c55-4f0e-9d0c-5b7f0c1d2e3f",
        "name": "fake",
        "url": "http://127.0.0.1:9",
        "capabilities": {},
        "free": {},
        "hosts": 0,
        "instances": 0,
        "children": [],
        "generation": 1,
        **changes,
    }
    return {"zone": zone}


AppServer = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve_app() -> AsyncIterator[AppServer]:
    """Serve aiohttp apps on loopback ports for the test; returns each one's base URL."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield serve
    for runner in runners:
        await runner.cleanup()
