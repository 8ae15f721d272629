"""Creating an instance: placed here, sent down to a child, or kept with a fault.

A create is placed on this zone's own hosts when one fits; otherwise it goes
to the healthy children whose aggregates may fit it, best first (higher
`weight_offset`, then more free room), and the next is tried when one says
nothing fits or fails. Every zone on the way records which child leads to the
instance (zones.router.instances.mappings), so reads and deletes go straight
down. What fits nowhere is kept, with a fault, by the zone that took the
request.

A create entering this zone (not sent on by a parent) for a client with a
quota set here is checked against it (zones.router.quotas.rule) in its first
transaction, and takes the client's turn zone-wide until its own write here
is committed, so concurrent creates cannot overshoot the quota.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import CompoundSelect, bindparam, insert, literal, select, union_all

from zones.errors import (
    ChildAnswerLost,
    ChildError,
    ChildTimeout,
    ChildUnreachable,
    Conflict,
    LoopDetected,
    NothingFits,
    SubtreeUnavailable,
)
from zones.node.commits import wrote
from zones.node.database import AsyncSession, run, table_of, utcnow
from zones.router.children.forwarding import from_a_parent
from zones.router.children.http import names_listed
from zones.router.children.models import ChildZone
from zones.router.index.answers import Here, parse_news
from zones.router.index.updates import add_local
from zones.router.index.usage import Usage
from zones.router.instances import local
from zones.router.instances.mappings import forget_mapping, record_mapping
from zones.router.instances.models import Instance as InstanceRow
from zones.router.instances.models import InstanceMapping
from zones.router.instances.new_instance import NewInstance
from zones.router.instances.placement import (
    Placement,
    Policy,
    candidate_children,
    down_but_fitting,
    no_child_fault,
    place_on_own_hosts,
)
from zones.router.instances.route import Route
from zones.router.instances.views import local_view, through
from zones.router.quotas.appkeys import KEPT_QUOTAS
from zones.router.quotas.rule import Quota, check_quota, quota_turn


async def create(route: Route, new: NewInstance, forwarded: bool) -> dict[str, Any]:
    quota = await quota_entering(route, new.client)
    async with quota_turn(route.cache, quota):
        if new.fresh:  # an id made for this request: no other request can know it yet
            return await create_once(route, new, forwarded, quota)
        async with route.cache.one_at_a_time(new.id):
            return await create_once(route, new, forwarded, quota)


async def quota_entering(route: Route, client: str) -> Quota | None:
    """The client's quota at this zone, when the request enters here (what a parent sends
    on was checked where it entered; a move's new copy is the same instance)."""
    if from_a_parent(route.request):
        return None
    return await route.request.app[KEPT_QUOTAS].quota_of(client)


async def create_once(
    route: Route, new: NewInstance, forwarded: bool, quota: Quota | None = None
) -> dict[str, Any]:
    new = new.inside(route.name)
    async with route.sessions.begin() as session:  # a first try is placed in this transaction
        seen = None if new.fresh else (await run(session, earlier_attempt, {"id": new.id})).first()
        if seen is not None and seen.kind == "instance":
            existing = await session.get(InstanceRow, new.id)
            if existing is not None:
                return local_view(local.same_request(existing, new.client, new.fingerprint))
        mapped = None if seen is None else await session.get(ChildZone, seen.child_id)
        if seen is None and quota is not None:  # a retry's instance was counted at its first
            adding = Usage(1, new.resources)
            await check_quota(session, quota, Here(route.name, route.settings.url), adding)
        if mapped is None:
            outcome = await stored_here(session, route, new)
    if mapped is not None:
        outcome = await retried_where_sent(route, mapped, new)
    if isinstance(outcome, dict):
        return outcome
    placed = outcome
    candidates = await candidate_children(route, new)
    reasons = [f"{route.name}: {placed.fault}"]
    if not candidates:
        reasons.append(f"{route.name}: {await no_child_fault(route, new)}")
    waiting: list[str] = []  # zones that may take it but cannot be asked now
    for last_resort in (False, True):
        if last_resort:
            asked = frozenset(child.id for child in candidates)
            candidates, offline = await down_but_fitting(route, new, asked)
            waiting += offline
        for child in candidates:
            answer = await try_child(route, child, new)
            if isinstance(answer, dict):
                return answer
            reasons.append(said_by(child.name, answer.reason))
            waiting += answer.waiting
            if not answer.declined:  # it may have acted below before failing: no longer fresh
                new = replace(new, fresh=False)
    if waiting:
        raise SubtreeUnavailable(
            f"{route.name}: what may take instance {new.id} is down or cannot be reached now "
            f"({', '.join(sorted(set(waiting)))}); nothing was stored: send it again later "
            f"({'; '.join(reasons)[:1024]})",
            waiting,
            retry_after=retry_after(route),
        )
    if forwarded:
        raise NothingFits("; ".join(reasons))
    async with route.sessions.begin() as session:
        return local_view(await store_local(session, route, new, None, "; ".join(reasons)))


