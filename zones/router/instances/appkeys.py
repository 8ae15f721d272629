"""The typed key of the routing cache: children and mappings kept in memory."""

from __future__ import annotations

from aiohttp import web

from zones.router.instances.cache import RoutingCache

ROUTING_CACHE = web.AppKey("routing_cache", RoutingCache)
