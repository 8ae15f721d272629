"""Request and answer models of the auth endpoints: tokens, users and keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from zones.node.fields import AccountName, Password, PlainText255
from zones.node.schemas import RequestModel, ResponseModel

RoleName = Literal["admin", "member", "service", "host"]


class TokenRequest(RequestModel):
    username: PlainText255
    password: Password


class TokenUser(ResponseModel):
    name: str
    client: str
    roles: list[str]


class Endpoint(ResponseModel):
    name: str
    url: str


class LookupAnswer(ResponseModel):
    """The lowest zone that manages a client, and the way to it from the zone asked."""

    client: str
    zone: Endpoint
    path: list[str]


class LookupChange(ResponseModel):
    """One client's answer at the zone asked, after its index changed (`zone` null: none)."""

    client: str
    revision: int
    zone: Endpoint | None
    path: list[str]
    changed_at: datetime


class LookupChanges(ResponseModel):
    changes: list[LookupChange]
    as_of: datetime = Field(description="this zone's clock when it answered")


class TokenAnswer(ResponseModel):
    token: str
    expires_at: datetime
    user: TokenUser
    endpoint: Endpoint


class UserCreate(RequestModel):
    name: AccountName
    password: Password
    client: AccountName
    roles: list[RoleName] = Field(default=["member"], min_length=1, max_length=4)

    @field_validator("roles")
    @classmethod
    def _roles_unique(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise ValueError("each role may appear once")
        return sorted(roles)


class UserCreateEnvelope(RequestModel):
    user: UserCreate


class User(ResponseModel):
    name: str
    client: str
    roles: list[str]
    created_at: datetime


class UserEnvelope(ResponseModel):
    user: User


class Users(ResponseModel):
    users: list[User]


class Jwks(ResponseModel):
    keys: list[dict[str, Any]]
