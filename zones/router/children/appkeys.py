"""The typed keys of what reaches children: their HTTP client, their tokens, the forwarder."""

from __future__ import annotations

from aiohttp import web

from zones.router.children.forwarding import Forwarder
from zones.router.children.http import ChildClient
from zones.router.children.tokens import ChildTokens

CHILD_CLIENT = web.AppKey("child_client", ChildClient)
CHILD_TOKENS = web.AppKey("child_tokens", ChildTokens)
FORWARDER = web.AppKey("forwarder", Forwarder)
