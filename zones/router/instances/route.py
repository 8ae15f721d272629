"""One request's way through this zone: who asks, where it has been, and what it may call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from zones.auth.appkeys import TOKEN_VERIFIER
from zones.capabilities.hosts.appkeys import HOST_BOARD
from zones.capabilities.hosts.board import HostBoard
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
)
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

    @property
    def name(self) -> str:
        return self.settings.zone.name

    async def tell_parent(self, session: AsyncSession, client: str) -> None:
        """Read the answer to send up inside the write's own transaction (no second one)."""
        if from_a_parent(self.request):
            here = Here(self.name, self.settings.url)
            self.told[client] = await news_for(session, client, here)

    async def send(self, child: ChildZone, method: str, path: str, **options: Any) -> Any:
        return await self.forwarder.send(
            child,
            method,
            path,
            request=self.request,
            request_id=self.request_id,
            visited=self.visited,
            **options,
        )


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
    return route
