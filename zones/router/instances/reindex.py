"""`zones reindex`: rebuild this zone's mappings and client index by asking its children.

For when the index cannot be trusted (a zone restored from a backup, a bug):
while it runs, a row in `client_index_rebuild` makes `/auth/lookup` ask the
children instead of reading the index. It runs beside the serving zone, on
the same database and with the same child credentials:

1. Each child lists every client's instances in its subtree (as this zone's
   service account, `all_clients=true`, page by page). A child that cannot
   be asked keeps the mappings it had; its name is reported.
2. The mappings of each answering child are replaced by what it listed.
   Mappings written while the rebuild ran are kept, and PENDING ones (a
   create whose answer was lost) too: they only say where a retry must go.
3. Each child is asked for its own lookup answer for every client it holds.
4. Every client's counts are recounted, in one transaction per client.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
from sqlalchemy import delete, func, select, update

from zones.auth.keys import load_secret_box
from zones.errors import ChildError, ChildTimeout
from zones.node.config import Settings
from zones.node.database import (
    AsyncSession,
    Sessions,
    create_engine,
    create_sessions,
    migrate,
    upsert,
    utcnow,
)
from zones.router.children.allowed import allowed_of, guarded_connector
from zones.router.children.http import ChildClient
from zones.router.children.models import ChildZone
from zones.router.children.tokens import ChildCredentials, ChildTokens
from zones.router.index.answers import answer_in
from zones.router.index.models import ClientChild, ClientIndex, IndexRebuild
from zones.router.index.updates import keep_child_answer_now, lock_client, update_child
from zones.router.index.usage import added
from zones.router.instances.listing import well_formed
from zones.router.instances.models import Instance, InstanceMapping

PAGE = 1000
LOOKUPS_AT_ONCE = 16


@dataclass
class Report:
    """What a rebuild found, for the operator."""

    children: list[str] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)
    mappings: int = 0
    removed: int = 0
    clients: int = 0

    def lines(self) -> list[str]:
        shown = [
            f"children asked: {', '.join(self.children) or 'none'}",
            f"mappings now: {self.mappings} (removed {self.removed} that no child listed)",
            f"clients indexed: {self.clients}",
        ]
        shown += [
            f"unreachable, mappings kept: {name} ({why})" for name, why in self.unreachable.items()
        ]
        return shown


async def reindex(settings: Settings) -> Report:
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        sessions = create_sessions(engine)
        box = load_secret_box(settings.secrets_dir)
        rules = settings.router.allowed_children
        connector = guarded_connector(rules, settings.trusted_issuers)
        async with aiohttp.ClientSession(connector=connector) as http:
            child_client = ChildClient(http, settings.router.child_timeout, allowed_of(rules))
            asker = Asker(child_client, ChildTokens(child_client, box), settings.zone.name)
            await mark_rebuilding(sessions, True)
            try:
                return await rebuild(sessions, asker)
            finally:
                await mark_rebuilding(sessions, False)
    finally:
        await engine.dispose()


async def mark_rebuilding(sessions: Sessions, running: bool) -> None:
    async with sessions.begin() as session:
        await session.execute(delete(IndexRebuild))
        if running:
            session.add(IndexRebuild(id=1, started_at=utcnow()))


@dataclass(frozen=True)
class Asker:
    """Calls to children as this zone's own service account."""

    child_client: ChildClient
    tokens: ChildTokens
    zone_name: str

    async def get(self, child: ChildZone, path: str) -> tuple[int, Any]:
        credentials = ChildCredentials.of(child)
        request_id = f"reindex-{uuid.uuid4()}"
        token = await self.tokens.token_for(credentials, request_id)
        reply = await self.child_client.forward(
            child.api_url, "GET", path, caller_token=token, headers={}, request_id=request_id
        )
        return reply.status, reply.body

    async def everything_below(self, child: ChildZone) -> list[dict[str, Any]]:
        """Every instance in the child's subtree, every client's, page by page."""
        found: list[dict[str, Any]] = []
        parameters = {"all_clients": "true", "limit": str(PAGE)}
        while True:
            status, body = await self.get(child, f"/instances?{urlencode(parameters)}")
            items = body.get("instances") if isinstance(body, dict) else None
            if status != 200 or not isinstance(items, list) or not all(map(well_formed, items)):
                raise ChildError(f"{child.name} answered its list with {status}")
            found += items
            if not items or body.get("next_marker") is None:
                return found
            parameters["after"] = f"{items[-1]['created_at']},{items[-1]['id']}"

    async def answer_for(self, child: ChildZone, client: str) -> dict[str, Any] | None:
        status, body = await self.get(child, f"/auth/lookup?{urlencode({'client': client})}")
        return answer_in(body) if status == 200 else None


async def rebuild(sessions: Sessions, asker: Asker) -> Report:
    report = Report()
    async with sessions.begin() as session:
        children = list(await session.scalars(select(ChildZone).order_by(ChildZone.id)))
        before = await mappings_now(session)
    listed = await asyncio.gather(
        *(asker.everything_below(child) for child in children), return_exceptions=True
    )
    holders: set[tuple[str, int]] = set()
    for child, items in zip(children, listed, strict=True):
        report.children.append(child.name)
        if isinstance(items, BaseException):
            if not isinstance(items, (ChildError, ChildTimeout)):
                raise items
            report.unreachable[child.name] = items.detail
            continue
        async with sessions.begin() as session:
            report.removed += await replace_mappings(session, child, items, before, asker.zone_name)
        holders.update((str(item["client"]), child.id) for item in items)
    await learn_answers(sessions, asker, children, holders)
    report.clients = await recount_everyone(sessions)
    async with sessions.begin() as session:
        report.mappings = len(list(await session.scalars(select(InstanceMapping.instance_id))))
    return report


