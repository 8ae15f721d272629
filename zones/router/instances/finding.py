"""One instance through the tree: follow the mapping down, or ask the children once and repair it.

A mapping that leads to a child that no longer has the instance is removed. A
child that cannot be reached still lets the instance be shown, from the last
answer this zone kept, with status UNKNOWN.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from zones.errors import ChildError, ChildTimeout
from zones.router.children.forwarding import CLIENT_HEADER
from zones.router.children.models import ChildZone
from zones.router.index.answers import parse_news
from zones.router.instances import local
from zones.router.instances.cache import CachedMapping
from zones.router.instances.mappings import forget_mapping, record_mapping
from zones.router.instances.models import InstanceMapping
from zones.router.instances.route import Route
from zones.router.instances.views import local_view, through, unknown


async def find(route: Route, instance_id: str, client: str | None) -> dict[str, Any]:
    """The instance wherever it lives below, if the caller may see it; else NotFound."""
    found = await cached_route(route, instance_id, client)
    if found is None:
        async with route.sessions.begin() as session:
            row = await local.find_visible(session, instance_id, client)
            if row is not None:
                return local_view(row)
            mapping, child = await mapped_child(session, instance_id, client)
        if mapping is not None and child is not None:
            remember(route, mapping)
            found = mapping.snapshot, child
    if found is not None:
        snapshot, child = found
        try:
            answer = await route.send(child, "GET", f"/instances/{instance_id}")
        except (ChildError, ChildTimeout):
            route.unreachable.add(child.name)
            return unknown(snapshot)
        instance = instance_in(answer.body)
        if answer.status == 200 and instance is not None:
            return through(route, instance)
        if answer.status == 200:
            raise ChildError(f"{child.name} answered an instance in another shape")
        if answer.status == 404:
            await forget_mapping(route, instance_id)
            raise local.not_found(instance_id)
        route.unreachable.add(child.name)  # it answered, but not about the instance
        return unknown(snapshot)
    return await search_children(route, instance_id, client)


def instance_in(body: Any) -> dict[str, Any] | None:
    """The instance of a child's `{"instance": {...}}` answer, if it has that shape."""
    instance = body.get("instance") if isinstance(body, dict) else None
    if isinstance(instance, dict) and isinstance(instance.get("id"), str):
        return instance
    return None


async def cached_route(
    route: Route, instance_id: str, client: str | None
) -> tuple[dict[str, Any], ChildZone] | None:
    """The mapping and child from memory, with no database round trip, when known."""
    cached = route.cache.mapping(instance_id)
    if cached is None or (client is not None and cached.client != client):
        return None
    child = await route.cache.child(cached.child_id)
    return None if child is None else (cached.snapshot, child)


def remember(route: Route, mapping: InstanceMapping) -> None:
    route.cache.remember(
        mapping.instance_id,
        CachedMapping(mapping.child_id, mapping.client, mapping.snapshot, mapping.created_at),
    )


async def mapped_child(
    session: Any, instance_id: str, client: str | None
) -> tuple[InstanceMapping | None, ChildZone | None]:
    """The mapping of a visible instance and the child it leads to, in one query."""
    query = (
        select(InstanceMapping, ChildZone)
        .join(ChildZone, ChildZone.id == InstanceMapping.child_id)
        .where(InstanceMapping.instance_id == instance_id, InstanceMapping.state == "ACTIVE")
    )
    if client is not None:
        query = query.where(InstanceMapping.client == client)
    found = (await session.execute(query)).first()
    return (None, None) if found is None else (found[0], found[1])


async def search_children(route: Route, instance_id: str, client: str | None) -> dict[str, Any]:
    """No mapping here: ask every healthy child once, and remember where it was found."""
    async with route.sessions.begin() as session:
        children = list(await session.scalars(select(ChildZone).where(ChildZone.is_healthy)))

    async def ask(child: ChildZone) -> tuple[ChildZone, dict[str, Any]] | None:
        try:
            answer = await route.send(child, "GET", f"/instances/{instance_id}")
        except (ChildError, ChildTimeout):
            return None
        instance = instance_in(answer.body)
        if answer.status == 200 and instance is not None:
            return child, instance
        return None

    for found in await asyncio.gather(*(ask(child) for child in children)):
        if found is not None:
            child, instance = found
            shown = through(route, instance)
            await record_mapping(route, child.id, instance["client"], "ACTIVE", shown)
            return shown
    raise local.not_found(instance_id)


async def delete(route: Route, instance_id: str, client: str | None) -> str:
    """Delete the instance wherever it lives below; the client it belonged to."""
    async with route.cache.one_at_a_time(instance_id):
        return await delete_once(route, instance_id, client)


async def delete_once(route: Route, instance_id: str, client: str | None) -> str:
    async with route.sessions.begin() as session:
        row = await local.find_visible(session, instance_id, client)
        if row is not None:
            if not await local.remove(session, route.hosts, row):
                raise local.not_found(instance_id)
            return row.client
        mapping, child = await mapped_child(session, instance_id, client)
    if child is None:
        await find(route, instance_id, client)  # asks the children; repairs the mapping
        async with route.sessions.begin() as session:
            mapping, child = await mapped_child(session, instance_id, client)
        if child is None:
            raise local.not_found(instance_id)
    assert mapping is not None  # found together with `child`
    answer = await route.send(
        child, "DELETE", f"/instances/{instance_id}", extra={CLIENT_HEADER: mapping.client}
    )
    if answer.status in (204, 404):
        await forget_mapping(route, instance_id, parse_news(answer.lookup))
    # A 404 answering a repeat after a lost connection: the first try most likely deleted it.
    if answer.status == 404 and not answer.after_lost:
        raise local.not_found(instance_id)
    if answer.status not in (204, 404):
        detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
        raise ChildError(f"{child.name} answered {answer.status}: {detail}")
    return mapping.client
