"""How zone-add and PUT treat URLs: one canonical spelling, and no stale identity after a move."""

from __future__ import annotations

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.following.children import closed_port_url, registration, start_child, zone_add


async def test_two_spellings_of_one_url_are_one_child(
    lone_admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    down = closed_port_url()
    first = await zone_add(
        lone_admin, {"zone": {"api_url": down, "username": "u", "password": "p"}}
    )
    assert first.status == 201
    assert first.body["zone"]["api_url"] == down

    shouted = down.replace("http://", "HTTP://") + "/"
    again = await zone_add(
        lone_admin, {"zone": {"api_url": shouted, "username": "u", "password": "p"}}
    )
    assert again.status == 409
    assert again.problem["detail"].startswith("zone.api_url:")


async def test_unreachable_children_on_one_host_get_distinct_stand_in_names(
    lone_admin: Api,
) -> None:
    base = closed_port_url()
    names = []
    for path in ("/east", "/west"):
        added = await zone_add(
            lone_admin, {"zone": {"api_url": base + path, "username": "u", "password": "p"}}
        )
        assert added.status == 201, added
        names.append(added.body["zone"]["name"])
    assert len(set(names)) == 2 and all(name.startswith("unnamed-") for name in names)


async def test_moving_a_child_to_an_unreachable_url_forgets_what_the_old_one_said(
    lone_admin: Api, zones: ZoneStarter, http: aiohttp.ClientSession
) -> None:
    child = await start_child(zones, http, capabilities={"region": "na"})
    added = await zone_add(lone_admin, registration(child))
    zone_id = added.body["zone"]["id"]
    assert added.body["zone"]["uuid"] is not None

    moved = await lone_admin.call(
        "PUT", f"/zones/{zone_id}", json_body={"zone": {"api_url": closed_port_url()}}
    )
    assert moved.status == 200, moved
    assert (moved.body["zone"]["uuid"], moved.body["zone"]["state"]) == (None, "unknown")
    detail = (await lone_admin.call("GET", f"/zones/{zone_id}/detail")).body["zone"]
    assert (detail["capabilities"], detail["generation"]) == ({}, None)
    assert (await lone_admin.call("GET", "/zones?region=na")).body["zones"] == []

    # The real child can now be added again under its own URL: no stale uuid blocks it.
    again = await zone_add(lone_admin, registration(child, name="child-a-again"))
    assert again.status == 201, again


async def test_a_null_field_in_a_change_is_named_exactly(lone_admin: Api) -> None:
    added = await zone_add(
        lone_admin, {"zone": {"api_url": closed_port_url(), "username": "u", "password": "p"}}
    )
    answer = await lone_admin.call(
        "PUT",
        f"/zones/{added.body['zone']['id']}",
        json_body={"zone": {"weight_offset": 2, "name": None}},
    )
    assert answer.status == 400
    assert answer.problem["errors"] == [
        {"field": "zone.name", "message": "must not be null; leave the field out to keep it"}
    ]
