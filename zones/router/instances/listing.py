"""Lists through the tree: a page of the subtree's instances, merged in (created_at, id) order.

Only the children that hold instances of the client (the mappings know) are
asked, each for at most one page after the marker, concurrently and within
`child_timeout`; so a page costs what its size costs, not what the tree holds.
A child that is offline or does not answer in time is named in
`unreachable_zones`, and what the mappings place there is listed as UNKNOWN.
The marker is resolved here, from this zone's own rows and mappings, so it
pages correctly even when it belongs to a zone that is down.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import or_, select

from zones.errors import BadRequest, ChildError, ChildTimeout, NotFound
from zones.node.database import AsyncSession
from zones.node.fields import UUID_PATTERN
from zones.router.children.http import names_listed
from zones.router.children.models import ChildZone
from zones.router.index import answers
from zones.router.index.models import ClientChild
from zones.router.instances import finding, local
from zones.router.instances.models import InstanceMapping
from zones.router.instances.route import Route
from zones.router.instances.views import local_view, through, unknown

Position = tuple[datetime, str]


def order_key(instance: dict[str, Any]) -> tuple[str, str]:
    created = datetime.fromisoformat(str(instance["created_at"]).replace("Z", "+00:00"))
    return created.isoformat(), str(instance["id"])


def once_each(ordered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per id: while a move has made its new copy and not yet removed the old
    one, both are listed below this zone (same id, same created_at, so side by side)."""
    shown: list[dict[str, Any]] = []
    for item in ordered:
        if not shown or shown[-1]["id"] != item["id"]:
            shown.append(item)
    return shown


def well_formed(item: Any) -> bool:
    """An instance a child listed has what merging needs; a child that sends less is down."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return False
    try:
        return (
            datetime.fromisoformat(str(item.get("created_at")).replace("Z", "+00:00")).tzinfo
            is not None
        )
    except ValueError:
        return False


def parse_after(raw: str | None) -> Position | None:
    """The internal `after` parameter parents send: `<created_at>,<id>`."""
    if raw is None:
        return None
    created, _, instance_id = raw.partition(",")
    try:
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"after: {raw[:80]!r} is not <created_at with zone>,<id>") from exc
    if not re.fullmatch(UUID_PATTERN, instance_id):
        raise BadRequest(f"after: {instance_id[:80]!r} is not an instance id")
    return moment, instance_id


async def resolve_marker(route: Route, marker: str, client: str | None) -> Position:
    """Where a marker stands: from this zone's rows and mappings, else by finding it below
    (a page can show instances this zone has no mapping for, made by entering lower down)."""
    async with route.sessions.begin() as session:
        row = await local.find_visible(session, marker, client)
        if row is not None:
            return row.created_at, row.id
        mapping = await session.get(InstanceMapping, marker)
    if mapping is not None and (client is None or mapping.client == client):
        return mapping.created_at, mapping.instance_id
    refused = BadRequest(f"marker: {marker[:80]!r} is not an instance this caller can see")
    if not re.fullmatch(UUID_PATTERN, marker):
        raise refused
    try:
        found = await finding.find(route, marker, client)
    except NotFound as exc:
        raise refused from exc
    if not well_formed(found):
        raise refused
    return datetime.fromisoformat(str(found["created_at"]).replace("Z", "+00:00")), marker


async def list_page(
    route: Route, client: str | None, after: Position | None, limit: int, all_clients: bool
) -> dict[str, Any]:
    async with route.cache.listing():
        return await list_page_once(route, client, after, limit, all_clients)


async def list_page_once(
    route: Route, client: str | None, after: Position | None, limit: int, all_clients: bool
) -> dict[str, Any]:
    async with route.sessions.begin() as session:
        own = [local_view(row) for row in await local.page(session, client, after, limit + 1)]
        children = await children_holding(session, client)
    children += await children_reporting_instances(route, {child.id for child in children})
    pages = await asyncio.gather(
        *(child_page(route, child, client, after, limit, all_clients) for child in children)
    )
    merged = once_each(
        sorted(own + [item for items, _, _ in pages for item in items], key=order_key)
    )
    more = len(merged) > limit or any(child_has_more for _, child_has_more, _ in pages)
    shown = merged[:limit]
    unreachable = sorted({name for _, _, names in pages for name in names})
    return {
        "instances": shown,
        "next_marker": shown[-1]["id"] if more and shown else None,
        "unreachable_zones": unreachable,
    }


async def children_holding(session: AsyncSession, client: str | None) -> list[ChildZone]:
    """Children the mappings lead to, and those the client index says manage the client
    (which covers instances made by entering at the child or below)."""
    mapped = select(InstanceMapping.child_id).where(InstanceMapping.state == "ACTIVE")
    indexed = select(ClientChild.child_id).where(answers.holds)
    if client is not None:
        mapped = mapped.where(InstanceMapping.client == client)
        indexed = indexed.where(ClientChild.client == client)
    query = (
        select(ChildZone)
        .where(or_(ChildZone.id.in_(mapped.distinct()), ChildZone.id.in_(indexed.distinct())))
        .order_by(ChildZone.id)
    )
    return list(await session.scalars(query))


async def children_reporting_instances(route: Route, known: set[int]) -> list[ChildZone]:
    """Children with instances this zone has no mapping for (made by entering lower down),
    as their last poll counted them. Until zones report per-client counts, any count."""
    return [
        child
        for child in await route.cache.children()
        if child.id not in known
        and child.is_healthy
        and child.last_info is not None
        and int(child.last_info.get("instances", 0)) > 0
    ]


async def child_page(
    route: Route,
    child: ChildZone,
    client: str | None,
    after: Position | None,
    limit: int,
    all_clients: bool,
) -> tuple[list[dict[str, Any]], bool, list[str]]:
    """(items, whether it has more, the zones that could not be asked: the child itself, or
    those its own answer names)."""
    if child.is_healthy:
        parameters = {"limit": str(limit), "all_clients": "true" if all_clients else "false"}
        if after is not None:
            parameters["after"] = f"{after[0].isoformat()},{after[1]}"
        try:
            answer = await route.send(child, "GET", f"/instances?{urlencode(parameters)}")
            body = answer.body if isinstance(answer.body, dict) else {}
            items = body.get("instances")
            if answer.status == 200 and isinstance(items, list) and all(map(well_formed, items)):
                shown = [through(route, item) for item in items]
                unreachable = list(names_listed(body.get("unreachable_zones")))
                return shown, body.get("next_marker") is not None, unreachable
        except (ChildError, ChildTimeout):
            pass
    return await unknown_page(route, child, client, after, limit), False, [child.name]


async def unknown_page(
    route: Route, child: ChildZone, client: str | None, after: Position | None, limit: int
) -> list[dict[str, Any]]:
    """What the mappings say lives below an unreachable child, as UNKNOWN."""
    query = (
        select(InstanceMapping)
        .where(InstanceMapping.child_id == child.id, InstanceMapping.state == "ACTIVE")
        .order_by(InstanceMapping.created_at, InstanceMapping.instance_id)
        .limit(limit + 1)
    )
    if client is not None:
        query = query.where(InstanceMapping.client == client)
    if after is not None:
        query = query.where(
            local.after_position(InstanceMapping.created_at, InstanceMapping.instance_id, after)
        )
    async with route.sessions.begin() as session:
        return [unknown(mapping.snapshot) for mapping in await session.scalars(query)]
