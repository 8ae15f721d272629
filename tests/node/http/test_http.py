"""HTTP conventions every endpoint shares: health, request ids, problem+json, body limits."""

from __future__ import annotations

import os

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api, RunningZone, eventually


async def test_healthz_answers_ok_to_anyone(http: aiohttp.ClientSession, zone: RunningZone) -> None:
    async def answered() -> bool:
        # On PostgreSQL the zone follows its children once it holds the zone's leadership,
        # a moment after it starts.
        answer = await Api(http, zone.url).call("GET", "/healthz")
        worker = {"pid": os.getpid(), "follows_children": True}  # the test's process serves it
        return (answer.status, answer.body) == (200, {"status": "ok", "worker": worker})

    await eventually(answered, timeout=5.0)


async def test_request_id_is_echoed(admin: Api) -> None:
    answer = await admin.call("GET", "/zones", headers={"X-Request-Id": "trace-42"})
    assert answer.headers["X-Request-Id"] == "trace-42"


async def test_request_id_is_made_up_when_absent_or_insane(admin: Api) -> None:
    first = await admin.call("GET", "/healthz")
    second = await admin.call("GET", "/healthz", headers={"X-Request-Id": "bad id\twith junk"})
    made = {first.headers["X-Request-Id"], second.headers["X-Request-Id"]}
    assert len(made) == 2 and all(len(value) == 32 for value in made)


async def test_errors_also_carry_the_request_id(admin: Api) -> None:
    answer = await admin.call("GET", "/zones/999", headers={"X-Request-Id": "r-1"})
    assert answer.status == 404
    assert answer.headers["X-Request-Id"] == "r-1"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/thing", 404),
        ("PATCH", "/zones", 405),
        ("DELETE", "/healthz", 405),
    ],
)
async def test_routing_errors_are_problems(admin: Api, method: str, path: str, status: int) -> None:
    answer = await admin.call(method, path)
    assert answer.status == status
    assert answer.problem["status"] == status
    assert path in answer.problem["detail"]


async def test_oversized_body_is_413_and_stores_nothing(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    zone = await zones("small", zone={"max_body_bytes": 4096})
    admin = await Api(http, zone.url).as_user()
    padding = "x" * 5000
    answer = await admin.call(
        "POST",
        "/users",
        json_body={"user": {"name": "big", "password": padding, "client": "acme"}},
    )
    assert answer.status == 413
    assert "4096" in answer.problem["detail"]
    listed = await admin.call("GET", "/users")
    assert [user["name"] for user in listed.body["users"]] == ["admin"]


async def test_default_body_limit_is_one_mebibyte(admin: Api) -> None:
    body = '{"user": {"name": "x", "password": "' + "p" * (1024 * 1024) + '"}}'
    answer = await admin.call("POST", "/users", data=body)
    assert answer.status == 413
    assert "1048576" in answer.problem["detail"]
