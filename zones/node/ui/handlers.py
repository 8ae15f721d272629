"""`GET /ui` and its script and style sheet: open to anyone, cached only after revalidation.

The policy lets the page load and call nothing but its own zone: a child's page is
reached by following a link (a navigation, which `connect-src` does not govern),
never by calling the child from this page. Trusted Types are required, so that the
browser itself refuses any string written into the page as HTML: the script writes
every value from the API as text.
"""

from __future__ import annotations

from aiohttp import web

from zones.node.http.endpoints import Call, EndpointTable
from zones.node.ui.assets import Asset, asset

endpoints = EndpointTable("ui")
REVALIDATED = {304: "Not modified: the copy of the etag given in If-None-Match is current"}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # The page carries a token to a child's page in the link's fragment: no referrer, ever.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def serve(request: web.Request, file: Asset) -> web.Response:
    headers = {**SECURITY_HEADERS, "ETag": file.etag}
    if file.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=file.body, headers={**headers, "Content-Type": file.content_type})


@endpoints.route(
    "GET",
    "/ui",
    summary="The zone's live web page: its subtree, for people",
    answers=REVALIDATED,
    content_type="text/html",
)
async def page(call: Call[None]) -> web.StreamResponse:
    return serve(call.request, asset("index.html", "text/html; charset=utf-8"))


@endpoints.route(
    "GET",
    "/ui/app.js",
    summary="The script of the zone's web page",
    answers=REVALIDATED,
    content_type="text/javascript",
)
async def script(call: Call[None]) -> web.StreamResponse:
    return serve(call.request, asset("app.js", "text/javascript; charset=utf-8"))


@endpoints.route(
    "GET",
    "/ui/style.css",
    summary="The style sheet of the zone's web page",
    answers=REVALIDATED,
    content_type="text/css",
)
async def style(call: Call[None]) -> web.StreamResponse:
    return serve(call.request, asset("style.css", "text/css; charset=utf-8"))
