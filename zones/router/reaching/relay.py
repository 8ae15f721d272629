"""`?zone=NAME`: a request for a descendant is passed down to it unchanged, and its answer back.

    GET /hosts?zone=eu-dc1-h1   at global ──► eu ──► eu-dc1 ──► eu-dc1-h1 serves it
                                answered with eu-dc1-h1's answer and
                                X-Zones-Path: global,eu,eu-dc1,eu-dc1-h1

Each zone on the way finds the child whose subtree holds that name (from the
names children report in `/zones/info`) and sends it the method, path, query
(`zone` included), body and the caller's credentials as they came, with this
zone's own service token beside them, as every forwarded call carries. The
target authorizes the caller as if called directly, so nothing is checked on
the way: reaching a zone never lets a caller do there what it could not do
there directly. Routing headers a caller sends (`X-Zones-*`) are never passed
on: only a zone may speak them. A name that is here is served here; a name in
no child's subtree is a 404 naming it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler

from zones.auth.appkeys import TOKEN_VERIFIER
from zones.errors import (
    BadRequest,
    ChildError,
    ChildTimeout,
    ChildUnreachable,
    Forbidden,
    NotFound,
    ZonesError,
)
from zones.node.appkeys import SETTINGS, ZONE_UUID
from zones.node.fields import ZONE_NAME_PATTERN
from zones.node.http.openapi import ZONE_PARAMETER
from zones.node.http.prefer import wait_asked
from zones.node.http.request_ids import REQUEST_ID_HEADER, request_id_of
from zones.node.http.server import read_body
from zones.node.metrics.registry import METRICS
from zones.router.children.appkeys import CHILD_CLIENT, CHILD_TOKENS
from zones.router.children.forwarding import (
    PATH_HEADER,
    SERVICE_TOKEN_HEADER,
    check_service_token,
    mark_relayed,
    service_token_refused,
    timed_forward,
    visited_path,
    zone_budget,
)
from zones.router.children.http import BUDGET_HEADER, UNREACHABLE_HEADER, Relayed
from zones.router.children.models import ChildZone
from zones.router.children.registry import zone_names
from zones.router.children.tokens import ChildCredentials
from zones.router.instances.appkeys import ROUTING_CACHE
from zones.router.instances.route import budget_of
from zones.router.quotas.appkeys import KEPT_QUOTAS

# The answer's X-Zones-Path names the zones crossed; the request's carries their uuids.
CROSSED_HEADER = PATH_HEADER
PASSED_DOWN = ("Authorization", "X-Auth-Token", "Content-Type", "Accept", "If-None-Match", "Prefer")
PASSED_BACK = (
    "Content-Type",
    "ETag",
    "Preference-Applied",
    "Retry-After",
    "WWW-Authenticate",
    "Allow",
    "Location",
    "Cache-Control",
    "Content-Security-Policy",
    UNREACHABLE_HEADER,
)
MARGIN = 0.25  # seconds of the budget each zone keeps for itself and its answer


@web.middleware
async def relay_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve `?zone=` here when it names this zone (or is absent); else pass it down.

    Every answer to a `?zone=` call, errors included, names the zones it crossed."""
    target = request.query.get(ZONE_PARAMETER)
    if target is None:
        return await handler(request)
    own_name = request.app[SETTINGS].zone.name
    try:
        if target != own_name:
            return await relay(request, checked_name(target))
        if SERVICE_TOKEN_HEADER in request.headers:
            mark_relayed(request)
        response = await handler(request)
    except ZonesError as exc:
        exc.headers.setdefault(CROSSED_HEADER, own_name)
        raise
    response.headers[CROSSED_HEADER] = own_name
    return response


def checked_name(target: str) -> str:
    if not re.fullmatch(ZONE_NAME_PATTERN, target):
        raise BadRequest(f"zone: {target[:100]!r} is not a zone name ({ZONE_NAME_PATTERN})")
    return target


async def relay(request: web.Request, target: str) -> web.Response:
    visited = visited_path(request, request.app[ZONE_UUID])
    candidates = await children_holding(request, target)
    if not candidates:
        name = request.app[SETTINGS].zone.name
        raise NotFound(f"zone: no zone named {target!r} in the subtree of {name!r}")
    await refuse_passing_a_quota(request)
    body = await read_body(request)
    allowed = await time_allowed(request)
    unreachable: ChildUnreachable | None = None
    for child in candidates:
        try:
            relayed = await send_down(request, child, visited, body, allowed)
            if relayed.status == 401 and service_token_refused(relayed.json()):
                request.app[CHILD_TOKENS].forget(child.id)  # the child's keys changed
                relayed = await send_down(request, child, visited, body, allowed)
        except ChildUnreachable as exc:
            unreachable = exc  # nothing was sent: another way down may serve
            continue
        return answer_of(request, child, relayed)
    assert unreachable is not None
    raise unreachable


