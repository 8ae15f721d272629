"""`?zone=NAME`: through the root, any zone of the tree answers as if called directly."""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp

from tests.conftest import ZoneStarter
from tests.router.tree import SERVICE_USER, Tree, trusting_chain

MEMBER = {"name": "mia", "password": "mia-pw", "client": "acme", "roles": ["member"]}


async def chain(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    return await trusting_chain(http, zones, "leaf-host", {"ram_mb": 512})


async def test_a_leafs_hosts_through_the_root_with_the_roots_token(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    answer = await tree.admins["root"].call("GET", "/hosts?zone=leaf")
    assert answer.status == 200, answer
    assert [host["name"] for host in answer.body["hosts"]] == ["leaf-host"]
    assert answer.headers["X-Zones-Path"] == "root,mid,leaf"
    here = await tree.admins["root"].call("GET", "/hosts?zone=root")
    assert (here.status, here.body["hosts"], here.headers["X-Zones-Path"]) == (200, [], "root")


async def test_a_child_added_to_the_middle_zone_through_the_root(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    other = await tree.start(zones, "other", auth={"trusted_issuers": [tree.zones["root"].url]})
    credentials = {"username": SERVICE_USER["name"], "password": SERVICE_USER["password"]}
    body = {"zone": {"api_url": other.url, **credentials}}
    added = await tree.admins["root"].call("POST", "/zones?zone=mid", json_body=body)
    assert added.status == 201, added
    assert added.body["zone"]["name"] == "other"
    assert added.headers["X-Zones-Path"] == "root,mid"
    at_mid = await tree.admins["mid"].call("GET", "/zones")
    assert sorted(zone["name"] for zone in at_mid.body["zones"]) == ["leaf", "other"]
    at_root = await tree.admins["root"].call("GET", "/zones")
    assert [zone["name"] for zone in at_root.body["zones"]] == ["mid"]


async def test_the_target_authorizes_a_member_as_if_called_directly(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    made = await tree.admins["root"].call("POST", "/users", json_body={"user": MEMBER})
    assert made.status == 201, made
    member = await tree.admins["root"].as_user(MEMBER["name"], MEMBER["password"])
    refused = await member.call("GET", "/hosts?zone=leaf")
    assert refused.status == 403, refused
    assert refused.headers["X-Zones-Path"] == "root,mid,leaf"
    created = await member.call(
        "POST", "/instances?zone=leaf", json_body={"instance": {"name": "web"}}
    )
    assert created.status == 201, created
    assert (created.body["instance"]["zone"], created.body["instance"]["client"]) == (
        "leaf",
        "acme",
    )
    listed = await member.call("GET", "/instances?zone=leaf")
    assert [i["name"] for i in listed.body["instances"]] == ["web"]


async def test_a_name_in_no_subtree_is_a_404_and_a_malformed_one_a_400(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    missing = await tree.admins["root"].call("GET", "/hosts?zone=nowhere")
    assert missing.status == 404, missing
    assert "'nowhere'" in missing.problem["detail"]
    malformed = await tree.admins["root"].call("GET", "/hosts?zone=Not_A_Zone")
    assert malformed.status == 400, malformed
    assert malformed.problem["detail"].startswith("zone:")


async def test_a_leaf_that_is_down_is_named_by_the_zone_that_tried_it(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    await tree.zones["leaf"].stop()
    answer = await tree.admins["root"].call("GET", "/hosts?zone=leaf")
    assert answer.status == 502, answer
    assert "'leaf'" in answer.problem["detail"]
    assert answer.headers["X-Zones-Path"] == "root,mid"


async def test_the_middle_zone_fans_out_and_judges_a_move_as_if_called_directly(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    root = tree.admins["root"]
    created = await root.call("POST", "/instances?zone=leaf", json_body={"instance": {"name": "a"}})
    assert created.status == 201, created
    instance_id = created.body["instance"]["id"]
    await tree.poll("mid")
    listed = await root.call("GET", "/instances?zone=mid")
    assert (listed.status, [i["name"] for i in listed.body["instances"]]) == (200, ["a"])
    # A relayed call is the caller's own at mid: a move naming a zone mid does not know is
    # refused there, as it would be if called at mid directly.
    move = {"move": {"zone": "nowhere"}}
    moved = await root.call("POST", f"/instances/{instance_id}/move?zone=mid", json_body=move)
    assert moved.status == 400, moved
    assert moved.problem["detail"] == "move.zone: no zone named 'nowhere' in this zone's subtree"
    assert moved.headers["X-Zones-Path"] == "root,mid"


async def test_errors_name_the_zones_crossed_too(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    unknown = "00000000-0000-4000-8000-000000000000"
    missing = await tree.admins["root"].call("GET", f"/instances/{unknown}?zone=leaf")
    assert missing.status == 404, missing
    assert missing.headers["X-Zones-Path"] == "root,mid,leaf"
    here = await tree.admins["root"].call("GET", "/instances/not-an-id?zone=root")
    assert (here.status, here.headers["X-Zones-Path"]) == (400, "root")
    nowhere = await tree.admins["root"].call("GET", "/hosts?zone=nowhere")
    assert (nowhere.status, nowhere.headers["X-Zones-Path"]) == (404, "root")


async def test_a_target_whose_keys_changed_is_reached_with_a_new_service_token(
    http: aiohttp.ClientSession, zones: ZoneStarter, tmp_path: Path
) -> None:
    tree = await chain(http, zones)
    root = tree.admins["root"]
    created = await root.call("POST", "/instances?zone=leaf", json_body={"instance": {"name": "a"}})
    assert created.status == 201, created
    port = tree.zones["leaf"].settings.listen_port
    await tree.zones["leaf"].stop()
    shutil.rmtree(tmp_path / "leaf" / "leaf.keys")  # mid's token for leaf is worthless now
    await tree.start_again(zones, "leaf", port, auth={"trusted_issuers": [tree.zones["root"].url]})
    listed = await root.call("GET", "/instances?zone=leaf")  # leaf checks the service token
    assert listed.status == 200, listed
    assert [instance["name"] for instance in listed.body["instances"]] == ["a"]


async def test_a_create_that_would_pass_by_a_quota_here_is_not_relayed(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await chain(http, zones)
    root = tree.admins["root"]
    quota = {"quota": {"instances": 10}}
    assert (await root.call("PUT", "/quotas/admin", json_body=quota)).status == 200
    body = {"instance": {"name": "around"}}
    refused = await root.call("POST", "/instances?zone=leaf", json_body=body)
    assert refused.status == 403, refused
    assert "has a quota at zone 'root'" in refused.problem["detail"]
    assert refused.headers["X-Zones-Path"] == "root"
    listed = await root.call("GET", "/instances?zone=leaf")  # reading is relayed as before
    assert (listed.status, listed.body["instances"]) == (200, [])
    assert (await root.call("POST", "/instances", json_body=body)).status == 201  # counted
