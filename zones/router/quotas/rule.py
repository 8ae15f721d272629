"""The quota rule: what a create or move entering this zone may add to a client's usage.

A quota set at a zone holds for everything that enters there (a request not
sent on by a parent): the client's usage in this zone's subtree, as the client
index counts it, plus the new instance must stay within each limit. A quota
at a root so holds for the client's whole tree through that root.

Creates of a client with a quota here take turns zone-wide (`quota_turn`, on
the zone's claims: every worker, the forwarded calls included), and the check
is made in the create's first transaction, under the client's index lock; the
create's own write at this zone (its row, or its mapping with the child's
news) is made before the turn ends, so the next check counts it: concurrent
creates at the limit cannot overshoot it here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from zones.errors import QuotaExceeded
from zones.node.database import AsyncSession
from zones.router.index.answers import Here, read_index
from zones.router.index.usage import Usage


@dataclass(frozen=True)
class Quota:
    """One client's limits at this zone; None: no limit."""

    client: str
    instances: int | None = None
    resources: Mapping[str, float] = field(default_factory=dict)

    def limit_document(self) -> dict[str, Any]:
        return {"instances": self.instances, "resources": dict(sorted(self.resources.items()))}


def overshoot(quota: Quota, usage: Usage, adding: Usage) -> str | None:
    """The first limit `adding` would take `usage` past, as "instances 3, in use 3"; None
    when every limit holds."""
    if quota.instances is not None and adding.instances:
        if usage.instances + adding.instances > quota.instances:
            return f"instances {quota.instances}, in use {usage.instances}"
    for key, limit in sorted(quota.resources.items()):
        amount = adding.resources.get(key, 0.0)
        used = usage.resources.get(key, 0.0)
        if amount and used + amount > limit + 1e-9:
            return f"{key} {number(limit)}, in use {number(used)}, asked {number(amount)}"
    return None


def number(amount: float) -> str:
    return str(int(amount)) if float(amount).is_integer() else str(amount)


async def usage_here(session: AsyncSession, client: str, here: Here) -> Usage:
    """The client's usage in this zone's subtree, from the index alone (one statement)."""
    read = await read_index(session, client, here, whole=True)
    return read.usage or Usage()


async def check_quota(session: AsyncSession, quota: Quota, here: Here, adding: Usage) -> None:
    """Refuse (QuotaExceeded) what would pass a limit. The caller holds the client's turn
    (`quota_turn`), so no other create of the client here runs meanwhile, and writes its
    delta before the turn ends. The client's index row is not locked here: the write that
    follows takes the host before the client, as every create and delete does, so a
    delete of the client's instance on the same host cannot deadlock with it; what may
    change meanwhile (a delete, a child's report) only makes this read count more."""
    usage = await usage_here(session, quota.client, here)
    broken = overshoot(quota, usage, adding)
    if broken is not None:
        raise QuotaExceeded(
            f"quota of client {quota.client} at zone {here.name}: {broken}",
            limit=quota.limit_document(),
            usage=usage.document(),
        )


class Turns(Protocol):
    def one_at_a_time(self, key: str) -> Any: ...


@asynccontextmanager
async def quota_turn(turns: Turns, quota: Quota | None) -> AsyncIterator[None]:
    """The client's turn zone-wide while a create it has a quota for is checked and made
    here; nothing to wait for without a quota."""
    if quota is None:
        yield
        return
    async with turns.one_at_a_time(f"quota {quota.client}"):
        yield
