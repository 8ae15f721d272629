"""Who may manage children, `/zones/info` as parents see it, and the child's password at rest."""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.following.children import (
    add_down_child,
    closed_port_url,
    listed,
    registration,
    stable,
    start_child,
    zone_add,
)

# ---------------------------------------------------------------- roles


ENDPOINTS = [
    ("GET", "/zones/info"),
    ("GET", "/zones"),
    ("POST", "/zones"),
    ("GET", "/zones/{id}"),
    ("GET", "/zones/{id}/detail"),
    ("PUT", "/zones/{id}"),
    ("DELETE", "/zones/{id}"),
]
FORBIDDEN_EVERYWHERE = dict.fromkeys((f"{method} {path}" for method, path in ENDPOINTS), 403)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("member", FORBIDDEN_EVERYWHERE),
        ("host", FORBIDDEN_EVERYWHERE),
        ("service", {**FORBIDDEN_EVERYWHERE, "GET /zones/info": 200}),
        (None, dict.fromkeys(FORBIDDEN_EVERYWHERE, 401)),
        ("forged", dict.fromkeys(FORBIDDEN_EVERYWHERE, 401)),
    ],
    ids=["member", "host", "service", "no token", "bad token"],
)
async def test_only_admins_manage_children(
    lone_admin: Api, role: str | None, expected: dict[str, int]
) -> None:
    existing = await add_down_child(lone_admin, name="existing")
    token = ""
    if role == "forged":
        token = "not.a.token"
    elif role is not None:
        name = f"a-{role}"
        user = {"name": name, "password": "pw-123", "client": "acme", "roles": [role]}
        assert (await lone_admin.call("POST", "/users", json_body={"user": user})).status == 201
        token = await lone_admin.login(name, "pw-123")
    bodies = {
        "POST": {"zone": {"api_url": closed_port_url(), "username": "u", "password": "p"}},
        "PUT": {"zone": {"name": "taken-over", "enabled": False}},
    }

    answers = {
        f"{method} {path}": await lone_admin.call(
            method,
            path.format(id=existing["id"]),
            json_body=bodies.get(method),
            token=token,
        )
        for method, path in ENDPOINTS
    }

    assert {what: answer.status for what, answer in answers.items()} == expected
    for answer in answers.values():
        if answer.status >= 400:
            assert answer.problem["status"] == answer.status
    assert await listed(lone_admin) == [stable(existing)]


# ---------------------------------------------------------------- GET /zones/info


async def test_zone_info_describes_this_zone(
    http: aiohttp.ClientSession, zones: ZoneStarter, database_url: str
) -> None:
    zone = await zones(
        "alpha",
        database_url,
        zone={"capabilities": {"region": "na", "tier": "gold", "gpus": 4, "windows": False}},
    )
    admin = await Api(http, zone.url).as_user()

    first = await admin.call("GET", "/zones/info")
    second = await admin.call("GET", "/zones/info")

    assert first.status == 200, first
    info = first.body["zone"]
    assert str(uuid.UUID(info["uuid"])) == info["uuid"]
    contract = ("name", "url", "capabilities", "free", "hosts", "instances", "children")
    assert {key: info[key] for key in contract} == {
        "name": "alpha",
        "url": zone.url,
        "capabilities": {
            "gpus": {"type": "float", "min": 4, "max": 4},
            "region": {"type": "string", "values": ["na"]},
            "tier": {"type": "string", "values": ["gold"]},
            "windows": {"type": "bool", "values": [False]},
        },
        "free": {},
        "hosts": 0,
        "instances": 0,
        "children": [],
    }
    assert isinstance(info["generation"], int) and not isinstance(info["generation"], bool)
    assert second.body == first.body


async def test_zone_info_generation_changes_with_the_answer(lone_admin: Api) -> None:
    before = (await lone_admin.call("GET", "/zones/info")).body["zone"]

    await add_down_child(lone_admin, name="later")
    after = (await lone_admin.call("GET", "/zones/info")).body["zone"]

    assert [(child["name"], child["state"]) for child in after["children"]] == [
        ("later", "unknown")
    ]
    assert after["generation"] != before["generation"]
    assert (after["uuid"], after["name"], after["url"]) == (
        before["uuid"],
        before["name"],
        before["url"],
    )


# ---------------------------------------------------------------- the password at rest


AT_REST_PASSWORDS = ("Pl41n-T3xt-Must-Not-Appear", "S3cond-Pl41n-T3xt-Hidden")


async def stored_text_containing(database_url: str, secret: str) -> list[str]:
    """What of the parent's database holds `secret` in plain text (file bytes or rows)."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite+aiosqlite:///"))
        files = [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-journal"))]
        return [
            str(file) for file in files if file.exists() and secret.encode() in file.read_bytes()
        ]
    connection = await asyncpg.connect(
        database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        stored = await connection.fetch("SELECT password_encrypted FROM child_zones")
        assert stored, "no child row to check"
        assert all(secret not in row["password_encrypted"] for row in stored)
        tables = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        found: list[str] = []
        for table in tables:
            name = table["table_name"]
            count = await connection.fetchval(
                f'SELECT count(*) FROM "{name}" AS t WHERE strpos(t::text, $1) > 0', secret
            )
            if count:
                found.append(name)
        return found
    finally:
        await connection.close()


async def test_the_child_password_is_not_stored_in_plain_text(
    admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession, database_url: str
) -> None:
    first, second = AT_REST_PASSWORDS
    child = await start_child(zones, http, password=first)
    await child.add_user("svc-second", second, ["service"])
    added = await zone_add(admin, registration(child))
    assert (added.status, added.body["zone"]["state"]) == (201, "online"), added
    path = f"/zones/{added.body['zone']['id']}"
    assert await stored_text_containing(database_url, first) == []

    changed = await admin.call(
        "PUT", path, json_body={"zone": {"username": "svc-second", "password": second}}
    )
    assert (changed.status, changed.body["zone"]["state"]) == (200, "online"), changed
    # Contacting the child again uses the stored (encrypted) password.
    again = await admin.call("PUT", path, json_body={"zone": {"username": "svc-second"}})
    assert (again.status, again.body["zone"]["state"]) == (200, "online"), again

    assert await stored_text_containing(database_url, first) == []
    assert await stored_text_containing(database_url, second) == []
    # The search does find what is stored in plain text, such as the username.
    assert await stored_text_containing(database_url, "svc-second") != []
