"""Request and answer models of the auth endpoints: users and keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from zones.node.fields import AccountName, Password
from zones.node.http.schemas import RequestModel, ResponseModel

RoleName = Literal["admin", "member", "service", "host"]


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
