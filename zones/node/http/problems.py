"""Every error a zone answers, rendered in one place as RFC 9457 problem+json.

`problem_middleware` turns our `ZonesError`s, aiohttp's own HTTP errors (no
such route, wrong method, body too large) and anything unexpected into the
same shape. A database that cannot be reached is a 503 with Retry-After (its
transaction rolled back; the pool connects again once it is back). An
unexpected exception is logged with its traceback and answered as a bare 500:
no Python detail ever reaches the client.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import DBAPIError, InterfaceError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from zones.errors import ZonesError
from zones.node.appkeys import SETTINGS

PROBLEM_CONTENT_TYPE = "application/problem+json"
DATABASE_RETRY_AFTER = 2  # seconds: a database that went away is most often back soon
# SQLSTATE classes that mean the connection, not the statement, failed: connection exception,
# operator intervention (the server shutting down), insufficient resources (too many clients).
_CONNECTION_SQLSTATES = ("08", "57P", "53")
log = logging.getLogger("zones.node")


def problem_type(title: str) -> str:
    return "urn:zones:problem:" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def problem_response(
    status: int,
    title: str,
    detail: str,
    extensions: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"type": problem_type(title), "title": title, "status": status, "detail": detail}
    body.update(extensions or {})
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (a transaction cut off with it rolls
    back), rather than that a statement failed."""
    if isinstance(exc, OSError | SQLAlchemyTimeout | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc.orig, OSError):
            return True
        state = getattr(exc.orig, "sqlstate", None) or ""
        return str(state).startswith(_CONNECTION_SQLSTATES) or "connection" in str(exc.orig)
    return False


def _describe_http_error(request: web.Request, exc: web.HTTPException) -> str:
    if isinstance(exc, web.HTTPNotFound):
        return f"no endpoint at {request.path}"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"method {request.method} is not allowed on {request.path}; allowed: {allowed}"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        limit = request.app[SETTINGS].zone.max_body_bytes
        return f"body: larger than this zone's limit of {limit} bytes"
    return exc.text or exc.reason


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ZonesError as exc:
        headers = dict(exc.headers)
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="zones"'
        return problem_response(exc.status, exc.title, exc.detail, exc.extensions, headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return problem_response(
            exc.status, exc.reason, _describe_http_error(request, exc), headers=allow
        )
    except (OSError, SQLAlchemyError) as exc:
        if not database_unreachable(exc):
            log.exception("unexpected error on %s %s", request.method, request.path)
            return problem_response(500, "Internal Server Error", "the zone failed to answer")
        log.warning("%s %s: the database cannot be reached: %s", request.method, request.path, exc)
        return problem_response(
            503,
            "Service Unavailable",
            "this zone's database cannot be reached now; nothing was changed: send it again later",
            {"reason": "database-unavailable"},
            {"Retry-After": str(DATABASE_RETRY_AFTER)},
        )
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem_response(500, "Internal Server Error", "the zone failed to answer")