PLACING = re.compile(r"/instances(/[^/]+/move)?/?")


async def refuse_passing_a_quota(request: web.Request) -> None:
    """A create or move relayed below would not be counted against a quota this zone holds
    for the caller's client (the target counts what enters there): refused here."""
    if request.method != "POST" or not PLACING.fullmatch(request.path):
        return
    identity = await request.app[TOKEN_VERIFIER].identify(request.headers)
    if identity is None:
        return  # the target answers 401
    if await request.app[KEPT_QUOTAS].quota_of(identity.client) is not None:
        name = request.app[SETTINGS].zone.name
        raise Forbidden(
            f"zone: client {identity.client!r} has a quota at zone {name!r}, which a create "
            f"or move sent below with ?zone= would pass by; send it to {name!r} without "
            "?zone= (admins may name move.zone)"
        )


async def children_holding(request: web.Request, target: str) -> list[ChildZone]:
    """The enabled children with `target` in their subtree, the healthy ones first."""
    children = await request.app[ROUTING_CACHE].children()
    holding = [
        child
        for child in children
        if child.enabled and (target == child.name or target in zone_names(child))
    ]
    return sorted(holding, key=lambda child: (not child.is_healthy, child.id))


@dataclass(frozen=True)
class TimeAllowed:
    """How long the zones below may work on the call (less a margin at each zone, so the
    zone nearest a failure gives up first), and the watch's wait the caller asked for on
    top of it (added once at each zone, never counted into the budget sent down)."""

    budget: float
    wait: float
    since: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return max(0.05, self.budget - (time.monotonic() - self.since))


async def time_allowed(request: web.Request) -> TimeAllowed:
    """The child timeout, or a zone's smaller budget, less a margin; and a watch's wait."""
    await check_service_token(request, request.app[TOKEN_VERIFIER])
    limit = request.app[SETTINGS].router.child_timeout
    given = zone_budget(request)
    if given is not None:
        limit = min(limit, budget_of(given))
    wait = wait_asked(request.headers.get("Prefer")) or 0.0
    return TimeAllowed(max(0.05, limit - MARGIN), wait)


async def send_down(
    request: web.Request, child: ChildZone, visited: list[str], body: bytes, allowed: TimeAllowed
) -> Relayed:
    request_id = request_id_of(request)
    credentials = ChildCredentials.of(child)
    tokens = request.app[CHILD_TOKENS]
    service = await tokens.token_for(credentials, request_id, timeout=allowed.left())
    headers = {name: request.headers[name] for name in PASSED_DOWN if name in request.headers}
    budget = allowed.left()
    headers |= {
        SERVICE_TOKEN_HEADER: service,
        PATH_HEADER: ",".join(visited),
        BUDGET_HEADER: str(max(1, int(budget * 1000))),
        REQUEST_ID_HEADER: request_id,
    }
    try:
        with timed_forward(request.app[METRICS], child.name, request.method) as outcome:
            relayed = await request.app[CHILD_CLIENT].relay(
                request.method,
                child.api_url + request.raw_path,
                headers=headers,
                body=body,
                timeout=budget + allowed.wait,
            )
            outcome.status = relayed.status
        return relayed
    except ChildTimeout as exc:
        raise ChildTimeout(f"zone {child.name!r} did not answer in time") from exc
    except ChildUnreachable as exc:
        raise ChildUnreachable(f"zone {child.name!r} could not be reached: {exc.detail}") from exc
    except ChildError as exc:
        raise ChildError(f"zone {child.name!r}: {exc.detail}") from exc


def answer_of(request: web.Request, child: ChildZone, relayed: Relayed) -> web.Response:
    headers = {name: relayed.headers[name] for name in PASSED_BACK if name in relayed.headers}
    below = relayed.headers.get(CROSSED_HEADER) or child.name
    headers[CROSSED_HEADER] = f"{request.app[SETTINGS].zone.name},{below}"
    return web.Response(status=relayed.status, body=relayed.body, headers=headers)
