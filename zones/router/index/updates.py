"""Keeping the client index true: the writes every instance and mapping change makes with it.

Counts move by deltas, each applied by the change that caused it in the same
transaction (an instance row inserted or deleted here, a mapping gained,
switched or removed), so no write counts rows: a zone holding a million
instances of a client pays the same per create as one holding none. Each
write first bumps the client's revision (`lock_client`), which on PostgreSQL
locks the client's row: a change that reads before it decides (was this
mapping already here?) then reads after every earlier writer for the client
committed. Counting from the rows, for `zones reindex`, is
zones.router.instances.reindex's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, case, literal, null, select, update

from zones.node.database import AsyncSession, dialect_insert, utcnow
from zones.router.index.answers import News
from zones.router.index.models import ClientChild, ClientIndex


async def lock_client(session: AsyncSession, client: str, local_delta: int = 0) -> None:
    """Bump the client's revision and change time (creating its row), and move its local
    count by `local_delta`, in one statement: locks the row till commit."""
    now = utcnow()
    insert = dialect_insert(session, ClientIndex).values(
        client=client, local_count=max(local_delta, 0), revision=1, changed_at=now
    )
    changes: dict[str, Any] = {"revision": ClientIndex.revision + 1, "changed_at": now}
    if local_delta:
        changes["local_count"] = floored(ClientIndex.local_count + local_delta)
    await session.execute(insert.on_conflict_do_update(index_elements=["client"], set_=changes))


async def add_local(session: AsyncSession, client: str, delta: int) -> None:
    """An instance of the client was inserted here (+1) or deleted (-1)."""
    await lock_client(session, client, delta)


async def update_child(
    session: AsyncSession,
    client: str,
    child_id: int,
    delta: int = 0,
    news: News | None = None,
    answer_unknown: bool = False,
) -> None:
    """One statement for the child's entry: mappings to it gained (+1) or lost (-1); the
    answer it sent (kept unless a newer one is); or `answer_unknown`: it gained an instance
    without telling (a mapping repaired by asking, a create whose answer was lost), so the
    kept answer may be too low and the child itself answers until it tells again.
    The caller has locked the client (`lock_client`) in this transaction."""
    told = news if news is not None and news.client == client else None
    answer: Any = ClientChild.answer
    revision: Any = ClientChild.answer_revision
    if told is not None:
        newer = ClientChild.answer_revision < told.revision
        answer = case((newer, literal(told.answer, JSON(none_as_null=True))), else_=answer)
        revision = case((newer, told.revision), else_=revision)
    elif answer_unknown:
        answer = null()
    insert = dialect_insert(session, ClientChild).values(
        client=client,
        child_id=child_id,
        count=max(delta, 0),
        answer=None if told is None else told.answer,
        answer_revision=-1 if told is None else told.revision,
    )
    changes = {
        "count": floored(ClientChild.count + delta),
        "answer": answer,
        "answer_revision": revision,
    }
    await session.execute(
        insert.on_conflict_do_update(index_elements=["client", "child_id"], set_=changes)
    )


def floored(amount: Any) -> Any:
    return case((amount < 0, 0), else_=amount)


async def learn_child_answer(session: AsyncSession, client: str, child_id: int, news: News) -> None:
    """What the child said it answers for the client (polls, and moves' old copies)."""
    await lock_client(session, client)
    await update_child(session, client, child_id, news=news)


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


async def forget_child(session: AsyncSession, child_id: int) -> None:
    """The child is being removed, and its entries with it (ON DELETE CASCADE): each client
    it held changes here, so its revision and change time move and parents fetch it."""
    held = select(ClientChild.client).where(ClientChild.child_id == child_id)
    for client in list(await session.scalars(held)):
        await lock_client(session, client)
