"""`GET /zones/tree`: this zone's whole subtree as one nested document.

Each zone answers with its own figures (as `/zones/info` gives them) and asks
each of its healthy children for the child's tree at once, all children
together, within the caller's budget less a margin, so that the zone nearest
a failure gives up first. A child that is down, or that does not answer in
time, is shown as `offline` with the figures it last reported and its own
children known only by name (state `unknown`); a child that answers but has no
tree (an older zone) is shown as the parent sees it, from its last report.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from zones.errors import ChildError, ChildRefused, ChildTimeout
from zones.node.appkeys import SETTINGS, ZONE_UUID
from zones.node.http.callers import Role
from zones.node.http.endpoints import Call, EndpointTable, json_response
from zones.router.children.appkeys import CHILD_CLIENT, CHILD_TOKENS
from zones.router.children.forwarding import PATH_HEADER, visited_path
from zones.router.children.http import BUDGET_HEADER
from zones.router.children.models import ChildZone, ZoneState
from zones.router.children.schemas import OpenRoom, TreeEnvelope, TreeZone
from zones.router.children.tokens import ChildCredentials
from zones.router.following.appkeys import ZONE_INFO
from zones.router.instances.appkeys import ROUTING_CACHE
from zones.router.instances.route import budget_of

endpoints = EndpointTable("zones")
# What each zone keeps of its budget for itself: its own answer, and its parent's reading.
MARGIN = 0.25
ANSWERS_OF_OLDER_ZONES = (404, 405)


@endpoints.route(
    "GET",
    "/zones/tree",
    summary="This zone's whole subtree as one nested document, from what it knows now",
    roles=[Role.ADMIN, Role.SERVICE],
    response=TreeEnvelope,
)
async def zone_tree(call: Call[None]) -> web.StreamResponse:
    visited = visited_path(call.request, call.app[ZONE_UUID])
    deadline = time.monotonic() + budget(call)
    info = await call.app[ZONE_INFO].current()
    children = await call.app[ROUTING_CACHE].children()  # the copy in memory: no statement
    asked = [child_tree(call, child, visited, deadline) for child in children]
    tree = TreeZone(
        name=info.name,
        url=info.url,
        uuid=info.uuid,
        state="online",
        hosts=info.hosts,
        instances=info.instances,
        free=info.free,
        capabilities=info.capabilities,
        open=info.open,
        reserved=list(info.reserved),
        children=sorted(await asyncio.gather(*asked), key=lambda zone: zone.name),
    )
    return json_response(TreeEnvelope(zone=tree))


def budget(call: Call[None]) -> float:
    """How long this zone may take: its child timeout, or less when a parent asks for less."""
    limit = call.app[SETTINGS].router.child_timeout
    given = call.request.headers.get(BUDGET_HEADER)
    if given is not None and Role.SERVICE in call.caller.roles:
        limit = min(limit, budget_of(given))
    return limit


async def child_tree(
    call: Call[None], child: ChildZone, visited: list[str], deadline: float
) -> TreeZone:
    if not child.is_healthy:
        return last_known(child, child.display_state)
    if deadline - time.monotonic() <= MARGIN:
        return last_known(child, "offline")
    try:
        answer = await read_tree_renewing(call, child, visited, deadline)
    except ChildRefused as exc:
        older = exc.child_status in ANSWERS_OF_OLDER_ZONES
        return last_known(child, "online" if older else "offline")
    except (ChildError, ChildTimeout):
        return last_known(child, "offline")
    # Named and linked as this zone registered it, whatever the child says of itself.
    update = {"name": child.name, "url": child.api_url, "state": "online"}
    return answer.model_copy(update={**update, "last_seen": child.last_seen})


async def read_tree_renewing(
    call: Call[None], child: ChildZone, visited: list[str], deadline: float
) -> TreeZone:
    """The child's tree; once more with a new token when the child refuses the one held
    (its keys changed: only the leading worker's poller would notice otherwise)."""
    try:
        return await read_tree(call, child, visited, deadline)
    except ChildRefused as exc:
        if exc.child_status != 401:
            raise
        call.app[CHILD_TOKENS].forget(child.id)
        return await read_tree(call, child, visited, deadline)


async def read_tree(
    call: Call[None], child: ChildZone, visited: list[str], deadline: float
) -> TreeZone:
    credentials = ChildCredentials.of(child)
    tokens = call.app[CHILD_TOKENS]
    token = await tokens.token_for(credentials, call.request_id, timeout=left(deadline))
    wait = left(deadline)
    headers = {PATH_HEADER: ",".join(visited), BUDGET_HEADER: str(max(1, int(wait * 1000)))}
    body = await call.app[CHILD_CLIENT].read(
        child.api_url,
        "/zones/tree",
        token,
        request_id=call.request_id,
        headers=headers,
        timeout=wait,
    )
    try:
        return TreeEnvelope.model_validate(body).zone
    except ValidationError as exc:
        raise ChildError(f"{child.api_url}/zones/tree answered in another shape") from exc


def left(deadline: float) -> float:
    """What is left before the deadline, less this zone's margin (at least a moment)."""
    return max(0.05, deadline - time.monotonic() - MARGIN)


def last_known(child: ChildZone, state: ZoneState) -> TreeZone:
    """The child as it last reported itself; its children by name only."""
    info: dict[str, Any] = child.last_info or {}
    return TreeZone(
        name=child.name,
        url=child.api_url,
        uuid=child.uuid,
        state=state,
        hosts=info.get("hosts"),
        instances=info.get("instances"),
        free=info.get("free"),
        capabilities=info.get("capabilities"),
        open=open_room(info.get("open")),
        reserved=[str(key) for key in info.get("reserved") or []],
        last_seen=child.last_seen,
        children=[
            TreeZone(name=str(below.get("name")), uuid=below.get("uuid"), state="unknown")
            for below in info.get("children", [])
            if isinstance(below, dict)
        ],
    )


def open_room(raw: Any) -> OpenRoom | None:
    """The open room a child last reported, when it reported one this zone can read."""
    try:
        return None if raw is None else OpenRoom.model_validate(raw)
    except ValidationError:
        return None
