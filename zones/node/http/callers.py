"""Who calls: the caller's identity, the roles endpoints ask for, and the one check between them.

The plumbing only knows that a request may carry an identity; how one is
proven is the auth layer's business. It provides an `Authenticator` (the
token verifier) under `AUTHENTICATOR`, and every declared endpoint asks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from aiohttp import web

from zones.errors import Forbidden, Unauthorized


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    SERVICE = "service"
    HOST = "host"


@dataclass(frozen=True)
class Identity:
    """Who is calling: a user of some zone, as its verified token says."""

    username: str
    client: str
    roles: frozenset[str]
    issuer: str


def require_roles(identity: Identity | None, allowed: Iterable[Role]) -> Identity:
    """The identity when it holds one of `allowed`; 401 without one, 403 with wrong roles."""
    if identity is None:
        raise Unauthorized("credentials required: send Authorization: Bearer <token>")
    allowed_names = {role.value for role in allowed}
    if identity.roles.isdisjoint(allowed_names):
        raise Forbidden(
            f"user {identity.username!r} has roles {sorted(identity.roles)}; "
            f"this needs one of {sorted(allowed_names)}"
        )
    return identity


class Authenticator(Protocol):
    """Tells who a request's credentials say is calling."""

    async def identify(self, headers: Mapping[str, str]) -> Identity | None:
        """None when the request carries no credentials; raises Unauthorized for bad ones."""


AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
