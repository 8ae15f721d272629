"""The typed keys under which the app keeps the node's own resources.

Each feature package keeps the keys of the resources it owns in its own
`appkeys` module (zones.auth.appkeys, zones.router.children.appkeys, ...), so
that no lower layer needs to import a higher one to find its resources.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from zones.node.config import Settings
from zones.node.database import Sessions
from zones.node.workers.claims import Claims
from zones.node.workers.leader import Leadership

SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", Sessions)
ZONE_UUID = web.AppKey("zone_uuid", str)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
OPENAPI = web.AppKey[dict[str, Any]]("openapi")
CLAIMS = web.AppKey("claims", Claims)
# Present on PostgreSQL only: whether this worker is the one following the children.
LEADERSHIP = web.AppKey("leadership", Leadership)
