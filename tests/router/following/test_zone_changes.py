"""Registered children: list, show, detail, change, remove, and the conflicts between them."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import ADMIN_PASSWORD, Api, RunningZone
from tests.router.following.children import (
    SERVICE_PASSWORD,
    SERVICE_USER,
    add_down_child,
    assert_recent_utc,
    closed_port_url,
    listed,
    outcome,
    registration,
    stable,
    start_child,
    zone_add,
)

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
