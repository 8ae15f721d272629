"""Keeping the client index true: the writes every instance and mapping change makes with it.

Counts move by deltas, each applied by the change that caused it in the same
transaction (an instance row inserted or deleted here, a mapping gained,
switched or removed), so no write counts rows: a zone holding a million
instances of a client pays the same per create as one holding none. Each
write first bumps the client's revision (`lock_client`), which on PostgreSQL
locks the client's row: a change that reads before it decides (was this
mapping already here?) then reads after every earlier writer for the client
committed. `recount` counts from the rows, for `zones reindex`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select, update

from zones.auth.client_index import News
from zones.auth.index_models import ClientChild, ClientIndex
from zones.node.database import AsyncSession, dialect_insert, utcnow
from zones.router.instance_models import Instance, InstanceMapping


async def lock_client(session: AsyncSession, client: str) -> None:
    """Bump the client's revision and change time (creating its row): locks it till commit."""
    now = utcnow()
    insert = dialect_insert(session, ClientIndex).values(
        client=client, local_count=0, revision=1, changed_at=now
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["client"],
            set_={"revision": ClientIndex.revision + 1, "changed_at": now},
        )
    )


async def add_local(session: AsyncSession, client: str, delta: int) -> None:
    """An instance of the client was inserted here (+1) or deleted (-1)."""
    await lock_client(session, client)
    await session.execute(
        update(ClientIndex)
        .where(ClientIndex.client == client)
        .values(local_count=floored(ClientIndex.local_count + delta))
        .execution_options(synchronize_session=False)
    )


async def add_to_child(session: AsyncSession, client: str, child_id: int, delta: int) -> None:
    """A mapping of the client to the child was gained (+1) or lost (-1)."""
    await lock_client(session, client)
    insert = dialect_insert(session, ClientChild).values(
        client=client, child_id=child_id, count=max(delta, 0), answer=None, answer_revision=-1
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["client", "child_id"],
            set_={"count": floored(ClientChild.count + delta)},
        )
    )


def floored(amount: Any) -> Any:
    return case((amount < 0, 0), else_=amount)


async def learn_child_answer(
    session: AsyncSession, client: str, child_id: int, news: News | None
) -> None:
    """What the child said it answers for the client, unless a newer answer is kept. None:
    the child gained an instance without telling (a mapping repaired by asking, a create
    whose answer was lost), so what is kept may be too low: the child itself answers until
    it tells again."""
    await add_to_child(session, client, child_id, 0)
    if news is None:
        await keep_child_answer_now(session, client, child_id, None)
        return
    if news.client != client:
        return
    await session.execute(
        update(ClientChild)
        .where(
            ClientChild.client == client,
            ClientChild.child_id == child_id,
            ClientChild.answer_revision < news.revision,
        )
        .values(answer=news.answer, answer_revision=news.revision)
        .execution_options(synchronize_session=False)
    )


async def keep_child_answer_now(
    session: AsyncSession, client: str, child_id: int, answer: dict[str, Any] | None
) -> None:
    """The child's answer, whatever revision was kept (`zones reindex` has just asked it):
    news the child sends later carry higher revisions and replace it as usual."""
    await session.execute(
        update(ClientChild)
        .where(ClientChild.client == client, ClientChild.child_id == child_id)
        .values(answer=answer)
        .execution_options(synchronize_session=False)
    )


async def forget_child_answers(session: AsyncSession, child_id: int) -> None:
    """Another zone may answer at the child's new address: what the old one said, and its
    revisions (not comparable with the new zone's), no longer count."""
    await session.execute(
        update(ClientChild)
        .where(ClientChild.child_id == child_id)
        .values(answer=None, answer_revision=-1)
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
    for child_id in sorted(child_ids):
        await add_to_child(session, client, child_id, 0)
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
