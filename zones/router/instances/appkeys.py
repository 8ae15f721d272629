"""The typed keys of the routing cache (children and mappings kept in memory), and of what
tells a parent this zone's info after a write (built by zones.router.following.info)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from zones.router.instances.cache import RoutingCache

ROUTING_CACHE = web.AppKey("routing_cache", RoutingCache)
WRITE_SUMMARY = web.AppKey[Callable[[], Awaitable[str | None]]]("write_summary")
