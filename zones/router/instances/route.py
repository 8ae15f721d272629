"""One request's way through this zone: who asks, where it has been, and what it may call."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from zones.auth.appkeys import TOKEN_VERIFIER
from zones.capabilities.hosts.appkeys import HOST_BOARD
from zones.capabilities.hosts.board import HostBoard
from zones.errors import BadRequest, ChildTimeout
from zones.node.appkeys import SESSIONS, SETTINGS, ZONE_UUID
from zones.node.config import Settings
from zones.node.database import AsyncSession, Sessions
from zones.node.http.endpoints import Call
from zones.router.children.appkeys import FORWARDER
from zones.router.children.forwarding import (
    Forwarder,
    check_service_token,
    from_a_parent,
    visited_path,
    zone_budget,
)
from zones.router.children.http import BUDGET_HEADER
from zones.router.children.models import ChildZone
from zones.router.index.answers import Here, News, news_for
from zones.router.instances.appkeys import ROUTING_CACHE
from zones.router.instances.cache import RoutingCache


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
    hosts: HostBoard
    # This zone's client index answer after this request's last write, for its parent.
    told: dict[str, News] = field(default_factory=dict)
    # When the caller stops waiting (monotonic): a parent's budget, or this zone's
    # child_timeout from when the request came in.
    deadline: float = float("inf")
    # The zones below that this request could not ask, named where the asking failed.
    unreachable: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.settings.zone.name

    async def tell_parent(self, session: AsyncSession, client: str) -> None:
        """Read the answer to send up inside the write's own transaction (no second one)."""
        if from_a_parent(self.request):
            here = Here(self.name, self.settings.url)
            self.told[client] = await news_for(session, client, here)

    async def send(self, child: ChildZone, method: str, path: str, **options: Any) -> Any:
        answer = await self.forwarder.send(
            child,
            method,
            path,
            request=self.request,
            request_id=self.request_id,
            visited=self.visited,
            wait=self.wait_for_child,
            **options,
        )
        self.unreachable.update(answer.unreachable)
        self.cache.learn_summary(child.id, answer.summary)
        return answer

    def wait_for_child(self) -> float:
        """How long to wait for a child now: at most child_timeout, and less than what is
        left of the caller's budget, by a margin to answer in (so that of all the zones on
        the way, the one nearest a failure gives up first)."""
        left = self.deadline - time.monotonic()
        wait = min(self.settings.router.child_timeout, left - max(0.05, 0.1 * left))
        if wait <= 0.001:
            raise ChildTimeout(
                f"{self.name}: no time left to ask a zone below (the caller's budget ran out)"
            )
        return wait


def route_of(call: Call[Any]) -> Route:
    """This request's way through the tree; 508 when it has been here before."""
    return Route(
        request=call.request,
        request_id=call.request_id,
        visited=visited_path(call.request, call.app[ZONE_UUID]),
        settings=call.app[SETTINGS],
        sessions=call.app[SESSIONS],
        forwarder=call.app[FORWARDER],
        cache=call.app[ROUTING_CACHE],
        hosts=call.app[HOST_BOARD],
    )


async def checked_route(call: Call[Any]) -> Route:
    """This request's way, once a service token it carries (a parent's) has been verified."""
    route = route_of(call)
    await check_service_token(call.request, call.app[TOKEN_VERIFIER])
    budget = route.settings.router.child_timeout
    given = zone_budget(call.request)
    if given is not None:
        budget = min(budget, budget_of(given))
    return replace(route, deadline=time.monotonic() + budget)


MAX_BUDGET_MS = 86_400_000


def budget_of(header: str) -> float:
    """A parent's X-Zones-Budget-Ms, in seconds; 400 naming the header when malformed."""
    raw = header.strip()
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not 0 < int(raw) <= MAX_BUDGET_MS:
        raise BadRequest(
            f"{BUDGET_HEADER}: must be a whole number of milliseconds from 1 to {MAX_BUDGET_MS}"
        )
    return int(raw) / 1000
