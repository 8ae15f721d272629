"""The `/zones` API as an operator uses it: zone-add of real children, list, show, detail,
change, remove, conflicts, roles, `/zones/info`, and the child's password at rest.

Every child here is a real zone on loopback with a service account made through
`POST /users`, the way operators prepare a child before registering it.
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.conftest import ZoneStarter
from tests.harness import ADMIN_PASSWORD, Answer, Api, RunningZone

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


# ---------------------------------------------------------------- zone-add of a live child


async def test_zone_add_of_a_live_child_learns_its_name_and_uuid(
    admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http)

    answer = await zone_add(admin, registration(child))

    assert answer.status == 201, answer
    zone = answer.body["zone"]
    assert set(zone) >= ZONE_FIELDS
    assert isinstance(zone["id"], int)
    assert zone["uuid"] == (await child.info())["uuid"]
    assert_recent_utc(zone["last_seen"])
    assert {key: zone[key] for key in ZONE_FIELDS - {"id", "uuid", "last_seen"}} == {
        "name": "child-a",
        "api_url": child.url,
        "username": SERVICE_USER,
        "enabled": True,
        "weight_offset": 0,
        "state": "online",
        "last_error": None,
    }
    shown = await admin.call("GET", f"/zones/{zone['id']}")
    assert shown.status == 200, shown
    assert (stable(shown.body["zone"]), shown.body["zone"]["state"]) == (stable(zone), "online")
    assert await listed(admin) == [stable(zone)]


async def test_the_password_is_never_answered(
    admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http, password="Wr1te-Only-Secret")
    created = await zone_add(admin, registration(child))
    path = f"/zones/{created.body['zone']['id']}"

    answers = [
        created,
        await admin.call("GET", "/zones"),
        await admin.call("GET", path),
        await admin.call("GET", path + "/detail"),
        await admin.call("PUT", path, json_body={"zone": {"password": child.password}}),
    ]

    assert [answer.status for answer in answers] == [201, 200, 200, 200, 200]
    for answer in answers:
        assert not any("password" in key for key in keys_anywhere(answer.body)), answer.body
        assert child.password not in json.dumps(answer.body)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"name": "na-east", "weight_offset": -2.5}, {"name": "na-east", "weight_offset": -2.5}),
        ({"enabled": False, "weight_offset": 7}, {"enabled": False, "state": "disabled"}),
        ({"name": None, "enabled": True}, {"name": "child-a", "enabled": True, "state": "online"}),
    ],
    ids=["name and weight_offset", "disabled", "null name is learnt"],
)
async def test_zone_add_options_are_honoured(
    admin: Api,
    zones: ZoneStarter,
    http: aiohttp.ClientSession,
    options: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    child = await start_child(zones, http)

    answer = await zone_add(admin, registration(child, **options))

    assert answer.status == 201, answer
    zone = answer.body["zone"]
    assert {key: zone[key] for key in expected} == expected
    assert zone["uuid"] == (await child.info())["uuid"]
    assert await listed(admin) == [stable(zone)]


SPECIAL_PASSWORDS = {
    "quotes": "with \"double\" and 'single' quotes",
    "backslash": "back\\slash\\",
    "unicode": "unicodé ✓ 密码 🙂",
    "percent": "percent %41%2F%%",
    "ampersand": "amp&ersand=and+plus",
    "spaces": "  spaces  inside and around  ",
    "url-like": "user:pw@host/path?q=1#frag",
    "json-like": '{"json": [1, 2]}',
    "control characters": "tab\tand\nnewline",
}


async def test_passwords_with_special_characters_work(
    lone_admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http)
    for case, password in SPECIAL_PASSWORDS.items():
        await child.add_user(case.replace(" ", "-"), password, ["service"])

    states = {}
    for case, password in SPECIAL_PASSWORDS.items():
        body = registration(child, username=case.replace(" ", "-"), password=password)
        added = await zone_add(lone_admin, body)
        assert added.status == 201, (case, added)
        path = f"/zones/{added.body['zone']['id']}"
        # Changing the username contacts the child again, with the password as stored.
        reprobed = await lone_admin.call(
            "PUT", path, json_body={"zone": {"username": case.replace(" ", "-")}}
        )
        states[case] = (
            added.body["zone"]["state"],
            reprobed.status,
            reprobed.body["zone"]["state"],
        )
        # Make room for the next registration of the same child.
        assert (await lone_admin.call("DELETE", path)).status == 204

    assert states == dict.fromkeys(SPECIAL_PASSWORDS, ("online", 200, "online"))


# ---------------------------------------------------------------- zone-add of a down child


async def test_zone_add_of_a_down_child_is_kept_as_unknown(admin: Api) -> None:
    unnamed_url, named_url = closed_port_url(), closed_port_url()
    bodies = [
        {"zone": {"api_url": unnamed_url, "username": "svc", "password": "pw"}},
        {"zone": {"api_url": named_url, "username": "svc", "password": "pw", "name": "later"}},
    ]

    answers = [await zone_add(admin, body) for body in bodies]

    assert [answer.status for answer in answers] == [201, 201], answers
    unnamed, named = (answer.body["zone"] for answer in answers)
    for zone, api_url in ((unnamed, unnamed_url), (named, named_url)):
        assert (zone["state"], zone["uuid"], zone["last_seen"]) == ("unknown", None, None)
        assert (zone["api_url"], zone["enabled"], zone["weight_offset"]) == (api_url, True, 0)
        assert api_url in zone["last_error"] and "could not be reached" in zone["last_error"]
    assert ZONE_NAME.match(unnamed["name"]) and unnamed["name"].startswith("unnamed-"), unnamed
    assert unnamed_url.rsplit(":", 1)[1] in unnamed["name"]
    assert named["name"] == "later"
    assert await listed(admin) == [stable(unnamed), stable(named)]


async def test_detail_of_a_never_reached_child_is_empty(admin: Api) -> None:
    added = await add_down_child(admin, name="later")

    answer = await admin.call("GET", f"/zones/{added['id']}/detail")

    assert answer.status == 200, answer
    detail = answer.body["zone"]
    assert (stable(detail), detail["state"]) == (stable(added), "unknown")
    learnt = ("capabilities", "free", "hosts", "instances", "children", "generation")
    assert {key: detail[key] for key in learnt} == {
        "capabilities": {},
        "free": {},
        "hosts": 0,
        "instances": 0,
        "children": [],
        "generation": None,
    }


# ---------------------------------------------------------------- a child that refuses


async def test_a_child_that_refuses_the_account_is_not_added(
    lone_admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http)
    await child.add_user("a-member", "member-pw", ["member"])
    await child.add_user("a-host", "host-pw", ["host"])
    attempts = {
        "wrong password": (SERVICE_USER, "not-the-password"),
        "unknown user": ("nobody-here", SERVICE_PASSWORD),
        "member account": ("a-member", "member-pw"),
        "host account": ("a-host", "host-pw"),
    }

    answers = {
        case: await zone_add(lone_admin, registration(child, username=user, password=password))
        for case, (user, password) in attempts.items()
    }

    assert {case: outcome(answer) for case, answer in answers.items()} == {
        "wrong password": (400, "zone.password"),
        "unknown user": (400, "zone.password"),
        "member account": (400, "zone.username"),
        "host account": (400, "zone.username"),
    }
    for case, answer in answers.items():
        assert attempts[case][1] not in answer.problem["detail"]
        assert (
            child.url in answer.problem["detail"] or attempts[case][0] in answer.problem["detail"]
        )
    assert await listed(lone_admin) == []


# ---------------------------------------------------------------- list, show, detail


async def test_list_is_in_id_order(admin: Api) -> None:
    added = [await add_down_child(admin, name=name) for name in ("zulu", "alpha-2", "mike")]

    zones = await listed(admin)

    assert zones == [stable(zone) for zone in added]
    assert [zone["name"] for zone in zones] == ["zulu", "alpha-2", "mike"]
    ids = [zone["id"] for zone in zones]
    assert ids == sorted(ids) and len(set(ids)) == 3


async def test_detail_shows_what_was_learnt_from_the_child(
    admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http, capabilities={"region": "na", "gpus": 2, "ssd": True})
    added = (await zone_add(admin, registration(child))).body["zone"]

    answer = await admin.call("GET", f"/zones/{added['id']}/detail")

    assert answer.status == 200, answer
    detail = answer.body["zone"]
    assert (stable(detail), detail["state"]) == (stable(added), "online")
    assert detail["capabilities"] == {
        "gpus": {"type": "float", "min": 2, "max": 2},
        "region": {"type": "string", "values": ["na"]},
        "ssd": {"type": "bool", "values": [True]},
    }
    learnt = ("free", "hosts", "instances", "children")
    assert {key: detail[key] for key in learnt} == {
        "free": {},
        "hosts": 0,
        "instances": 0,
        "children": [],
    }
    assert isinstance(detail["generation"], int)
    assert detail["generation"] == (await child.info())["generation"]


# ---------------------------------------------------------------- PUT /zones/{id}


async def test_put_changes_name_enabled_and_weight_offset(
    admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http)
    added = (await zone_add(admin, registration(child))).body["zone"]
    path = f"/zones/{added['id']}"
    steps = [
        ({"enabled": False}, {"enabled": False, "state": "disabled"}),
        ({"name": "renamed"}, {"name": "renamed", "enabled": False, "state": "disabled"}),
        # Not polled while disabled: its state is unknown again until the next poll.
        ({"enabled": True}, {"name": "renamed", "enabled": True, "state": "unknown"}),
        ({"weight_offset": 12.5, "name": "again"}, {"name": "again", "weight_offset": 12.5}),
        ({"weight_offset": -3}, {"name": "again", "weight_offset": -3}),
    ]

    for change, expected in steps:
        answer = await admin.call("PUT", path, json_body={"zone": change})

        assert answer.status == 200, (change, answer)
        zone = answer.body["zone"]
        assert stable(zone) == stable({**added, **expected}), change
        assert zone["state"] == expected.get("state", "unknown"), change
        shown = (await admin.call("GET", path)).body["zone"]
        assert (stable(shown), shown["state"]) == (stable(zone), zone["state"])


@pytest.mark.parametrize("name", [None, "kept-name"], ids=["provisional name", "explicit name"])
async def test_put_api_url_to_a_live_child_learns_it(
    admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession, name: str | None
) -> None:
    child = await start_child(zones, http)
    extra = {} if name is None else {"name": name}
    added = await add_down_child(admin, username=SERVICE_USER, password=SERVICE_PASSWORD, **extra)

    answer = await admin.call(
        "PUT", f"/zones/{added['id']}", json_body={"zone": {"api_url": child.url}}
    )

    assert answer.status == 200, answer
    zone = answer.body["zone"]
    info = await child.info()
    assert zone["uuid"] == info["uuid"]
    assert (zone["api_url"], zone["state"], zone["last_error"]) == (child.url, "online", None)
    assert zone["name"] == (name or "child-a")
    assert_recent_utc(zone["last_seen"])
    detail = await admin.call("GET", f"/zones/{added['id']}/detail")
    assert detail.body["zone"]["generation"] == info["generation"]


async def test_put_a_wrong_password_is_refused_and_changes_nothing(
    admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http)
    added = (await zone_add(admin, registration(child))).body["zone"]
    path = f"/zones/{added['id']}"

    answer = await admin.call(
        "PUT", path, json_body={"zone": {"password": "wrong", "weight_offset": 3, "name": "other"}}
    )

    assert answer.status == 400, answer
    assert answer.problem["detail"].startswith("zone.password")
    assert stable((await admin.call("GET", path)).body["zone"]) == stable(added)
    # The old password is still the one stored: contacting the child again works.
    again = await admin.call("PUT", path, json_body={"zone": {"username": SERVICE_USER}})
    assert (again.status, again.body["zone"]["state"]) == (200, "online"), again


async def test_put_new_credentials_are_kept_for_later_contacts(
    lone_admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http)
    await child.add_user("svc-second", "second-pw", ["service"])
    added = (await zone_add(lone_admin, registration(child))).body["zone"]
    path = f"/zones/{added['id']}"

    switched = await lone_admin.call(
        "PUT", path, json_body={"zone": {"username": "svc-second", "password": "second-pw"}}
    )
    assert switched.status == 200, switched
    assert (switched.body["zone"]["username"], switched.body["zone"]["state"]) == (
        "svc-second",
        "online",
    )

    # Back to the first account without its password: the stored one is now the second's.
    back = await lone_admin.call("PUT", path, json_body={"zone": {"username": SERVICE_USER}})
    assert back.status == 400, back
    assert back.problem["detail"].startswith("zone.password")
    assert stable((await lone_admin.call("GET", path)).body["zone"]) == stable(
        switched.body["zone"]
    )


# ---------------------------------------------------------------- DELETE /zones/{id}


async def test_delete_removes_the_child(admin: Api) -> None:
    kept = await add_down_child(admin, name="kept")
    gone = await add_down_child(admin, name="gone")
    path = f"/zones/{gone['id']}"

    answer = await admin.call("DELETE", path)

    assert (answer.status, answer.body) == (204, None)
    after = {
        "GET": await admin.call("GET", path),
        "GET detail": await admin.call("GET", path + "/detail"),
        "PUT": await admin.call("PUT", path, json_body={"zone": {"name": "back"}}),
        "DELETE": await admin.call("DELETE", path),
    }
    assert {what: answer.status for what, answer in after.items()} == dict.fromkeys(after, 404)
    for answer in after.values():
        assert answer.problem["detail"] == f"zone {gone['id']} does not exist"
    assert await listed(admin) == [stable(kept)]


async def test_a_deleted_child_can_be_added_again_under_a_new_id(
    admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http)
    first = (await zone_add(admin, registration(child))).body["zone"]
    assert (await admin.call("DELETE", f"/zones/{first['id']}")).status == 204

    again = await zone_add(admin, registration(child))

    assert again.status == 201, again
    assert (again.body["zone"]["name"], again.body["zone"]["uuid"]) == ("child-a", first["uuid"])
    # A script still holding the old id must not reach the new registration.
    assert again.body["zone"]["id"] != first["id"]
    assert (await admin.call("GET", f"/zones/{first['id']}")).status == 404


# ---------------------------------------------------------------- conflicts


async def test_zone_add_conflicts_name_the_clashing_field(
    admin: Api, zone: RunningZone, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http)
    first = (await zone_add(admin, registration(child))).body["zone"]
    twin = await add_down_child(admin, name="twin")
    localhost = child.url.replace("127.0.0.1", "localhost")
    itself = {"username": "admin", "password": ADMIN_PASSWORD}
    attempts = {
        "same api_url": registration(child),
        "same api_url, another name": registration(child, name="second"),
        "same api_url and a slash": registration(child, api_url=child.url + "/", name="third"),
        "same name": registration(child, api_url=closed_port_url(), name="twin"),
        "same child at another url": registration(child, api_url=localhost),
        "same child at another url, another name": registration(
            child, api_url=localhost, name="alias"
        ),
        "this zone": {"zone": {"api_url": zone.url, **itself}},
        "this zone at another url": {
            "zone": {"api_url": zone.url.replace("127.0.0.1", "localhost"), **itself}
        },
    }

    answers = {case: await zone_add(admin, body) for case, body in attempts.items()}

    assert {case: outcome(answer) for case, answer in answers.items()} == {
        "same api_url": (409, "zone.api_url"),
        "same api_url, another name": (409, "zone.api_url"),
        "same api_url and a slash": (409, "zone.api_url"),
        "same name": (409, "zone.name"),
        "same child at another url": (409, "zone.uuid"),
        "same child at another url, another name": (409, "zone.uuid"),
        "this zone": (409, "zone.api_url"),
        "this zone at another url": (409, "zone.api_url"),
    }
    assert "twin" in answers["same name"].problem["detail"]
    for case in ("this zone", "this zone at another url"):
        assert "this zone itself" in answers[case].problem["detail"]
    assert await listed(admin) == [stable(first), stable(twin)]


async def test_put_into_a_conflict_is_refused_and_changes_nothing(
    admin: Api, zone: RunningZone, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http)
    live = (await zone_add(admin, registration(child))).body["zone"]
    down = await add_down_child(
        admin, name="down", username=SERVICE_USER, password=SERVICE_PASSWORD
    )
    attempts = {
        "name": {"name": "child-a"},
        "api_url": {"api_url": child.url},
        "uuid": {"api_url": child.url.replace("127.0.0.1", "localhost")},
        "itself": {"api_url": zone.url, "username": "admin", "password": ADMIN_PASSWORD},
    }

    answers = {
        case: await admin.call("PUT", f"/zones/{down['id']}", json_body={"zone": change})
        for case, change in attempts.items()
    }

    assert {case: outcome(answer) for case, answer in answers.items()} == {
        "name": (409, "zone.name"),
        "api_url": (409, "zone.api_url"),
        "uuid": (409, "zone.uuid"),
        "itself": (409, "zone.api_url"),
    }
    assert "this zone itself" in answers["itself"].problem["detail"]
    assert await listed(admin) == [stable(live), stable(down)]


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
