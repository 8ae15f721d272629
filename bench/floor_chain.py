"""One link of the floor: a minimal aiohttp app that forwards each request to the next link.

    python -m bench.floor_chain PORT [NEXT_URL]

The last link (no NEXT_URL) answers a small JSON body. One pooled
ClientSession per process, as in a zone: this is the least a hop can cost.
"""

from __future__ import annotations

import sys

import aiohttp
from aiohttp import web

from zones.node.cli import event_loop_factory


def build(next_url: str | None) -> web.Application:
    app = web.Application()
    session_key = web.AppKey("session", aiohttp.ClientSession)

    async def session_context(app: web.Application):  # type: ignore[no-untyped-def]
        async with aiohttp.ClientSession() as session:
            app[session_key] = session
            yield

    async def handle(request: web.Request) -> web.Response:
        if next_url is None:
            return web.json_response({"instance": {"id": request.match_info["tail"], "ok": True}})
        body = await request.read()
        async with app[session_key].request(
            request.method, f"{next_url}/{request.match_info['tail']}", data=body or None
        ) as answer:
            return web.Response(
                body=await answer.read(), status=answer.status, content_type="application/json"
            )

    app.cleanup_ctx.append(session_context)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def main() -> None:
    port = int(sys.argv[1])
    next_url = sys.argv[2] if len(sys.argv) > 2 else None
    web.run_app(
        build(next_url),
        host="127.0.0.1",
        port=port,
        print=None,
        loop=event_loop_factory()() if event_loop_factory() else None,
    )


if __name__ == "__main__":
    main()
