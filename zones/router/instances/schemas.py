"""Request and answer models of `/instances`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from zones.node.fields import PlainText255, ZoneName, ZoneUuid
from zones.node.http.schemas import RequestModel, ResponseModel

InstanceStatus = Literal["ACTIVE", "ERROR", "UNKNOWN", "DELETED"]


class InstanceCreate(RequestModel):
    """What to run and where it may run; `id` makes a retry safe (same id, same body)."""

    name: PlainText255
    requirements: dict[str, Any] = Field(default_factory=dict)
    resources: dict[str, Any] = Field(default_factory=dict)
    id: ZoneUuid | None = None


class InstanceCreateEnvelope(RequestModel):
    instance: InstanceCreate


class MoveRequest(RequestModel):
    """Place the instance again: on new requirements (or its old ones), inside `zone` (admins)."""

    requirements: dict[str, Any] | None = None
    zone: ZoneName | None = None


class MoveEnvelope(RequestModel):
    move: MoveRequest


class Fault(ResponseModel):
    message: str


class Instance(ResponseModel):
    id: str
    name: str
    client: str
    status: InstanceStatus
    zone: str
    host: str | None
    path: list[str]
    requirements: dict[str, Any]
    resources: dict[str, float]
    created_at: datetime
    fault: Fault | None = None


class InstanceEnvelope(ResponseModel):
    instance: Instance


class Instances(ResponseModel):
    instances: list[Instance]
    next_marker: str | None
    unreachable_zones: list[str]
