"""The client index: which zone is the lowest that manages a client, kept precomputed.

Seed 004's rule, answered from this zone's own rows and never by asking:

- this zone, when its own rows hold instances of the client, or two or more
  children do;
- the single child's own answer (its zone, and the path below it), when
  exactly one child does;
- nothing (404) when none does.

Every change of an instance or a mapping updates the index in the same
transaction (zones.router.index.updates), so the index is never behind what the
zone has answered. A zone tells its parent the answer that results
(`news_for`, sent as the `X-Zones-Lookup` header of create, move and delete
answers), and the parent keeps it beside its count for that child.

Instances kept here with a fault count as held here: the client must be sent
to a zone that shows them. PENDING mappings (a create whose answer was lost)
count for their child, since the instance may be there.

The news carries the client's usage in this zone's subtree at the same
revision (zones.router.index.usage), so a parent learns it with the answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import and_, bindparam, func, or_, select

from zones.node.database import AsyncSession, run
from zones.router.children.http import LOOKUP_HEADER
from zones.router.children.models import ChildZone
from zones.router.index.models import ClientChild, ClientIndex, IndexRebuild
from zones.router.index.usage import Usage, UsageDocument, subtree_usage, usage_of_document

__all__ = ["LOOKUP_HEADER", "Here", "News", "answer_for", "news_for"]


@dataclass(frozen=True)
class Here:
    """This zone, as a lookup answer names it."""

    name: str
    url: str

    def answer(self) -> dict[str, Any]:
        return {"zone": {"name": self.name, "url": self.url}, "path": [self.name]}


@dataclass(frozen=True)
class News:
    """A zone's answer for one client after a change, with the revision that orders it, and
    the client's usage in the zone's subtree at that revision (None: not told)."""

    client: str
    revision: int
    answer: dict[str, Any] | None
    usage: Usage | None = None


class _ZoneRef(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    url: str


class _NewsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    client: str
    revision: int
    zone: _ZoneRef | None
    path: list[str] = Field(max_length=64)
    usage: UsageDocument | None = None


class _AnswerDocument(BaseModel):
    """A zone's `/auth/lookup` answer, as another zone reads it."""

    model_config = ConfigDict(strict=True)
    zone: _ZoneRef
    path: list[str] = Field(min_length=1, max_length=64)


# A child holds a client when mappings lead there, or when it said it manages the client
# (instances made by entering at the child or below never pass through this zone).
holds = or_(ClientChild.count > 0, ClientChild.answer.is_not(None))


@dataclass(frozen=True)
class IndexRead:
    """One client's entry, read in one statement: its revision, answer and usage agree."""

    rebuilding: bool  # `zones reindex` runs: the answer cannot be trusted
    revision: int
    answer: dict[str, Any] | None
    usage: Usage | None = None  # read with every child holding the client (`whole`)


async def read_index(
    session: AsyncSession, client: str, here: Here, whole: bool = False
) -> IndexRead:
    """The client's answer from this zone's own index: one indexed query, no child asked;
    `whole`: with every child holding the client, for its usage in this subtree too."""
    statement = _whole_statement if whole else _index_statement
    rows = (await run(session, statement, {"client": client})).all()
    rebuilding, revision, local = rows[0][0] > 0, rows[0][1] or 0, rows[0][2] or 0
    holding = [(row[3], row[4], row[5]) for row in rows if row[4] is not None]
    usage = None
    if whole:
        usage = subtree_usage(local, rows[0][6], [(row[7], row[8]) for row in rows if row[4]])
    return IndexRead(rebuilding, revision, decide(here, local, holding), usage)


def _index_read(whole: bool) -> Any:
    """Built once: the rebuild flag, the client's row and up to two children holding it
    (`whole`: all of them, with what each counts)."""
    flag = select(func.count().label("rebuilding")).select_from(IndexRebuild).subquery()
    source = (
        flag.outerjoin(ClientIndex, ClientIndex.client == bindparam("client"))
        .outerjoin(ClientChild, and_(ClientChild.client == ClientIndex.client, holds))
        .outerjoin(ChildZone, ChildZone.id == ClientChild.child_id)
    )
    columns = (ClientIndex.revision, ClientIndex.local_count, ClientChild.answer, ChildZone.name)
    usage = (ClientIndex.resources, ClientChild.count, ClientChild.usage)
    read = select(flag.c.rebuilding, *columns, ChildZone.api_url, *usage).select_from(source)
    return read if whole else read.limit(2)


_index_statement = _index_read(whole=False)
_whole_statement = _index_read(whole=True)


Holding = tuple[dict[str, Any] | None, str, str]  # a child's kept answer, its name and URL


def decide(here: Here, local: int, holding: list[Holding]) -> dict[str, Any] | None:
    """Seed 004's rule over this zone's own count and (up to two of) the children holding."""
    if local or len(holding) > 1:
        return here.answer()
    return through_child(here, *holding[0]) if holding else None


