"""Moves: an instance placed again, by the lowest zone that contains both its old and new place.

A move goes down the instance's path first: a zone passes it to the child
that holds the instance, and only when that child's whole subtree has no
other place for it (it answers "nothing fits") does the zone try its own
hosts and then its other children, through the normal placement. So the zone
that carries a move out is the lowest one containing both places; the zones
above it only see the instance's new path come back.

Make before break: the new copy and its allocation are committed first, then
this zone's row or mapping switches to it, then the old copy is deleted, which
frees its room. While both copies exist, lists merge them by id, so the
instance is shown once and never missing. A move never leaves the instance
on the host it is on; what cannot be placed leaves it where it was (409).

A move keeps the instance and its resources, so no quota is checked, except
when it places an instance kept in ERROR: its resources then start to count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from zones.capabilities.hosts.board import HostBoard
from zones.capabilities.matching import Condition, parse_requirements, split_static
from zones.errors import (
    BadRequest,
    ChildAnswerLost,
    ChildError,
    ChildTimeout,
    ChildUnreachable,
    NotFound,
    NothingFits,
)
from zones.node.database import AsyncSession, retrying_deadlocks
from zones.router.children.forwarding import CLIENT_HEADER
from zones.router.children.models import ChildZone
from zones.router.children.registry import zone_names
from zones.router.index.answers import Here, parse_news
from zones.router.index.updates import add_local, learn_child_answer
from zones.router.index.usage import Usage
from zones.router.instances import local
from zones.router.instances.creating import (
    keep_placed,
    mapped_before,
    place_here,
    quota_entering,
    retry_where_sent,
    store_local,
    try_child,
)
from zones.router.instances.finding import delete_once, find, instance_in, mapped_child
from zones.router.instances.mappings import drop_mapping, forget_mapping, record_mapping
from zones.router.instances.models import Instance as InstanceRow
from zones.router.instances.models import InstanceMapping
from zones.router.instances.new_instance import NewInstance
from zones.router.instances.placement import candidate_children
from zones.router.instances.route import Route
from zones.router.instances.views import local_view
from zones.router.quotas.rule import check_quota


@dataclass(frozen=True)
class Move:
    """What a move asks: new requirements (None: keep the old ones), a target zone (admins)."""

    instance_id: str
    requirements: dict[str, Any] | None = None
    target: str | None = None
    settled: frozenset[str] = frozenset()

    def body(self) -> dict[str, Any]:
        move: dict[str, Any] = {}
        if self.requirements is not None:
            move["requirements"] = self.requirements
        if self.target is not None:
            move["zone"] = self.target
        return {"move": move}


async def move(route: Route, request: Move, client: str | None) -> dict[str, Any]:
    """The instance at its new place; NothingFits when it stays where it was."""
    if request.target == route.name:
        request = replace(request, target=None)  # inside the target: anywhere below is fine
    async with route.cache.one_at_a_time(request.instance_id):
        async with route.sessions.begin() as session:
            row = await local.find_visible(session, request.instance_id, client)
            mapping, child = await mapped_child(session, request.instance_id, client)
        if row is not None:
            await check_placing_kept(route, local_view(row))
            return await move_from_here(route, request, row)
        if child is None:
            await find(route, request.instance_id, client)  # asks the children, or 404
            async with route.sessions.begin() as session:
                mapping, child = await mapped_child(session, request.instance_id, client)
        if mapping is None or child is None:
            raise local.not_found(request.instance_id)
        await check_placing_kept(route, mapping.snapshot)
        return await move_from_child(route, request, mapping, child)


async def check_placing_kept(route: Route, record: dict[str, Any]) -> None:
    """A move keeps the instance and its resources, so it changes no usage, except for an
    instance kept in ERROR: placed, it holds room, which a resource quota here must allow."""
    if record.get("status") != "ERROR":
        return
    quota = await quota_entering(route, str(record.get("client")))
    if quota is None:
        return
    resources = {key: float(amount) for key, amount in dict(record["resources"]).items()}
    async with route.sessions.begin() as session:
        await check_quota(session, quota, Here(route.name, route.settings.url), Usage(0, resources))


def new_copy(request: Move, record: dict[str, Any]) -> NewInstance:
    """The new copy of the instance `record` describes, as a create below would place it."""
    requirements = request.requirements
    if requirements is None:
        requirements = dict(record["requirements"])
    try:
        conditions: list[Condition] = parse_requirements(requirements)
    except ValueError as exc:
        raise BadRequest(f"move.{exc}") from exc
    resources = {key: float(amount) for key, amount in record["resources"].items()}
    return NewInstance(
        id=record["id"],
        name=record["name"],
        client=record["client"],
        requirements=requirements,
        resources=resources,
        conditions=conditions,
        fingerprint=local.request_hash(record["name"], requirements, resources),
        settled=request.settled,
        created_at=datetime.fromisoformat(str(record["created_at"]).replace("Z", "+00:00")),
        target=request.target,
    )


def fits_here(route: Route, new: NewInstance) -> NewInstance:
    """NothingFits when this zone's own capabilities contradict the requirements: nothing
    below can satisfy them, and no child may be told this zone settled those keys."""
    if split_static(new.open_conditions, route.settings.zone.capabilities) is None:
        raise NothingFits(
            f"instance {new.id} stays where it is: {route.name}'s own capabilities rule "
            "the requirements out"
        )
    return new


# ---------------------------------------------------------------- held here


async def move_from_here(route: Route, request: Move, row: InstanceRow) -> dict[str, Any]:
    """This zone holds the instance: another of its own hosts, else a child."""
    new = fits_here(route, new_copy(request, local_view(row)))
    moved, fault = await retrying_deadlocks(lambda: rehost_here(route, new))
    if moved is not None:
        return moved
    async with route.sessions.begin() as session:
        earlier = await mapped_before(session, row.id)  # a copy an earlier try sent down
    reasons = [f"{route.name}: {fault}"]
    answer = await retry_where_sent(route, earlier, new) if earlier is not None else None
    if answer is None:
        answer = await copy_below(route, new, reasons, excluded=frozenset())
    async with route.sessions.begin() as session:
        current = await session.get(InstanceRow, row.id)
        if current is not None:
            await local.remove(session, route.hosts, current)
    return answer


async def rehost_here(route: Route, new: NewInstance) -> tuple[dict[str, Any] | None, str | None]:
    """The instance on another of this zone's hosts, in one transaction; or why not.

    Two moves that swap two hosts take the hosts' rows in opposite orders: on
    PostgreSQL one of them is chosen as a deadlock victim and is run again.
    """
    async with route.sessions.begin() as session:
        current = await session.get(InstanceRow, new.id)
        if current is None:
            raise local.not_found(new.id)
        placed = await place_here(session, route, new, leaving=current.host)
        if placed.host is None:
            return None, placed.fault
        await rehost(session, route.hosts, current, placed.host, new)
        return local_view(current), None


async def rehost(
    session: AsyncSession, hosts: HostBoard, row: InstanceRow, host: str, new: NewInstance
) -> None:
    """Point the row at its new host (already allocated there) and free the old one."""
    if row.status == "ACTIVE" and row.host is not None:
        await hosts.release(session, row.host, row.resources)
    else:  # kept with a fault until now: its resources count from here on
        await add_local(session, row.client, 0, row.resources)
    row.host, row.status, row.fault = host, "ACTIVE", None
    row.requirements = new.requirements


async def copy_below(
    route: Route, new: NewInstance, reasons: list[str], excluded: frozenset[int]
) -> dict[str, Any]:
    """The new copy, made below one of the children placement picks; NothingFits if none."""
    candidates = await candidate_children(route, new, excluded)
    for child in candidates:
        try:
            answer = await try_child(route, child, new)
        except (ChildTimeout, ChildAnswerLost) as exc:
            await withdraw_copy(route, child, new, exc)
            reasons.append(f"{child.name}: did not answer; its copy, if any, was withdrawn")
            continue
        if isinstance(answer, dict):
            return answer
        reasons.append(f"{child.name}: {answer.reason}")
    if not candidates:
        reasons.append(f"{route.name}: no other healthy child may satisfy it and have room")
    raise NothingFits(f"instance {new.id} stays where it is: " + "; ".join(reasons))


async def withdraw_copy(
    route: Route, child: ChildZone, new: NewInstance, lost: ChildTimeout | ChildAnswerLost
) -> None:
    """The create of the new copy below `child` got no answer: it may have made one. Delete
    it there now, so that no copy is left behind when the move goes elsewhere or fails; if
    even that cannot be done, stop and say a copy may be left there."""
    try:
        answer = await route.send(
            child, "DELETE", f"/instances/{new.id}", extra={CLIENT_HEADER: new.client}
        )
    except (ChildError, ChildTimeout) as exc:
        answer = None
        why = exc.detail
    if answer is not None and answer.status in (204, 404):
        await forget_pending(route, new.id, child)
        await learn(route, new.client, child, answer.lookup)
        return
    why = why if answer is None else f"it answered {answer.status}"
    raise type(lost)(
        f"instance {new.id} stays where it is, but a copy may have been made below "
        f"{child.name} ({lost.detail}) and could not be withdrawn ({why})"
    ) from lost


async def forget_pending(route: Route, instance_id: str, child: ChildZone) -> None:
    """Drop the PENDING mapping a lost create left, if that is what leads to `child`."""
    async with route.sessions.begin() as session:
        mapping = await session.get(InstanceMapping, instance_id)
        if mapping is not None and mapping.state == "PENDING" and mapping.child_id == child.id:
            await drop_mapping(session, mapping.client, instance_id, child.id)


# ---------------------------------------------------------------- held below a child


async def move_from_child(
    route: Route, request: Move, mapping: InstanceMapping, child: ChildZone
) -> dict[str, Any]:
    """A child holds the instance: within that child first, else here or another child."""
    new = fits_here(route, new_copy(request, mapping.snapshot))
    reasons: list[str] = []
    if request.target is None or request.target in zone_names(child):
        within = await move_within(route, request, child, new, reasons)
        if within is not None:
            return within
    async with route.sessions.begin() as session:
        placed = await place_here(session, route, new)
        if placed.host is not None:
            instance = local_view(await store_local(session, route, new, placed.host, None))
            await drop_mapping(session, new.client, new.id, child.id)
    if placed.host is not None:
        route.cache.forget(new.id)
    else:
        reasons.append(f"{route.name}: {placed.fault}")
        instance = await copy_below(route, new, reasons, excluded=frozenset({child.id}))
    await remove_old_copy(route, mapping, child, new, instance)
    return instance


async def move_within(
    route: Route, request: Move, child: ChildZone, new: NewInstance, reasons: list[str]
) -> dict[str, Any] | None:
    """The move carried out inside `child`'s subtree; None when nothing fits there."""
    answer = await route.send(
        child,
        "POST",
        f"/instances/{new.id}/move",
        payload=request.body(),
        settled=new.settled_here(route.settings.zone.capabilities),
    )
    body = answer.body if isinstance(answer.body, dict) else {}
    moved = instance_in(body)
    if answer.status == 200 and moved is not None:
        return await keep_placed(route, child, new, moved, answer.lookup)
    detail = str(body.get("detail", ""))[:300] or f"answered {answer.status}"
    if answer.status == 409 and body.get("reason") == "nothing-fits":
        reasons.append(f"{child.name}: {detail}")
        return None
    if answer.status == 404:
        await forget_mapping(route, new.id)
        raise local.not_found(new.id)
    raise ChildError(f"{child.name} could not move it: {detail}")


