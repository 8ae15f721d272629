"""Keeping the client index true: the writes every instance and mapping change makes with it.

Counts, and the resource sums of the instances placed here, move by deltas,
each applied by the change that caused it in the same transaction (an
instance row inserted, placed or deleted here, a mapping gained, switched or
removed), so no write counts rows: a zone holding a million
instances of a client pays the same per create as one holding none. Each
write first bumps the client's revision (`lock_client`), which on PostgreSQL
locks the client's row: a change that reads before it decides (was this
mapping already here?) then reads after every earlier writer for the client
committed. Counting from the rows, for `zones reindex`, is
zones.router.instances.reindex's.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Integer, bindparam, case, null, select, update
from sqlalchemy.sql.type_api import TypeEngine

from zones.node.commits import wrote
from zones.node.database import (
    AsyncSession,
    UtcDateTime,
    dialect_of,
    insert_for,
    run,
    table_of,
    utcnow,
)
from zones.router.index.answers import News
from zones.router.index.models import ClientChild, ClientIndex
from zones.router.index.usage import added


async def lock_client(session: AsyncSession, client: str, local_delta: int = 0) -> Any:
    """Bump the client's revision and change time (creating its row), and move its local
    count by `local_delta`, in one statement: locks the row till commit. Returns the
    resource sums of the client's instances placed here, as they are under the lock."""
    params = {"client": client, "now": utcnow(), "delta": local_delta, "first": max(local_delta, 0)}
    locked = await run(session, _lock_statement(dialect_of(session)), params)
    wrote(session, ClientIndex, client)
    return locked.scalar_one()


@cache
def _lock_statement(dialect: str) -> Any:
    table = table_of(ClientIndex).c
    insert = insert_for(dialect, ClientIndex).values(
        client=bindparam("client"),
        local_count=bindparam("first", type_=Integer()),
        revision=1,
        changed_at=bindparam("now", type_=UtcDateTime()),
    )
    changes = {
        "revision": table.revision + 1,
        "changed_at": insert.excluded.changed_at,
        "local_count": floored(table.local_count + bindparam("delta", type_=Integer())),
    }
    upsert = insert.on_conflict_do_update(index_elements=["client"], set_=changes)
    return upsert.returning(table.resources)


async def add_local(
    session: AsyncSession,
    client: str,
    delta: int,
    resources: dict[str, float] | None = None,
    sign: int = 1,
) -> None:
    """An instance of the client was inserted here (+1) or deleted (-1), or neither (0);
    `resources`: what it holds on a host here, added to the client's sums (`sign` -1:
    taken away). The sums are read under the client's lock, so no change is lost."""
    kept = await lock_client(session, client, delta)
    if resources:
        sums = added(kept, resources, sign)
        await run(session, _resources_statement, {"of": client, "sums": sums or None})


_resources_statement = (
    update(table_of(ClientIndex))
    .where(table_of(ClientIndex).c.client == bindparam("of"))
    .values(resources=bindparam("sums", type_=table_of(ClientIndex).c.resources.type))
)


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
    kept = "told" if told is not None else "unknown" if answer_unknown else "kept"
    params: dict[str, Any] = {
        "client": client,
        "child": child_id,
        "delta": delta,
        "first": max(delta, 0),
        "answer": None if told is None else told.answer,
        "revision": -1 if told is None else told.revision,
        "usage": None if told is None or told.usage is None else told.usage.document(),
    }
    await run(session, _child_statement(dialect_of(session), kept), params)


@cache
def _child_statement(dialect: str, kept: str) -> Any:
    """The child entry's upsert; `kept` says what becomes of its answer: "told" (the new one,
    unless a newer one is kept), "unknown" (none), "kept" (left as it is)."""
    table = table_of(ClientChild).c
    told_answer = bindparam("answer", type_=table.answer.type)
    told_revision = bindparam("revision", type_=Integer())
    usage_type: TypeEngine[Any] = table.usage.type
    insert = insert_for(dialect, ClientChild).values(
        client=bindparam("client"),
        child_id=bindparam("child", type_=Integer()),
        count=bindparam("first", type_=Integer()),
        answer=told_answer,
        answer_revision=told_revision,
        usage=bindparam("usage", type_=usage_type),
    )
    answer: Any = table.answer
    revision: Any = table.answer_revision
    usage: Any = table.usage
    if kept == "told":  # the child's usage comes with its answer, ordered by the same revision
        newer = table.answer_revision < insert.excluded.answer_revision
        answer = case((newer, insert.excluded.answer), else_=answer)
        revision = case((newer, insert.excluded.answer_revision), else_=revision)
        usage = case((newer, insert.excluded.usage), else_=usage)
    elif kept == "unknown":
        answer = null()
    changes = {
        "count": floored(table.count + bindparam("delta", type_=Integer())),
        "answer": answer,
        "answer_revision": revision,
        "usage": usage,
    }
    return insert.on_conflict_do_update(index_elements=["client", "child_id"], set_=changes)


def floored(amount: Any) -> Any:
    return case((amount < 0, 0), else_=amount)


async def learn_child_answer(session: AsyncSession, client: str, child_id: int, news: News) -> None:
    """What the child said it answers for the client (polls, and moves' old copies).

    News already kept (the answer to the write that caused it brought it first, as
    `X-Zones-Lookup`) changes nothing, so nothing is written: bumping the client's revision
    again would change this zone's info and send the same news up once more, one wave per
    level for every create."""
    params = {"client": client, "child": child_id, "revision": news.revision}
    if (await run(session, _kept_as_new, params)).first() is not None:
        return
    await lock_client(session, client)
    await update_child(session, client, child_id, news=news)


_kept_as_new = select(table_of(ClientChild).c.answer_revision).where(
    table_of(ClientChild).c.client == bindparam("client"),
    table_of(ClientChild).c.child_id == bindparam("child", type_=Integer()),
    table_of(ClientChild).c.answer_revision >= bindparam("revision", type_=Integer()),
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
    wrote(session, ClientIndex, client)


async def forget_child_answers(session: AsyncSession, child_id: int) -> None:
    """Another zone may answer at the child's new address: what the old one said, and its
    revisions (not comparable with the new zone's), no longer count."""
    await session.execute(
        update(ClientChild)
        .where(ClientChild.child_id == child_id)
        .values(answer=None, answer_revision=-1)
        .execution_options(synchronize_session=False)
    )
    wrote(session, ClientIndex)  # answers of many clients changed


async def forget_child(session: AsyncSession, child_id: int) -> None:
    """The child is being removed, and its entries with it (ON DELETE CASCADE): each client
    it held changes here, so its revision and change time move and parents fetch it."""
    held = select(ClientChild.client).where(ClientChild.child_id == child_id)
    for client in list(await session.scalars(held)):
        await lock_client(session, client)
