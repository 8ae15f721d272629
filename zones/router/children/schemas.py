"""Request and answer models of `/zones`: children as registered, and a zone as parents see it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from zones.capabilities.values import KEY_PATTERN
from zones.node.fields import HttpUrl, Password, PlainText255, ZoneName, ZoneUuid
from zones.node.http.schemas import PatchModel, RequestModel, ResponseModel
from zones.router.children.models import ZoneState

ChildUsername = PlainText255
CapabilityKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN.pattern)]
WeightOffset = Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]


class ZoneCreate(RequestModel):
    """zone-add: where the child is and how to log in to it."""

    api_url: HttpUrl
    username: ChildUsername
    password: Password
    name: ZoneName | None = None
    enabled: bool = True
    weight_offset: WeightOffset = 0.0


class ZoneCreateEnvelope(RequestModel):
    zone: ZoneCreate


class ZoneUpdate(PatchModel):
    api_url: HttpUrl | None = None
    username: ChildUsername | None = None
    password: Password | None = None
    name: ZoneName | None = None
    enabled: bool | None = None
    weight_offset: WeightOffset | None = None


class ZoneUpdateEnvelope(RequestModel):
    zone: ZoneUpdate


class Zone(ResponseModel):
    """A child as registered here; the password is write-only and never shown."""

    id: int
    name: str
    uuid: str | None
    api_url: str
    username: str
    enabled: bool
    weight_offset: float
    state: ZoneState
    last_seen: datetime | None
    last_error: str | None
    failures: int = Field(description="failed polls in a row")
    poll_latency_ms: float | None = Field(description="how long the last poll took")
    last_polled_at: datetime | None


class ZoneEnvelope(ResponseModel):
    zone: Zone


class Zones(ResponseModel):
    zones: list[Zone]


class ChildSummary(ResponseModel):
    name: ZoneName
    state: ZoneState
    uuid: ZoneUuid | None = None


class Unavailable(ResponseModel):
    """Capabilities and free inventory of zones that are down, aggregated as in ZoneInfo."""

    capabilities: dict[str, dict[str, Any]] = Field(default_factory=dict)
    free: dict[str, dict[str, float]] = Field(default_factory=dict)


class OpenRoom(ResponseModel):
    """The part of a zone's room that no reserved key keeps, aggregated as in ZoneInfo."""

    capabilities: dict[str, dict[str, Any]] = Field(default_factory=dict)
    free: dict[str, dict[str, float]] = Field(default_factory=dict)
    hosts: int = Field(default=0, ge=0)


class ZoneInfo(ResponseModel):
    """A zone as its parents see it (`GET /zones/info`)."""

    uuid: ZoneUuid
    name: ZoneName
    url: HttpUrl
    capabilities: dict[str, dict[str, Any]]
    free: dict[str, dict[str, float]]
    hosts: int = Field(ge=0)
    instances: int = Field(ge=0)
    children: list[ChildSummary]
    generation: int
    descendants: list[ZoneUuid] = Field(
        default_factory=list,
        description="uuids of every zone below this one, as last polled (for loop checks)",
    )
    clients_changed_at: datetime | None = Field(
        default=None,
        description="when this zone's client index last changed (parents then fetch "
        "/auth/lookup/changes)",
    )
    descendant_names: list[ZoneName] = Field(
        default_factory=list,
        description="names of every zone below this one, as last polled (for moves to a zone)",
    )
    unavailable: Unavailable = Field(
        default_factory=lambda: Unavailable(),
        description="what the subtree's offline zones last reported, kept apart from "
        "capabilities and free: a parent tells 'nothing fits' from 'what fits is down'",
    )
    open: OpenRoom | None = Field(
        default=None,
        description="the room (of capabilities, free and hosts) that no reserved key keeps: "
        "where a create naming none of `reserved` may go (null when nothing is reserved below, "
        "or from a zone that predates reserving: all of the room is open)",
    )
    reserved: list[CapabilityKey] = Field(
        default_factory=list,
        description="every capability key reserved in this zone's subtree (by the zone or a "
        "host): only creates that name them may use the room outside `open`",
    )


class ZoneInfoEnvelope(ResponseModel):
    zone: ZoneInfo


class ZoneDetail(Zone):
    """A child with what was last learnt from it (`GET /zones/{id}/detail`).

    Before the child has ever answered, the learnt fields are empty and
    `generation` is null.
    """

    capabilities: dict[str, dict[str, Any]] = Field(default_factory=dict)
    free: dict[str, dict[str, float]] = Field(default_factory=dict)
    hosts: int = 0
    instances: int = 0
    children: list[ChildSummary] = Field(default_factory=list)
    generation: int | None = None


class ZoneDetailEnvelope(ResponseModel):
    zone: ZoneDetail


class TreeZone(ResponseModel):
    """One zone of `GET /zones/tree`, with its subtree's figures and its children, nested.

    The figures are null for a zone never heard from (a grandchild known only by name from
    the last report of a child that is down now)."""

    name: str
    url: str | None = None
    uuid: str | None = None
    state: ZoneState
    hosts: int | None = Field(default=None, ge=0, description="live hosts in the subtree")
    instances: int | None = Field(default=None, ge=0, description="instances in the subtree")
    free: dict[str, dict[str, float]] | None = None
    capabilities: dict[str, dict[str, Any]] | None = None
    open: OpenRoom | None = Field(
        default=None,
        description="the subtree's room that no reserved key keeps, as in /zones/info "
        "(null: all of it is open, or not known)",
    )
    reserved: list[str] = Field(
        default_factory=list, description="every capability key reserved in the subtree"
    )
    last_seen: datetime | None = Field(
        default=None, description="when this zone's parent last heard from it (null at the top)"
    )
    children: list[TreeZone] = Field(default_factory=list)


class TreeEnvelope(ResponseModel):
    zone: TreeZone
