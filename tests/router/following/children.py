"""Real child zones for the `/zones` tests, and what those tests assert about records."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Answer, Api, RunningZone

SERVICE_USER = "svc-parent"
SERVICE_PASSWORD = "svc-parent-pw"
ZONE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ZONE_FIELDS = {
    "id",
    "name",
    "uuid",
    "api_url",
    "username",
    "enabled",
    "weight_offset",
    "state",
    "last_seen",
    "last_error",
}
STABLE_FIELDS = ("id", "name", "uuid", "api_url", "username", "enabled", "weight_offset")


@dataclass
class Child:
    """A running child zone, its admin's client, and the account its parent logs in with."""

    zone: RunningZone
    admin: Api
    username: str
    password: str

    @property
    def url(self) -> str:
        return self.zone.url

    async def info(self) -> dict[str, Any]:
        answer = await self.admin.call("GET", "/zones/info")
        assert answer.status == 200, answer
        info: dict[str, Any] = answer.body["zone"]
        return info

    async def add_user(self, name: str, password: str, roles: list[str]) -> None:
        user = {"name": name, "password": password, "client": "ops", "roles": roles}
        answer = await self.admin.call("POST", "/users", json_body={"user": user})
        assert answer.status == 201, answer


async def start_child(
    zones: ZoneStarter,
    http: aiohttp.ClientSession,
    name: str = "child-a",
    *,
    capabilities: dict[str, Any] | None = None,
    password: str = SERVICE_PASSWORD,
    roles: tuple[str, ...] = ("service",),
) -> Child:
    """A real child zone with an account `svc-parent` holding `roles`."""
    zone = await zones(name, zone={"capabilities": capabilities or {}})
    child = Child(zone, await Api(http, zone.url).as_user(), SERVICE_USER, password)
    await child.add_user(SERVICE_USER, password, list(roles))
    return child


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def registration(child: Child, **extra: Any) -> dict[str, Any]:
    return {
        "zone": {
            "api_url": child.url,
            "username": child.username,
            "password": child.password,
            **extra,
        }
    }


async def zone_add(admin: Api, body: dict[str, Any]) -> Answer:
    return await admin.call("POST", "/zones", json_body=body)


async def add_down_child(admin: Api, **extra: Any) -> dict[str, Any]:
    body = {"zone": {"api_url": closed_port_url(), "username": "svc", "password": "pw", **extra}}
    answer = await zone_add(admin, body)
    assert answer.status == 201, answer
    zone: dict[str, Any] = answer.body["zone"]
    return zone


def stable(zone: dict[str, Any]) -> dict[str, Any]:
    """What the operator set or zone-add learnt; the poller may change the rest at any time."""
    return {key: zone[key] for key in STABLE_FIELDS}


async def listed(admin: Api) -> list[dict[str, Any]]:
    """The children `GET /zones` lists, as their stable fields."""
    answer = await admin.call("GET", "/zones")
    assert answer.status == 200, answer
    return [stable(zone) for zone in answer.body["zones"]]


def keys_anywhere(value: Any) -> set[str]:
    """Every object key at any depth of a decoded JSON value."""
    if isinstance(value, dict):
        return set(value).union(*(keys_anywhere(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_anywhere(item) for item in value))
    return set()


def assert_recent_utc(text: str) -> None:
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0), text
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=1), text


def outcome(answer: Answer) -> tuple[int, str]:
    """The status and the field a problem's detail names first ("" for a success)."""
    if answer.status < 400:
        return answer.status, ""
    return answer.status, answer.problem["detail"].split(":", 1)[0]
