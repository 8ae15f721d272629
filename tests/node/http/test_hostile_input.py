"""Input built to break parsers or databases gets a 4xx naming the field, on every backend."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.harness import Api, RunningZone

DEEP = "[" * 100_000


async def test_deeply_nested_json_is_400_even_before_login(
    http: aiohttp.ClientSession, zone: RunningZone
) -> None:
    answer = await Api(http, zone.url).call("POST", "/auth/tokens", data=DEEP)
    assert answer.status == 400
    assert answer.problem["detail"] == "body: JSON nested too deeply"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/auth/tokens", {"username": "a\u0000b", "password": "x"}, "username"),
        (
            "POST",
            "/zones",
            {"zone": {"api_url": "http://127.0.0.1:9", "username": "u\u0000", "password": "p"}},
            "zone.username",
        ),
        (
            "PUT",
            "/hosts/h1",
            {"host": {"capabilities": {"os": "linux\u0000"}, "inventory": {}}},
            "host.capabilities",
        ),
        (
            "POST",
            "/users",
            {"user": {"name": "x\u0000", "password": "p", "client": "c"}},
            "user.name",
        ),
    ],
)
async def test_nul_characters_are_400_not_a_database_error(
    admin: Api, method: str, path: str, body: dict[str, object], field: str
) -> None:
    answer = await admin.call(method, path, json_body=body)
    assert answer.status == 400, answer
    assert answer.problem["detail"].startswith(f"{field}:"), answer.problem
    assert (await admin.call("GET", "/zones")).body["zones"] == []
    assert (await admin.call("GET", "/hosts")).body["hosts"] == []


@pytest.mark.parametrize("query", ["os=%00", "os=linux%00", "ram_mb.free.max=ge:1%00"])
async def test_nul_characters_in_filters_are_400(admin: Api, query: str) -> None:
    answer = await admin.call("GET", f"/zones?{query}")
    assert answer.status == 400
    assert "control characters" in answer.problem["detail"]


@pytest.mark.parametrize(
    "capabilities",
    [{"os": "\ud800"}, {"os": "linux\udfff"}],
    ids=["lone high surrogate", "trailing low surrogate"],
)
async def test_a_capability_no_database_can_hold_is_400_and_stores_nothing(
    admin: Api, capabilities: dict[str, str]
) -> None:
    """Regression: JSON's escapes spell lone surrogates, which passed every check and then
    failed in the database driver: a 500, and the host not stored."""
    raw = json.dumps({"host": {"capabilities": capabilities, "inventory": {"ram_mb": 64}}})
    answer = await admin.call(
        "PUT", "/hosts/h1", data=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400, answer
    assert "host.capabilities" in answer.problem["detail"], answer.problem
    assert "not valid Unicode" in answer.problem["detail"], answer.problem
    assert (await admin.call("GET", "/hosts")).body["hosts"] == []
