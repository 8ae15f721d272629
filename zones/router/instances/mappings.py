"""Mappings: which child leads to an instance below, kept with the client index in one transaction.

Every zone on an instance's path keeps one, so reads, moves and deletes go
straight down; ACTIVE ones are also kept in the routing cache. A PENDING
mapping ties an id to the child that may have placed it when the answer was
lost, so a retry goes only there.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import delete

from zones.node.commits import wrote
from zones.node.database import AsyncSession, dialect_of, insert_for, run, upsert, utcnow
from zones.router.index.answers import News
from zones.router.index.updates import lock_client, update_child
from zones.router.instances.cache import CachedMapping
from zones.router.instances.models import InstanceMapping
from zones.router.instances.route import Route


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
        wrote(session, InstanceMapping, snapshot["id"])
        if not await inserted_new(session, values):
            known = await session.get(InstanceMapping, snapshot["id"])
            if state == "PENDING" and known is not None and known.state == "ACTIVE":
                return  # what is known to be placed stays known
            # One statement: concurrent retries of one create all record the same mapping.
            await upsert(session, InstanceMapping, values, keys=["instance_id"])
        else:
            known = None
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


async def inserted_new(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert the mapping unless the id has one: True when it was new (the common case,
    one statement); False leaves the known one for the caller to read and update."""
    inserted = await run(session, _insert_new_statement(dialect_of(session)), values)
    return inserted.first() is not None


@cache
def _insert_new_statement(dialect: str) -> Any:
    """Built once per backend; the values come as parameters."""
    insert = insert_for(dialect, InstanceMapping)
    return insert.on_conflict_do_nothing(index_elements=["instance_id"]).returning(
        insert.table.c.instance_id
    )


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
        wrote(session, InstanceMapping, instance_id)
        await update_child(session, client, child_id, -1)
