"""Request and answer models of `/hosts`: heartbeats in, live hosts out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from zones.capabilities.reserved import MAX_RESERVED, parse_reserved
from zones.capabilities.values import (
    KEY_PATTERN,
    MAX_CAPABILITIES,
    CapabilityValue,
    check_key,
    parse_capabilities,
)
from zones.node.http.schemas import RequestModel, ResponseModel

HOST_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$"
HostName = Annotated[str, StringConstraints(pattern=HOST_NAME_PATTERN)]
Amount = Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)]
CapabilityKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN.pattern)]


class Heartbeat(RequestModel):
    """What a host says of itself; it stays live for `ttl` seconds."""

    capabilities: dict[str, CapabilityValue] = Field(default_factory=dict)
    inventory: dict[str, Amount] = Field(default_factory=dict)
    ttl: Annotated[float, Field(gt=0, le=86400, allow_inf_nan=False)] = 30.0
    reserved: list[CapabilityKey] = Field(
        default_factory=list,
        max_length=MAX_RESERVED,
        description="capability keys of this host it keeps itself for: only instances whose "
        "requirements name every one of them are placed on it",
    )

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

    @field_validator("reserved", mode="after")
    @classmethod
    def _reserved_among_capabilities(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # A key the host lacks would keep it from everything: no requirement can meet it there.
        capabilities = info.data.get("capabilities")
        if capabilities is None:
            return value  # refused already, for its own reason
        missing = sorted(set(value) - set(capabilities))
        if missing:
            raise ValueError(f"{', '.join(missing)}: not among this host's capabilities")
        return list(parse_reserved(value))


class HeartbeatEnvelope(RequestModel):
    host: Heartbeat


class Host(ResponseModel):
    name: str
    capabilities: dict[str, CapabilityValue]
    inventory: dict[str, float]
    allocations: dict[str, float]
    free: dict[str, float]
    reserved: list[str] = Field(description="the capability keys this host keeps itself for")
    expires_at: datetime


class HostEnvelope(ResponseModel):
    host: Host


class Hosts(ResponseModel):
    hosts: list[Host]