async def stored_here(
    session: AsyncSession, route: Route, new: NewInstance
) -> dict[str, Any] | Placement:
    """The instance placed on one of this zone's own hosts and stored, or why not."""
    placed = await place_here(session, route, new)
    if placed.host is None:
        return placed
    return local_view(await store_local(session, route, new, placed.host, None))


async def retried_where_sent(
    route: Route, mapped: ChildZone, new: NewInstance
) -> dict[str, Any] | Placement:
    """An earlier try sent this id to `mapped`: its answer, or (it has nothing) a new try here."""
    earlier = await retry_where_sent(route, mapped, new)
    if earlier is not None:
        return earlier
    async with route.sessions.begin() as session:
        return await stored_here(session, route, new)


async def place_here(
    session: AsyncSession, route: Route, new: NewInstance, leaving: str | None = None
) -> Placement:
    """One of this zone's own hosts, unless a target zone below is asked for."""
    if new.target is not None:
        return Placement(None, f"the instance is to go inside {new.target}, below this zone")
    return await place_on_own_hosts(
        session,
        route.hosts,
        new.open_conditions,
        new.resources,
        route.settings.zone.capabilities,
        leaving,
        Policy.of(route.settings, new),  # reserved room and [router] strategy
    )


INSTANCE_COLUMNS = tuple(table_of(InstanceRow).columns.keys())
insert_instance = insert(table_of(InstanceRow))  # the row comes as parameters (store_local)

# Whether this id was seen here before: held here, or sent down to a child. One statement.
earlier_attempt: CompoundSelect[tuple[str, int | None]] = union_all(
    select(literal("instance").label("kind"), literal(None).label("child_id")).where(
        InstanceRow.id == bindparam("id")
    ),
    select(literal("mapping"), InstanceMapping.child_id).where(
        InstanceMapping.instance_id == bindparam("id")
    ),
)


async def mapped_before(session: AsyncSession, instance_id: str) -> ChildZone | None:
    """The child an earlier attempt sent this id to (ACTIVE or PENDING), if any."""
    mapping = await session.get(InstanceMapping, instance_id)
    return await session.get(ChildZone, mapping.child_id) if mapping else None


async def retry_where_sent(
    route: Route, mapped: ChildZone, new: NewInstance
) -> dict[str, Any] | None:
    """This id went down to `mapped` before: only that child may hold it. Its answer, or
    None when it says it has nothing (the mapping is dropped and placement may go on)."""
    answer = await try_child(route, mapped, new)
    if isinstance(answer, dict):
        return answer
    if not answer.declined:
        raise ChildUnreachable(
            f"{mapped.name} may hold instance {new.id} but cannot be asked now "
            f"({answer.reason}); retry later with the same id"
        )
    await forget_mapping(route, new.id)
    return None


@dataclass(frozen=True)
class NotPlaced:
    """A child did not place the instance: it said nothing fits (`declined`), or failed.
    `waiting` names the zones that may take it but could not be asked (the child itself,
    or those it named)."""

    reason: str
    declined: bool
    waiting: tuple[str, ...] = ()


