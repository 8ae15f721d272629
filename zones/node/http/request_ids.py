"""`X-Request-Id`: echoed when the caller sends a sane one, made up when it does not.

Every request also leaves one JSON line in the `zones.access` log with its id,
method, route template, status and duration, so one request can be followed
down the tree (each zone it crosses logs the same id), and is counted and timed
in the zone's metrics.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from zones.node.logs import event
from zones.node.metrics.registry import METRICS, method_label

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = web.RequestKey("request_id", str)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("zones.access")


def request_id_of(request: web.Request) -> str:
    return request.get(REQUEST_ID_KEY) or ""


def request_id_middleware(zone: str) -> Middleware:
    """Give each request its id, answer it in X-Request-Id, log one line and count it."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        request[REQUEST_ID_KEY] = request_id
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            seconds = time.perf_counter() - started
            route = route_template(request)
            metrics = request.app.get(METRICS)
            if metrics is not None:
                method = method_label(request.method)
                metrics.requests.labels(method, route, str(status)).inc()
                metrics.request_seconds.labels(method, route).observe(seconds)
            event(
                access_log,
                f"{request.method} {request.path_qs[:300]} {status}",
                zone=zone,
                request_id=request_id,
                method=request.method,
                route=route,
                path=request.path[:300],
                status=status,
                ms=round(seconds * 1000, 2),
            )

    return middleware


def route_template(request: web.Request) -> str:
    """The route's template (`/instances/{id}`), never the raw path: "unmatched" for none."""
    resource = request.match_info.route.resource
    return "unmatched" if resource is None else resource.canonical