Where = tuple[int, str]  # a mapping's child and state


async def mappings_now(session: Any) -> dict[str, Where]:
    rows = await session.execute(
        select(InstanceMapping.instance_id, InstanceMapping.child_id, InstanceMapping.state)
    )
    return {instance_id: (child_id, state) for instance_id, child_id, state in rows.all()}


async def replace_mappings(
    session: Any,
    child: ChildZone,
    items: list[dict[str, Any]],
    before: dict[str, Where],
    zone: str,
) -> int:
    """The child's mappings as it listed them; how many old ones it no longer holds. A
    mapping that changed while the rebuild ran (a create, move or delete went through this
    zone meanwhile) is newer than the listing: it is left as it is."""
    now = await mappings_now(session)
    listed = {str(item["id"]) for item in items}
    for item in items:
        if now.get(str(item["id"])) != before.get(str(item["id"])):
            continue  # written, moved or removed meanwhile
        snapshot = {**item, "path": [zone, *item.get("path", [])]}
        values = {
            "instance_id": snapshot["id"],
            "child_id": child.id,
            "client": str(item["client"]),
            "state": "ACTIVE",
            "snapshot": snapshot,
            "created_at": datetime.fromisoformat(str(item["created_at"]).replace("Z", "+00:00")),
        }
        await upsert(session, InstanceMapping, values, keys=["instance_id"])
    stale = [
        mapping.instance_id
        for mapping in await session.scalars(
            select(InstanceMapping).where(
                InstanceMapping.child_id == child.id, InstanceMapping.state == "ACTIVE"
            )
        )
        if mapping.instance_id not in listed
        and before.get(mapping.instance_id) == (child.id, "ACTIVE")
    ]
    if stale:
        await session.execute(delete(InstanceMapping).where(InstanceMapping.instance_id.in_(stale)))
    return len(stale)


async def learn_answers(
    sessions: Sessions,
    asker: Asker,
    children: list[ChildZone],
    holders: Iterable[tuple[str, int]],
) -> None:
    by_id = {child.id: child for child in children}
    gate = asyncio.Semaphore(LOOKUPS_AT_ONCE)

    async def learn(client: str, child_id: int) -> None:
        async with gate:
            try:
                answer = await asker.answer_for(by_id[child_id], client)
            except (ChildError, ChildTimeout):
                return  # the child itself stays the answer
        async with sessions.begin() as session:
            await lock_client(session, client)
            await update_child(session, client, child_id)
            await keep_child_answer_now(session, client, child_id, answer)

    await asyncio.gather(*(learn(client, child_id) for client, child_id in holders))


async def recount_everyone(sessions: Sessions) -> int:
    """Every client's counts from the rows and mappings as they are now; how many clients."""
    async with sessions.begin() as session:
        clients = set(await session.scalars(select(Instance.client).distinct()))
        clients |= set(await session.scalars(select(InstanceMapping.client).distinct()))
        clients |= set(await session.scalars(select(ClientIndex.client)))
        pairs = set((await session.execute(select(ClientChild.client, ClientChild.child_id))).all())
        pairs |= set(
            (await session.execute(select(InstanceMapping.client, InstanceMapping.child_id))).all()
        )
    children_of: dict[str, set[int]] = {}
    for client, child_id in pairs:
        children_of.setdefault(client, set()).add(child_id)
    for client in sorted(clients):
        async with sessions.begin() as session:
            await recount(session, client, children_of.get(client, set()))
    return len(clients)


async def recount_resources(session: AsyncSession, client: str) -> None:
    """The sums of the resources of the client's instances placed here, from the rows."""
    placed = select(Instance.resources).where(
        Instance.client == client, Instance.status == "ACTIVE"
    )
    sums: dict[str, float] = {}
    for resources in await session.scalars(placed):
        sums = added(sums, resources or {})
    await session.execute(
        update(ClientIndex)
        .where(ClientIndex.client == client)
        .values(resources=sums or None)
        .execution_options(synchronize_session=False)
    )


async def recount(session: AsyncSession, client: str, child_ids: set[int]) -> None:
    """The client's counts from the rows and mappings themselves (a rebuild, not a hot path)."""
    await lock_client(session, client)
    held = select(func.count()).select_from(Instance).where(Instance.client == client)
    await session.execute(
        update(ClientIndex)
        .where(ClientIndex.client == client)
        .values(local_count=held.scalar_subquery())
        .execution_options(synchronize_session=False)
    )
    await recount_resources(session, client)
    for child_id in sorted(child_ids):
        await update_child(session, client, child_id)
        mapped = (
            select(func.count())
            .select_from(InstanceMapping)
            .where(InstanceMapping.client == client, InstanceMapping.child_id == child_id)
        )
        await session.execute(
            update(ClientChild)
            .where(ClientChild.client == client, ClientChild.child_id == child_id)
            .values(count=mapped.scalar_subquery())
            .execution_options(synchronize_session=False)
        )
