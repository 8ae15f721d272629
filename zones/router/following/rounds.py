"""What a poll round learnt, written to the parent's database: state, counters and typed rows."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import defer

from zones.capabilities.aggregate import aggregate_from_json, free_from_json
from zones.node.database import (
    AsyncSession,
    dialect_of,
    run,
    table_of,
    upsert_statement,
    utcnow,
)
from zones.router.children.models import ChildCapability, ChildFree, ChildZone
from zones.router.children.schemas import ZoneInfo
from zones.router.children.tokens import ChildCredentials
from zones.router.following.info import etag_of
from zones.router.index.answers import News
from zones.router.index.updates import learn_child_answer

log = logging.getLogger("zones.poller")


@dataclass(frozen=True)
class PollTarget:
    """One child to poll: how to reach it, and the generation it last reported."""

    credentials: ChildCredentials
    etag: str | None
    clients_reported_at: datetime | None = None  # the child's clients_changed_at, last polled
    clients_known_at: datetime | None = None  # up to which its changes were fetched


@dataclass(frozen=True)
class PollOutcome:
    """One child's poll: it answered (`info` None when unchanged) or failed with `error`."""

    target: PollTarget
    ok: bool
    info: ZoneInfo | None
    error: str | None
    latency_ms: float
    offline_at_once: bool = False
    # Lookup answers of the clients whose index changed at the child since the last poll,
    # fetched up to `clients_known_at`.
    news: tuple[News, ...] = ()
    clients_known_at: datetime | None = None
    held: bool = False  # the child held it as a watch (Prefer: wait honoured)

    @property
    def child_id(self) -> int:
        return self.target.credentials.child_id

    @classmethod
    def answered(cls, target: PollTarget, info: ZoneInfo | None, started: float) -> PollOutcome:
        return cls(target, True, info, None, _since(started))

    @classmethod
    def failed(cls, target: PollTarget, error: str, started: float) -> PollOutcome:
        return cls(target, False, None, error, _since(started))

    def next_target(self) -> PollTarget:
        """The target to poll next, after this outcome was recorded: what it learnt is known."""
        target = self.target
        if self.ok and self.info is not None:
            target = replace(
                target,
                etag=etag_of(self.info.generation),
                clients_reported_at=self.info.clients_changed_at,
            )
        if self.ok and self.clients_known_at is not None:
            target = replace(target, clients_known_at=self.clients_known_at)
        return target

    def refused(self, error: str, at_once: bool = True) -> PollOutcome:
        """The same poll, judged a failure after all (its answer cannot be used)."""
        return replace(self, ok=False, info=None, error=error, offline_at_once=at_once)


def _since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


# Told of each child's recorded outcome, with the state the child had before it.
Observer = Callable[[ChildZone, PollOutcome, str], None]


async def record_round(
    session: AsyncSession,
    outcomes: Sequence[PollOutcome],
    failures_before_offline: int,
    own_uuid: str,
    observe: Observer | None = None,
) -> list[PollOutcome]:
    """Write every outcome and return them as recorded (each told to `observe`)."""
    # Not locked: the writes of a create or delete take the client index before the child,
    # and so does a round; a child removed between this read and the writes is met below.
    # Only the children that answered with a new info need their last one (to compare).
    learning = [outcome.child_id for outcome in outcomes if outcome.info is not None]
    plain = [outcome.child_id for outcome in outcomes if outcome.info is None]
    children: dict[int, ChildZone] = {}
    for ids, options in ((learning, ()), (plain, (defer(ChildZone.last_info, raiseload=True),))):
        if ids:
            chosen = select(ChildZone).where(ChildZone.id.in_(ids)).options(*options)
            children.update((child.id, child) for child in await session.scalars(chosen))
    before = {child.id: child.state for child in children.values()}
    recorded = await _record_round(session, children, outcomes, failures_before_offline, own_uuid)
    if observe is not None:
        for outcome in recorded:
            child = children[outcome.child_id]
            observe(child, outcome, before[child.id])
    return recorded


