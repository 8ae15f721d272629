"""Request and answer models of `/quotas/{client}`, and usage as answers show it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from zones.capabilities.values import KEY_PATTERN
from zones.node.http.schemas import RequestModel, ResponseModel

ResourceName = Annotated[str, StringConstraints(pattern=KEY_PATTERN.pattern)]
Limit = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class QuotaLimits(RequestModel):
    """The limits to set; a limit left out (or null) is no limit."""

    instances: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    resources: dict[ResourceName, Limit] = Field(default_factory=dict, max_length=64)


class QuotaSetEnvelope(RequestModel):
    quota: QuotaLimits


class UsageView(ResponseModel):
    """A client's instances and the sums of their resources (those placed) in a subtree."""

    instances: int
    resources: dict[str, float]


class QuotaView(ResponseModel):
    """A client's limits at this zone (null: no limit), and its usage in this subtree."""

    client: str
    instances: int | None
    resources: dict[str, float]
    usage: UsageView


class QuotaEnvelope(ResponseModel):
    quota: QuotaView
