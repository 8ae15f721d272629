"""The typed key of the poller that follows this zone's children."""

from __future__ import annotations

from aiohttp import web

from zones.router.following.poller import ChildPoller

POLLER = web.AppKey("poller", ChildPoller)