async def _record_round(
    session: AsyncSession,
    children: dict[int, ChildZone],
    outcomes: Sequence[PollOutcome],
    failures_before_offline: int,
    own_uuid: str,
) -> list[PollOutcome]:
    """The whole round in one savepoint; only when the database refuses something does each
    child get a savepoint of its own, so that one child's unstorable answer costs the round
    for no other."""
    current = [
        (children[outcome.child_id], outcome)
        for outcome in outcomes
        if outcome.child_id in children
        # removed, disabled or moved while the poll was out: the answer is stale
        and _still_polled_as(children[outcome.child_id], outcome.target)
    ]
    try:
        async with session.begin_nested():
            return [
                await _record(session, child, outcome, failures_before_offline, own_uuid)
                for child, outcome in current
            ]
    except SQLAlchemyError as exc:
        log.warning("cannot store a poll round at once (%s); storing child by child", exc)
    return [
        await _record_one(session, child, outcome, failures_before_offline, own_uuid)
        for child, outcome in await _still_there(session, current)
    ]


async def _still_there(
    session: AsyncSession, current: list[tuple[ChildZone, PollOutcome]]
) -> list[tuple[ChildZone, PollOutcome]]:
    """The children of the round that were not removed while it was being written, read
    again (the failed savepoint left them expired); the removed ones are let go."""
    ids = [outcome.child_id for _, outcome in current]
    present = set(await session.scalars(select(ChildZone.id).where(ChildZone.id.in_(ids))))
    kept = []
    for child, outcome in current:
        if outcome.child_id in present:
            await session.refresh(child)
            kept.append((child, outcome))
        else:
            session.expunge(child)
    return kept


def _still_polled_as(child: ChildZone, target: PollTarget) -> bool:
    credentials = target.credentials
    return child.enabled and (child.api_url, child.username, child.password_encrypted) == (
        credentials.api_url,
        credentials.username,
        credentials.password_encrypted,
    )


async def _record_one(
    session: AsyncSession,
    child: ChildZone,
    outcome: PollOutcome,
    failures_before_offline: int,
    own_uuid: str,
) -> PollOutcome:
    try:
        async with session.begin_nested():
            return await _record(session, child, outcome, failures_before_offline, own_uuid)
    except SQLAlchemyError as exc:
        # What the child said cannot be stored (a value the database refuses): a failed poll.
        log.warning("cannot store the answer of child %s: %s", outcome.child_id, exc)
        await session.refresh(child)
        outcome = outcome.refused("its answer could not be stored", at_once=False)
        async with session.begin_nested():
            _apply(child, outcome, failures_before_offline)
    return outcome


async def _record(
    session: AsyncSession,
    child: ChildZone,
    outcome: PollOutcome,
    failures_before_offline: int,
    own_uuid: str,
) -> PollOutcome:
    if outcome.info is not None:
        problem = await _learn(session, child, outcome.info, own_uuid)
        outcome = outcome.refused(problem) if problem else outcome
    if outcome.ok and outcome.clients_known_at is not None:
        for news in outcome.news:
            await learn_child_answer(session, news.client, child.id, news)
        child.clients_known_at = outcome.clients_known_at
    # Flushed with the round's other children, in one many-row UPDATE: a value the database
    # refuses fails the round's savepoint, and the round is then written child by child.
    _apply(child, outcome, failures_before_offline)
    return outcome


def _apply(child: ChildZone, outcome: PollOutcome, failures_before_offline: int) -> None:
    """The state a poll leaves: one definition of online and offline."""
    child.last_polled_at = utcnow()
    child.poll_latency_ms = outcome.latency_ms
    if outcome.ok:
        child.failures, child.state, child.last_error = 0, "online", None
        child.last_seen = child.last_polled_at
        return
    child.failures += 1
    child.last_error = outcome.error
    if child.failures >= failures_before_offline or outcome.offline_at_once:
        child.state = "offline"


