"""Roles and the one check that decides whether an identity may do something."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

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
