"""Request and answer models of logging in and of the lookup: tokens, endpoints, answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from zones.node.fields import Password, PlainText255
from zones.node.http.schemas import RequestModel, ResponseModel
from zones.router.quotas.schemas import UsageView


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
    usage: UsageView | None = Field(
        default=None, description="the client's usage in this zone's subtree (for quotas)"
    )


class LookupChanges(ResponseModel):
    changes: list[LookupChange]
    as_of: datetime = Field(description="this zone's clock when it answered")


class TokenAnswer(ResponseModel):
    token: str
    expires_at: datetime
    user: TokenUser
    endpoint: Endpoint
