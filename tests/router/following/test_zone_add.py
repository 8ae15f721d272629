"""zone-add as an operator uses it: live children, children not up yet, and refusals.

Every child here is a real zone on loopback with a service account made through
`POST /users`, the way operators prepare a child before registering it.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.following.children import (
    SERVICE_PASSWORD,
    SERVICE_USER,
    ZONE_FIELDS,
    ZONE_NAME,
    add_down_child,
    assert_recent_utc,
    closed_port_url,
    keys_anywhere,
    listed,
    outcome,
    registration,
    stable,
    start_child,
    zone_add,
)

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
