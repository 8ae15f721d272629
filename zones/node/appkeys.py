"""The typed keys under which the app keeps its resources, all in one place."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from zones.auth.keys import SecretBox, SigningKey
from zones.auth.tokens import TokenIssuer, TokenVerifier
from zones.node.config import Settings
from zones.node.database import Sessions
from zones.router.child_tokens import ChildTokens
from zones.router.client import ChildClient
from zones.router.forwarding import Forwarder
from zones.router.poller import ChildPoller
from zones.router.routing_cache import RoutingCache

SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", Sessions)
ZONE_UUID = web.AppKey("zone_uuid", str)
SIGNING_KEY = web.AppKey("signing_key", SigningKey)
SECRET_BOX = web.AppKey("secret_box", SecretBox)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
TOKEN_ISSUER = web.AppKey("token_issuer", TokenIssuer)
TOKEN_VERIFIER = web.AppKey("token_verifier", TokenVerifier)
CHILD_CLIENT = web.AppKey("child_client", ChildClient)
CHILD_TOKENS = web.AppKey("child_tokens", ChildTokens)
POLLER = web.AppKey("poller", ChildPoller)
FORWARDER = web.AppKey("forwarder", Forwarder)
ROUTING_CACHE = web.AppKey("routing_cache", RoutingCache)
OPENAPI = web.AppKey[dict[str, Any]]("openapi")