async def remove_old_copy(
    route: Route,
    old: InstanceMapping,
    child: ChildZone,
    new: NewInstance,
    moved: dict[str, Any],
) -> None:
    """Delete the old copy below `child` (this zone already leads to the new one).

    - Gone already: the instance was deleted during the move by a request entering
      below this zone; the new copy goes too, and the move answers 404.
    - The child could not be reached (nothing was sent): the move is undone, the new
      copy deleted and the mapping restored, so there is still exactly one copy.
    - No answer, or an error from below (the old copy may or may not be gone): the new
      copy stays, which can leave a second copy, never none; the answer says so.
    """
    await route.cache.lists_begun_so_far(route.settings.router.child_timeout)
    try:
        answer = await route.send(
            child, "DELETE", f"/instances/{new.id}", extra={CLIENT_HEADER: new.client}
        )
    except ChildUnreachable as exc:
        await undo(route, old, new, f"{child.name} could not be reached ({exc.detail})")
    except (ChildError, ChildTimeout) as exc:
        raise ChildError(unfinished(new, moved, child, exc.detail)) from exc
    if answer.status in (204, 404):
        await learn(route, new.client, child, answer.lookup)
    if answer.status == 404 and not answer.after_lost:
        await delete_once(route, new.id, None)
        raise NotFound(f"instance {new.id} was deleted while it was being moved")
    if answer.status not in (204, 404):
        raise ChildError(unfinished(new, moved, child, f"it answered {answer.status}"))


async def undo(route: Route, old: InstanceMapping, new: NewInstance, why: str) -> None:
    """Delete the new copy and lead to the old one again; then say why the move failed."""
    try:
        await delete_once(route, new.id, None)
    except NotFound:
        pass  # the new copy is gone already: leading to the old one is all that is left
    except (ChildError, ChildTimeout) as exc:
        raise ChildError(
            f"instance {new.id}: the move could not finish ({why}) nor be undone "
            f"({exc.detail}): a copy may exist in both places"
        ) from exc
    await record_mapping(route, old.child_id, old.client, "ACTIVE", old.snapshot)
    raise ChildUnreachable(f"instance {new.id} stays where it was: the move was undone: {why}")


def unfinished(new: NewInstance, moved: dict[str, Any], child: ChildZone, why: str) -> str:
    return (
        f"instance {new.id} now lives at {moved.get('zone')}, but its old copy below "
        f"{child.name} may not have been removed ({why}); it may still hold room there"
    )


async def learn(route: Route, client: str, child: ChildZone, raw: str | None) -> None:
    news = parse_news(raw)
    if news is not None:
        async with route.sessions.begin() as session:
            await learn_child_answer(session, client, child.id, news)