async def _learn(
    session: AsyncSession, child: ChildZone, info: ZoneInfo, own_uuid: str
) -> str | None:
    """Store a changed answer (identity, provisional name, info, typed rows), or say why not.

    A child whose subtree holds this zone is refused: counting it would feed
    this zone's own capacity back into itself.
    """
    if info.uuid == own_uuid or own_uuid in info.descendants:
        return f"loop: this zone is inside the subtree of {info.name!r}; it is not counted"
    if info.uuid != child.uuid:
        if await _child_with(session, ChildZone.uuid == info.uuid, child.id) is not None:
            return f"answers as zone {info.uuid}, which is registered here as another child"
        child.uuid = info.uuid
    if child.name_is_provisional and info.name != child.name:
        if await _child_with(session, ChildZone.name == info.name, child.id) is None:
            child.name, child.name_is_provisional = info.name, False
    before = child.last_info or {}
    child.last_info = info.model_dump(mode="json")
    await replace_capability_rows(
        session,
        child.id,
        info,
        capabilities=before.get("capabilities") != child.last_info["capabilities"],
        free=(before.get("free"), before.get("open"))
        != (child.last_info["free"], child.last_info.get("open")),
        same_resources=(before.get("free") or {}).keys() == child.last_info["free"].keys(),
    )
    return None


async def _child_with(
    session: AsyncSession, condition: ColumnElement[bool], own_id: int
) -> ChildZone | None:
    return await session.scalar(select(ChildZone).where(condition, ChildZone.id != own_id))


async def replace_capability_rows(
    session: AsyncSession,
    child_id: int,
    info: ZoneInfo | None,
    capabilities: bool = True,
    free: bool = True,
    same_resources: bool = False,
) -> None:
    """Rewrite a child's typed capability rows and free rows (each when asked) from its latest
    answer (None: none): one DELETE and one many-row INSERT per table; free amounts of the
    `same_resources` as before (the usual change: a host's free room moved) are one many-row
    upsert."""
    if capabilities:
        rows = [] if info is None else capability_rows(child_id, info)
        await _rewrite(session, ChildCapability, child_id, rows)
    if not free:
        return
    amounts = [] if info is None else free_rows(child_id, info)
    if same_resources and amounts:
        upsert = upsert_statement(dialect_of(session), ChildFree, FREE_KEYS, FREE_AMOUNTS)
        await run(session, upsert, amounts)
    else:
        await _rewrite(session, ChildFree, child_id, amounts)


FREE_KEYS = ("child_id", "resource")
FREE_AMOUNTS = ("max", "sum", "open_max", "open_sum")


def free_rows(child_id: int, info: ZoneInfo) -> list[dict[str, Any]]:
    """One row per resource: free in all, and free in the open room (null: none open; a child
    that keeps no open room apart, an older zone, has all of it open)."""
    amounts = free_from_json(info.free)
    open_amounts = amounts if info.open is None else free_from_json(info.open.free)
    return [
        {
            "child_id": child_id,
            "resource": resource,
            "max": amount.max,
            "sum": amount.sum,
            "open_max": open_amounts[resource].max if resource in open_amounts else None,
            "open_sum": open_amounts[resource].sum if resource in open_amounts else None,
        }
        for resource, amount in amounts.items()
    ]


async def _rewrite(
    session: AsyncSession,
    model: type[ChildCapability] | type[ChildFree],
    child_id: int,
    rows: list[dict[str, Any]],
) -> None:
    # Core on the connection (no autoflush): the round's child updates stay pending and go
    # in one many-row UPDATE when the round is flushed.
    remove, add = _REWRITES[model]
    await run(session, remove, {"child": child_id})
    if rows:
        await run(session, add, rows)


_REWRITES = {
    model: (
        delete(table_of(model)).where(table_of(model).c.child_id == bindparam("child")),
        insert(table_of(model)),
    )
    for model in (ChildCapability, ChildFree)
}


def capability_rows(child_id: int, info: ZoneInfo) -> list[dict[str, Any]]:
    """The typed rows that child filters query: one per string or bool value, one per range."""

    def row(
        key: str,
        kind: str,
        text: str | None = None,
        low: float | None = None,
        high: float | None = None,
    ) -> dict[str, Any]:
        return {
            "child_id": child_id,
            "key": key,
            "value_type": kind,
            "string_value": text,
            "float_min": low,
            "float_max": high,
        }

    rows = []
    for key, summary in aggregate_from_json(info.capabilities).items():
        for value in summary.values:
            rows.append(row(key, "bool" if isinstance(value, bool) else "string", _as_text(value)))
        if summary.low is not None:
            rows.append(row(key, "float", low=summary.low, high=summary.high))
    return rows


def _as_text(value: str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
