"""Instances through the tree: create, find, delete and list across this zone's subtree.

A create is placed on this zone's own hosts when one fits; otherwise it goes
to the healthy children whose aggregates may fit it, best first (higher
`weight_offset`, then more free room), and the next is tried when one says
nothing fits or fails. Every zone on the way records which child leads to the
instance, so reads and deletes go straight down. What fits nowhere is kept,
with a fault, by the zone that took the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import delete, select

from zones.auth.client_index import Here, News, news_for, parse_news
from zones.auth.index_updates import add_local, lock_client, update_child
from zones.capabilities.aggregate import aggregate_from_json, free_from_json
from zones.capabilities.matching import (
    Condition,
    aggregate_may_satisfy,
    host_satisfies,
    may_fit_zone,
    split_static,
)
from zones.capabilities.values import CapabilityValue
from zones.errors import (
    ChildAnswerLost,
    ChildError,
    ChildTimeout,
    ChildUnreachable,
    Conflict,
    LoopDetected,
    NothingFits,
)
from zones.node.config import Settings
from zones.node.database import AsyncSession, Sessions, upsert, utcnow
from zones.router import instances
from zones.router.forwarding import MOVING_HEADER, TARGET_HEADER, Forwarder, from_a_parent
from zones.router.info import zone_names
from zones.router.instance_models import Instance as InstanceRow
from zones.router.instance_models import InstanceMapping
from zones.router.instance_views import local_view, through
from zones.router.models import ChildZone
from zones.router.placement import Placement, place_on_own_hosts
from zones.router.routing_cache import CachedMapping, RoutingCache


@dataclass(frozen=True)
class NewInstance:
    id: str
    name: str
    client: str
    requirements: dict[str, Any]
    resources: dict[str, float]
    conditions: list[Condition]
    fingerprint: str
    settled: frozenset[str] = frozenset()
    # A moving instance's new copy keeps its creation time (and so its place in lists).
    created_at: datetime | None = None
    # Only inside the zone of this name (a move to a named zone); None: anywhere.
    target: str | None = None

    @property
    def open_conditions(self) -> list[Condition]:
        """The conditions the zones above have not settled already."""
        return [condition for condition in self.conditions if condition.key not in self.settled]

    def settled_here(self, static: Mapping[str, CapabilityValue]) -> frozenset[str]:
        """What is settled for everything below this zone: above, or by its static capabilities
        (a key they define but contradict is not settled: it rules the zone out instead)."""
        met = {c.key for c in self.open_conditions if host_satisfies([c], static)}
        return self.settled | met

    def inside(self, zone_name: str) -> NewInstance:
        """As seen inside `zone_name`: a target of that name is reached there."""
        return replace(self, target=None) if self.target == zone_name else self

    def routing_headers(self) -> dict[str, str]:
        headers = {}
        if self.target is not None:
            headers[TARGET_HEADER] = self.target
        if self.created_at is not None:
            headers[MOVING_HEADER] = f"{self.client},{self.created_at.isoformat()}"
        return headers

    def body(self) -> dict[str, Any]:
        return {
            "instance": {
                "id": self.id,
                "name": self.name,
                "requirements": self.requirements,
                "resources": self.resources,
            }
        }


@dataclass(frozen=True)
class Route:
    """One request's way through this zone: who asks, where it has been, what to call."""

    request: web.Request
    request_id: str
    visited: list[str]
    settings: Settings
    sessions: Sessions
    forwarder: Forwarder
    cache: RoutingCache
    # This zone's client index answer after this request's last write, for its parent.
    told: dict[str, News] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.settings.zone.name

    async def tell_parent(self, session: AsyncSession, client: str) -> None:
        """Read the answer to send up inside the write's own transaction (no second one)."""
        if from_a_parent(self.request):
            here = Here(self.name, self.settings.url)
            self.told[client] = await news_for(session, client, here)

    async def send(self, child: ChildZone, method: str, path: str, **options: Any) -> Any:
        return await self.forwarder.send(
            child,
            method,
            path,
            request=self.request,
            request_id=self.request_id,
            visited=self.visited,
            **options,
        )


# ---------------------------------------------------------------- create


async def create(route: Route, new: NewInstance, forwarded: bool) -> dict[str, Any]:
    async with route.cache.one_at_a_time(new.id):
        return await create_once(route, new, forwarded)


async def create_once(route: Route, new: NewInstance, forwarded: bool) -> dict[str, Any]:
    new = new.inside(route.name)
    async with route.sessions.begin() as session:
        existing = await session.get(InstanceRow, new.id)
        if existing is not None:
            return local_view(instances.same_request(existing, new.client, new.fingerprint))
        mapped = await mapped_before(session, new.id)
    if mapped is not None:
        earlier = await retry_where_sent(route, mapped, new)
        if earlier is not None:
            return earlier
    async with route.sessions.begin() as session:
        placed = await place_here(session, route, new)
        if placed.host is not None:
            return local_view(await store_local(session, route, new, placed.host, None))
        candidates = await candidate_children(session, route, new)
    reasons = [f"{route.name}: {placed.fault}"]
    if not candidates:
        reasons.append(f"{route.name}: no healthy child may satisfy it and have room")
    for child in candidates:
        answer = await try_child(route, child, new)
        if isinstance(answer, dict):
            return answer
        reasons.append(f"{child.name}: {answer.reason}")
    if forwarded:
        raise NothingFits("; ".join(reasons))
    async with route.sessions.begin() as session:
        return local_view(await store_local(session, route, new, None, "; ".join(reasons)))


