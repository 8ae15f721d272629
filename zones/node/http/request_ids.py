"""`X-Request-Id`: echoed when the caller sends a sane one, made up when it does not.

Every request also leaves one structured (JSON) line in the `zones.access` log
with its id, so one request can be followed down the tree: each zone it
crosses logs the same id.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = web.RequestKey("request_id", str)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("zones.access")


def request_id_of(request: web.Request) -> str:
    return request.get(REQUEST_ID_KEY) or ""


def request_id_middleware(zone: str) -> Middleware:
    """Give each request its id, answer it in X-Request-Id, and log one line for it."""

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
            if access_log.isEnabledFor(logging.INFO):
                line = {
                    "zone": zone,
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                }
                access_log.info(json.dumps(line))

    return middleware