def said_by(zone: str, reason: str) -> str:
    """A reason as `zone` gave it, its name in front once."""
    return reason if reason.startswith(f"{zone}: ") else f"{zone}: {reason}"


def retry_after(route: Route) -> int:
    """Seconds to wait before sending again: about when a parent next hears from a zone
    that came back (a poll interval, at most a minute)."""
    return max(1, min(60, round(route.settings.poll.interval)))


async def store_local(
    session: AsyncSession, route: Route, new: NewInstance, host: str | None, fault: str | None
) -> InstanceRow:
    row = InstanceRow(
        id=new.id,
        name=new.name,
        client=new.client,
        status="ACTIVE" if host else "ERROR",
        zone=route.name,
        host=host,
        path=[route.name],
        requirements=new.requirements,
        resources=new.resources,
        fault=fault[:1024] if fault else None,
        request_hash=new.fingerprint,
        created_at=new.created_at or utcnow(),
    )
    await run(session, insert_instance, {name: getattr(row, name) for name in INSTANCE_COLUMNS})
    wrote(session, InstanceRow)
    await add_local(session, new.client, 1, new.resources if host else None)
    await route.tell_parent(session, new.client)
    return row


async def try_child(route: Route, child: ChildZone, new: NewInstance) -> dict[str, Any] | NotPlaced:
    """The instance as placed below `child`, or why not.

    When the child may have acted without its answer reaching us (a timeout, a
    connection lost after sending), a PENDING mapping keeps the id tied to that
    child and the caller is told to retry with the same id: placing it anywhere
    else could make a second copy.
    """
    try:
        answer = await route.send(
            child,
            "POST",
            "/instances",
            payload=new.body(),
            placement=True,
            settled=new.settled_here(route.settings.zone.capabilities),
            extra=new.routing_headers(),
        )
    except (ChildTimeout, ChildAnswerLost) as exc:
        await record_mapping(route, child.id, new.client, "PENDING", new.body()["instance"])
        raise type(exc)(
            f"{child.name} did not answer ({exc.detail}); retry with the same id ({new.id}): "
            "it will not be placed twice"
        ) from exc
    except ChildError as exc:
        return NotPlaced(exc.detail, declined=False, waiting=(child.name,))
    body = answer.body if isinstance(answer.body, dict) else {}
    placed = body.get("instance")
    if answer.status == 201 and isinstance(placed, dict):
        return await keep_placed(route, child, new, placed, answer.lookup)
    detail = str(body.get("detail", ""))[:300] or f"answered {answer.status}"
    if answer.status in (502, 504):
        # Below it, a zone may have placed it and lost the answer: only a retry there is safe.
        await record_mapping(route, child.id, new.client, "PENDING", new.body()["instance"])
        raise (ChildTimeout if answer.status == 504 else ChildAnswerLost)(
            f"{child.name}: {detail}; retry with the same id ({new.id}): "
            "it will not be placed twice"
        )
    if answer.status == 409 and body.get("reason") == "nothing-fits":
        return NotPlaced(detail, declined=True)
    if answer.status == 503 and body.get("reason") == "subtree-unavailable":
        named = names_listed(body.get("unreachable_zones"))
        return NotPlaced(detail, declined=True, waiting=named or (child.name,))
    if answer.status == 409:
        raise Conflict(detail)
    if answer.status == 508:
        raise LoopDetected(detail)
    return NotPlaced(detail, declined=False, waiting=(child.name,))


async def keep_placed(
    route: Route, child: ChildZone, new: NewInstance, placed: dict[str, Any], news: str | None
) -> dict[str, Any]:
    """The instance a child placed (created or moved), as this zone shows it, with its
    mapping and the child's client index news kept; refused if it is another instance."""
    if placed.get("id") != new.id or placed.get("client") != new.client:
        raise ChildError(f"{child.name} answered with another instance than {new.id}")
    instance = through(route, placed)
    await record_mapping(route, child.id, new.client, "ACTIVE", instance, parse_news(news))
    return instance
