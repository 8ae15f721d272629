"""What a poll learnt, written to the parent's database: state, counters and typed rows."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, select

from zones.capabilities.aggregate import aggregate_from_json, free_from_json
from zones.node.database import AsyncSession, utcnow
from zones.router.models import ChildCapability, ChildFree, ChildZone
from zones.router.schemas import ZoneInfo


@dataclass(frozen=True)
class PollOutcome:
    """One child's poll: it answered (`info` None when unchanged) or failed with `error`."""

    child_id: int
    ok: bool
    info: ZoneInfo | None
    error: str | None
    latency_ms: float

    @classmethod
    def answered(cls, child_id: int, info: ZoneInfo | None, started: float) -> PollOutcome:
        return cls(child_id, True, info, None, _since(started))

    @classmethod
    def failed(cls, child_id: int, error: str, started: float) -> PollOutcome:
        return cls(child_id, False, None, error, _since(started))


def _since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


async def record_poll(
    session: AsyncSession, outcome: PollOutcome, failures_before_offline: int, own_uuid: str
) -> None:
    child = await session.get(ChildZone, outcome.child_id)
    if child is None or not child.enabled:
        return  # removed or disabled while the poll was out
    child.last_polled_at = utcnow()
    child.poll_latency_ms = outcome.latency_ms
    error = (
        outcome.error if not outcome.ok else await _learn(session, child, outcome.info, own_uuid)
    )
    if error is None:
        child.failures = 0
        child.state = "online"
        child.last_seen = child.last_polled_at
        child.last_error = None
        return
    child.failures += 1
    child.last_error = error
    if child.failures >= failures_before_offline or error.startswith("loop"):
        child.state = "offline"


async def _learn(
    session: AsyncSession, child: ChildZone, info: ZoneInfo | None, own_uuid: str
) -> str | None:
    """Store a changed answer; return why it cannot be used, or None when it can."""
    if info is None:
        return None
    if info.uuid == own_uuid or own_uuid in info.descendants:
        return f"loop: this zone is inside the subtree of {info.name!r}; it is not counted"
    if info.uuid != child.uuid:
        clash = await _child_with(session, ChildZone.uuid == info.uuid, child.id)
        if clash is not None:
            return f"answers as zone {info.uuid}, already registered here as child {clash.id}"
        child.uuid = info.uuid
    if child.name_is_provisional and info.name != child.name:
        if await _child_with(session, ChildZone.name == info.name, child.id) is None:
            child.name, child.name_is_provisional = info.name, False
    child.last_info = info.model_dump(mode="json")
    await replace_capability_rows(session, child.id, info)
    return None


async def _child_with(
    session: AsyncSession, condition: ColumnElement[bool], own_id: int
) -> ChildZone | None:
    return await session.scalar(select(ChildZone).where(condition, ChildZone.id != own_id))


async def replace_capability_rows(
    session: AsyncSession, child_id: int, info: ZoneInfo | None
) -> None:
    """Rewrite a child's typed capability and free rows from its latest answer (None: none)."""
    await session.execute(delete(ChildCapability).where(ChildCapability.child_id == child_id))
    await session.execute(delete(ChildFree).where(ChildFree.child_id == child_id))
    if info is None:
        return
    for key, summary in aggregate_from_json(info.capabilities).items():
        for value in summary.values:
            session.add(
                ChildCapability(
                    child_id=child_id,
                    key=key,
                    value_type="bool" if isinstance(value, bool) else "string",
                    string_value=_as_text(value),
                )
            )
        if summary.low is not None:
            session.add(
                ChildCapability(
                    child_id=child_id,
                    key=key,
                    value_type="float",
                    float_min=summary.low,
                    float_max=summary.high,
                )
            )
    for resource, amount in free_from_json(info.free).items():
        session.add(ChildFree(child_id=child_id, resource=resource, max=amount.max, sum=amount.sum))
    await session.flush()


def _as_text(value: str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
