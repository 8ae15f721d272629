"""The errors every part of a zone raises, each carrying its HTTP status.

Domain code (storage, auth, the router) raises these; one middleware in
`zones.node.http.problems` renders them as RFC 9457 problem+json. Nothing here
imports aiohttp, so the data layer stays free of the web framework.

    ZonesError                 500  base class; never raised for bad input
    ├── BadRequest             400  malformed or invalid input (detail names the field)
    ├── Unauthorized           401  missing, bad or expired credentials
    ├── Forbidden              403  role or client not allowed
    │   └── QuotaExceeded      403  a create or move past a client's quota (`limit`, `usage`)
    ├── NotFound               404
    ├── MethodNotAllowed       405
    ├── Conflict               409  duplicate name, id reused with another body
    │   └── NothingFits        409  a forwarded create this subtree cannot place
    ├── RequestTimeout         408  a body not received within zone.body_timeout
    ├── PayloadTooLarge        413
    ├── ClientGone             499  the client went away mid-request (logged, not answered)
    ├── Unavailable            503  not now (a client index rebuild); ask again
    │   └── SubtreeUnavailable 503  what may take a create is down; nothing was stored
    ├── ChildError             502  a child answered with an error
    │   ├── ChildUnreachable   502  no connection to the child (nothing was sent)
    │   ├── ChildAnswerLost    502  connection lost after sending (the child may have acted)
    │   └── ChildRefused       502  the child said no (carries the child's status)
    ├── ChildTimeout           504  a child did not answer in time
    └── LoopDetected           508
"""

from __future__ import annotations

from typing import Any, ClassVar


class ZonesError(Exception):
    """An error with an HTTP status, a short title and a detail for the user."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}  # sent with the problem answer


class BadRequest(ZonesError):
    status = 400
    title = "Bad Request"


class Unauthorized(ZonesError):
    status = 401
    title = "Unauthorized"


class Forbidden(ZonesError):
    status = 403
    title = "Forbidden"


class QuotaExceeded(Forbidden):
    """A create or move entering a zone would take its client past a quota set there."""

    def __init__(self, detail: str, limit: dict[str, Any], usage: dict[str, Any]) -> None:
        super().__init__(detail, reason="quota-exceeded", limit=limit, usage=usage)


class NotFound(ZonesError):
    status = 404
    title = "Not Found"


class MethodNotAllowed(ZonesError):
    status = 405
    title = "Method Not Allowed"


class Conflict(ZonesError):
    status = 409
    title = "Conflict"


class NothingFits(Conflict):
    """A forwarded create that this subtree cannot place: the parent tries elsewhere."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, reason="nothing-fits")


class RequestTimeout(ZonesError):
    status = 408
    title = "Request Timeout"


class PayloadTooLarge(ZonesError):
    status = 413
    title = "Payload Too Large"


class ClientGone(ZonesError):
    """The client closed its connection before its request was read: nobody to answer."""

    status = 499
    title = "Client Closed Request"


class Unavailable(ZonesError):
    """This zone cannot answer that now (its client index is being rebuilt); ask again."""

    status = 503
    title = "Service Unavailable"


class SubtreeUnavailable(Unavailable):
    """What may take a create is down (offline, unreachable, timed out): nothing was stored
    anywhere, and the same request may be sent again later."""

    def __init__(self, detail: str, unreachable_zones: list[str], retry_after: int) -> None:
        super().__init__(
            detail, reason="subtree-unavailable", unreachable_zones=sorted(set(unreachable_zones))
        )
        self.headers["Retry-After"] = str(retry_after)


class ChildError(ZonesError):
    status = 502
    title = "Bad Gateway"


class ChildUnreachable(ChildError):
    """The child could not be reached at all (connection refused, DNS, reset)."""


class ChildAnswerLost(ChildError):
    """The connection broke after the request may have reached the child: it may have acted."""


class ChildRefused(ChildError):
    """The child answered with an error status; `child_status` is what it said."""

    def __init__(self, detail: str, child_status: int, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.child_status = child_status


class ChildTimeout(ZonesError):
    status = 504
    title = "Gateway Timeout"


class LoopDetected(ZonesError):
    status = 508
    title = "Loop Detected"


class ConfigError(Exception):
    """A node configuration that cannot be used; the message names the key."""
