"""`X-Request-Id`: echoed when the caller sends a sane one, made up when it does not."""

from __future__ import annotations

import re
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = web.RequestKey("request_id", str)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_of(request: web.Request) -> str:
    return request.get(REQUEST_ID_KEY) or ""


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = offered if _SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    request[REQUEST_ID_KEY] = request_id
    response = await handler(request)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response