async def answer_for(session: AsyncSession, client: str, here: Here) -> dict[str, Any] | None:
    """`{"zone": {"name", "url"}, "path": [...]}` to tell others (tokens, parents): while the
    index is being rebuilt it cannot be trusted, and this zone, containing all, is told."""
    read = await read_index(session, client, here)
    return here.answer() if read.rebuilding else read.answer


def through_child(
    here: Here, child_answer: dict[str, Any] | None, child_name: str, child_url: str
) -> dict[str, Any]:
    """One child manages the client: its answer with this zone first on the path. Before the
    child has told its own answer (an index built from counts alone), the child itself."""
    if child_answer is None:
        return {"zone": {"name": child_name, "url": child_url}, "path": [here.name, child_name]}
    return {"zone": child_answer["zone"], "path": [here.name, *child_answer["path"]]}


async def news_for(session: AsyncSession, client: str, here: Here) -> News:
    """This zone's answer with the revision it belongs to (see answer_for on rebuilds), and
    the client's usage in this subtree, all read in one statement."""
    read = await read_index(session, client, here, whole=True)
    answer = here.answer() if read.rebuilding else read.answer
    return News(client, read.revision, answer, read.usage)


async def rebuilding(session: AsyncSession) -> bool:
    return await session.scalar(select(IndexRebuild.id).limit(1)) is not None


async def changes_since(
    session: AsyncSession, after: tuple[datetime, str] | None, here: Here, limit: int
) -> list[tuple[News, datetime]]:
    """This zone's answer for each client whose row changed after `after` (a position in
    (changed_at, client) order), oldest first: two queries for the whole page."""
    query = select(
        ClientIndex.client,
        ClientIndex.revision,
        ClientIndex.changed_at,
        ClientIndex.local_count,
        ClientIndex.resources,
    )
    if after is not None:
        moment, client = after
        query = query.where(
            or_(
                ClientIndex.changed_at > moment,
                and_(ClientIndex.changed_at == moment, ClientIndex.client > client),
            )
        )
    order = (ClientIndex.changed_at, ClientIndex.client)
    rows = (await session.execute(query.order_by(*order).limit(limit))).all()
    holding: dict[str, list[Holding]] = {}
    counted: dict[str, list[tuple[int, Any]]] = {}
    held = (
        select(
            ClientChild.client,
            ClientChild.answer,
            ChildZone.name,
            ChildZone.api_url,
            ClientChild.count,
            ClientChild.usage,
        )
        .join(ChildZone, ChildZone.id == ClientChild.child_id)
        .where(ClientChild.client.in_([row[0] for row in rows]), holds)
    )
    for client, answer, name, url, count, usage in (await session.execute(held)).all():
        holding.setdefault(client, []).append((answer, name, url))
        counted.setdefault(client, []).append((count, usage))
    return [
        (
            News(
                client,
                revision,
                decide(here, local, holding.get(client, [])[:2]),
                subtree_usage(local, resources, counted.get(client, [])),
            ),
            changed_at,
        )
        for client, revision, changed_at, local, resources in rows
    ]


def news_header(news: News) -> str:
    answer = news.answer or {"zone": None, "path": []}
    document = {"client": news.client, "revision": news.revision, **answer}
    if news.usage is not None:
        document["usage"] = news.usage.document()
    return json.dumps(document, separators=(",", ":"))


class _Change(_NewsDocument):
    changed_at: datetime


class _Changes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    changes: list[_Change]
    as_of: datetime


def changes_in(body: Any) -> tuple[list[tuple[News, datetime]], datetime] | None:
    """A child's `/auth/lookup/changes` answer (the changes, and the child's clock); None
    when it is not in that shape."""
    try:
        document = _Changes.model_validate(body, strict=False)
    except ValidationError:
        return None
    found = []
    for change in document.changes:
        news = news_of(change)
        if news is None or change.changed_at.tzinfo is None:
            return None
        found.append((news, change.changed_at))
    if document.as_of.tzinfo is None:
        return None
    return found, document.as_of


def news_of(document: _NewsDocument) -> News | None:
    """The news a document tells; a usage not in the shape zones keep is left untold."""
    usage = usage_of_document(document.usage)
    if document.zone is None:
        return News(document.client, document.revision, None, usage)
    if not document.path:
        return None
    answer = {"zone": document.zone.model_dump(), "path": document.path}
    return News(document.client, document.revision, answer, usage)


def answer_in(body: Any) -> dict[str, Any] | None:
    """The `{"zone", "path"}` of another zone's `/auth/lookup` answer, if it has that shape."""
    try:
        document = _AnswerDocument.model_validate(body)
    except ValidationError:
        return None
    return {"zone": document.zone.model_dump(), "path": document.path}


def parse_news(raw: str | None) -> News | None:
    """A child's `X-Zones-Lookup` header; None when absent or not in the expected shape."""
    if raw is None or len(raw) > 8000:
        return None
    try:
        return news_of(_NewsDocument.model_validate_json(raw))
    except ValidationError:
        return None
