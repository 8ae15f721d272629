"""Request and answer models of `/hosts`: heartbeats in, live hosts out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from zones.capabilities.values import (
    MAX_CAPABILITIES,
    CapabilityValue,
    check_key,
    parse_capabilities,
)
from zones.node.http.schemas import RequestModel, ResponseModel

HOST_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$"
HostName = Annotated[str, StringConstraints(pattern=HOST_NAME_PATTERN)]
Amount = Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)]


class Heartbeat(RequestModel):
    """What a host says of itself; it stays live for `ttl` seconds."""

    capabilities: dict[str, CapabilityValue] = Field(default_factory=dict)
    inventory: dict[str, Amount] = Field(default_factory=dict)
    ttl: Annotated[float, Field(gt=0, le=86400, allow_inf_nan=False)] = 30.0

    @field_validator("capabilities", mode="before")
    @classmethod
    def _typed_capabilities(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # pydantic names the wrong type
        return parse_capabilities(value)

    @field_validator("inventory", mode="before")
    @classmethod
    def _inventory_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) > MAX_CAPABILITIES:
                raise ValueError(f"at most {MAX_CAPABILITIES} resources are allowed")
            for key in value:
                check_key(key)
        return value


class HeartbeatEnvelope(RequestModel):
    host: Heartbeat


class Host(ResponseModel):
    name: str
    capabilities: dict[str, CapabilityValue]
    inventory: dict[str, float]
    allocations: dict[str, float]
    free: dict[str, float]
    expires_at: datetime


class HostEnvelope(ResponseModel):
    host: Host


class Hosts(ResponseModel):
    hosts: list[Host]
