"""The typed keys of the poller that follows this zone's children and of the info it shows them."""

from __future__ import annotations

from aiohttp import web

from zones.router.following.info import ZoneInfoKeeper
from zones.router.following.poller import ChildPoller

POLLER = web.AppKey("poller", ChildPoller)
ZONE_INFO = web.AppKey("zone_info", ZoneInfoKeeper)
