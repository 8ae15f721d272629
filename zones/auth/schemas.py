"""Request and answer models of the auth endpoints: users, keys and revocations."""

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


class RevokeRequest(RequestModel):
    """`{}` (or a null `user`): every token of the caller; `{"user": NAME}`: that user's."""

    user: AccountName | None = None


class Revocation(ResponseModel):
    subject: str = Field(
        description='hex SHA-256 of the token\'s `iss + "\\n" + sub`', pattern="^[0-9a-f]{64}$"
    )
    not_before: datetime = Field(description="tokens of the subject issued before are revoked")


class Revocations(ResponseModel):
    revocations: list[Revocation]
    as_of: datetime = Field(
        description="ask `after` this next time (a little before this zone's clock when it "
        "answered, so that nothing committing meanwhile is missed)"
    )