async def place_here(
    session: AsyncSession, route: Route, new: NewInstance, leaving: str | None = None
) -> Placement:
    """One of this zone's own hosts, unless a target zone below is asked for."""
    if new.target is not None:
        return Placement(None, f"the instance is to go inside {new.target}, below this zone")
    return await place_on_own_hosts(
        session, new.open_conditions, new.resources, route.settings.zone.capabilities, leaving
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
    """A child did not place the instance: it said nothing fits (`declined`), or failed."""

    reason: str
    declined: bool


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
    session.add(row)
    await session.flush()
    await add_local(session, new.client, 1)
    await route.tell_parent(session, new.client)
    return row


async def candidate_children(
    session: AsyncSession, route: Route, new: NewInstance, excluded: frozenset[int] = frozenset()
) -> list[ChildZone]:
    """Healthy children that may place the instance, best first."""
    remaining = split_static(new.open_conditions, route.settings.zone.capabilities)
    if remaining is None:
        return []
    healthy = await session.scalars(select(ChildZone).where(ChildZone.is_healthy))
    ranked = []
    for child in healthy:
        if child.last_info is None or child.id in excluded:
            continue
        if new.target is not None and new.target not in zone_names(child):
            continue
        capabilities = aggregate_from_json(child.last_info["capabilities"])
        free = free_from_json(child.last_info["free"])
        if aggregate_may_satisfy(remaining, capabilities) and may_fit_zone(new.resources, free):
            room = sum(free[key].sum for key in new.resources if key in free)
            ranked.append((-child.weight_offset, -room, child.id, child))
    return [child for *_, child in sorted(ranked, key=lambda entry: entry[:3])]


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
        return NotPlaced(exc.detail, declined=False)
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
    if answer.status == 409:
        raise Conflict(detail)
    if answer.status == 508:
        raise LoopDetected(detail)
    return NotPlaced(detail, declined=False)


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


async def record_mapping(
    route: Route,
    child_id: int,
    client: str,
    state: str,
    snapshot: dict[str, Any],
    news: News | None = None,
) -> None:
    """Which child leads to the instance, with the client index following in the same
    transaction (and the child's own lookup answer, when it sent one)."""
    created = snapshot.get("created_at")
    try:
        created_at = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        if created_at.tzinfo is None:
            raise ValueError("no time zone")
    except ValueError:
        created_at = utcnow()
    values = {
        "instance_id": snapshot["id"],
        "child_id": child_id,
        "client": client,
        "state": state,
        "snapshot": snapshot,
        "created_at": created_at,
    }
    async with route.sessions.begin() as session:
        await lock_client(session, client)  # first: what is read below is then current
        known = await session.get(InstanceMapping, snapshot["id"])
        if state == "PENDING" and known is not None and known.state == "ACTIVE":
            return  # what is known to be placed stays known
        # One statement: concurrent retries of one create all record the same mapping.
        await upsert(session, InstanceMapping, values, keys=["instance_id"])
        gained = known is None or known.child_id != child_id
        unknown = news is None
        await update_child(session, client, child_id, int(gained), news, answer_unknown=unknown)
        if known is not None and known.child_id != child_id:  # a move: the old child lost it
            await update_child(session, client, known.child_id, -1)
        await route.tell_parent(session, client)
    if state == "ACTIVE":
        route.cache.remember(snapshot["id"], CachedMapping(child_id, client, snapshot, created_at))
    else:
        route.cache.forget(snapshot["id"])


async def forget_mapping(route: Route, instance_id: str, news: News | None = None) -> None:
    route.cache.forget(instance_id)
    async with route.sessions.begin() as session:
        mapping = await session.get(InstanceMapping, instance_id)
        if mapping is not None:
            await drop_mapping(session, mapping.client, instance_id, mapping.child_id)
            if news is not None:
                await update_child(session, mapping.client, mapping.child_id, news=news)


async def drop_mapping(session: AsyncSession, client: str, instance_id: str, child_id: int) -> None:
    """Remove the mapping if it still leads to `child_id`, and count it off that child."""
    await lock_client(session, client)
    dropped = await session.execute(
        delete(InstanceMapping)
        .where(InstanceMapping.instance_id == instance_id, InstanceMapping.child_id == child_id)
        .execution_options(synchronize_session=False)
    )
    if dropped.rowcount == 1:  # type: ignore[attr-defined]
        await update_child(session, client, child_id, -1)
