"""What one misbehaving child cannot do: stop a round, lose its siblings, or lose the request id."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import aiohttp
from aiohttp import web
from sqlalchemy import text

from tests.conftest import ZoneStarter
from tests.harness import RunningZone
from tests.router.fake_child import AppServer, FakeChild, serve_app, zone_info_body
from tests.router.tree import Tree
from zones.node.appkeys import SESSIONS

__all__ = ["serve_app"]  # a fixture, used by name


def well_formed() -> web.Response:
    return web.json_response(zone_info_body(), headers={"ETag": '"1"'})


def well_formed_as(name: str) -> Callable[[], web.Response]:
    """Answers for a fake child of its own identity (two children may not share a uuid)."""
    body = zone_info_body(uuid=str(uuid.uuid4()), name=name)
    return lambda: web.json_response(body)


async def test_a_hostile_child_does_not_stop_the_round_for_its_sibling(
    http: aiohttp.ClientSession, zones: ZoneStarter, serve_app: AppServer
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root")
    await tree.start(zones, "good")
    await tree.add_child("root", "good")
    hostile = await serve_app(FakeChild(lambda: web.Response(text="[" * 100_000)).app())
    added = await tree.admins["root"].call(
        "POST", "/zones", json_body={"zone": {"api_url": hostile, "username": "u", "password": "p"}}
    )
    assert added.status == 201, added

    outcomes = await tree.poll("root")
    assert sorted(outcome.ok for outcome in outcomes) == [False, True]
    good = await tree.child("root", "good")
    assert good["state"] == "online" and good["last_polled_at"] is not None
    assert good["poll_latency_ms"] > 0
    bad = (await tree.admins["root"].call("GET", f"/zones/{added.body['zone']['id']}")).body
    assert "not usable JSON" in bad["zone"]["last_error"]


async def test_the_request_id_goes_to_every_child_call(
    http: aiohttp.ClientSession, zones: ZoneStarter, serve_app: AppServer
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root")
    child = FakeChild(well_formed)
    url = await serve_app(child.app())
    added = await tree.admins["root"].call(
        "POST",
        "/zones",
        json_body={"zone": {"api_url": url, "username": "u", "password": "p"}},
        headers={"X-Request-Id": "trace-zone-add-1"},
    )
    assert added.status == 201, added
    assert child.request_ids == ["trace-zone-add-1", "trace-zone-add-1"]  # login, then info

    await tree.poll("root")
    round_ids = set(child.request_ids[2:])
    assert len(round_ids) == 1 and round_ids.pop().startswith("poll-")


async def test_the_poller_reuses_its_token_and_renews_it_near_expiry(
    http: aiohttp.ClientSession, zones: ZoneStarter, serve_app: AppServer
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root")
    lasting, brief = FakeChild(well_formed_as("lasting")), FakeChild(well_formed_as("brief"))
    brief.expires_at = "2000-01-01T00:00:00+00:00"  # always within the renewal window
    for fake in (lasting, brief):
        url = await serve_app(fake.app())
        body = {"zone": {"api_url": url, "username": "u", "password": "p"}}
        assert (await tree.admins["root"].call("POST", "/zones", json_body=body)).status == 201

    for _ in range(3):
        await tree.poll("root")
    # zone-add's own login, then one for the poller, reused by every later round
    assert (lasting.logins, lasting.info_calls) == (2, 4)
    assert (brief.logins, brief.info_calls) == (4, 4)


async def test_an_answer_is_not_retried_but_a_dropped_connection_is(
    http: aiohttp.ClientSession, zones: ZoneStarter, serve_app: AppServer
) -> None:
    tree = Tree(http)
    await tree.start(zones, "root")
    refusing = FakeChild(lambda: web.Response(status=500, text="no"))
    url = await serve_app(refusing.app())
    body = {"zone": {"api_url": url, "username": "u", "password": "p"}}
    assert (await tree.admins["root"].call("POST", "/zones", json_body=body)).status == 201
    calls_before = refusing.info_calls
    await tree.poll("root")
    assert refusing.info_calls - calls_before == 1  # a 500 is an answer: asked once

    flaky = FakeChild(well_formed_as("flaky"))
    flaky_url = await serve_app(flaky.app())
    flaky_body = {"zone": {"api_url": flaky_url, "username": "u", "password": "p"}}
    added = await tree.admins["root"].call("POST", "/zones", json_body=flaky_body)
    assert added.status == 201, added

    flaky.drop_connections = 2  # the next two tries lose their connection before any answer
    outcomes = {outcome.target.credentials.api_url: outcome for outcome in await tree.poll("root")}
    assert outcomes[flaky_url].ok, outcomes[flaky_url]
    assert flaky.drop_connections == 0


async def refuse_capability_value(zone: RunningZone, value: str) -> None:
    """Make the zone's own database refuse to store `value` as a child's capability, as a
    database may refuse what no check here foresaw."""
    async with zone.app[SESSIONS].begin() as session:
        await session.execute(
            text(
                "CREATE TRIGGER refuse_value BEFORE INSERT ON child_capabilities "
                f"WHEN NEW.string_value = '{value}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )


async def test_a_child_whose_answer_cannot_be_stored_costs_no_sibling_its_round(
    http: aiohttp.ClientSession, zones: ZoneStarter, serve_app: AppServer
) -> None:
    """The round is stored in one piece; when the database refuses one child's answer, each
    child is stored on its own instead, and only that one fails."""
    tree = Tree(http)
    root = await tree.start(zones, "root")
    await refuse_capability_value(root, "refused-here")
    await tree.start(zones, "good")
    await tree.add_child("root", "good")
    identity = zone_info_body(uuid=str(uuid.uuid4()), name="odd")
    answers = [identity]
    child = FakeChild(lambda: web.json_response(answers[-1]))
    url = await serve_app(child.app())
    body = {"zone": {"api_url": url, "username": "u", "password": "p"}}
    added = await tree.admins["root"].call("POST", "/zones", json_body=body)
    assert added.status == 201, added
    assert all(outcome.ok for outcome in await tree.poll("root"))
    refused = {"os": {"type": "string", "values": ["refused-here"]}}
    answers.append({"zone": {**identity["zone"], "capabilities": refused, "generation": 2}})
    beat = {"host": {"capabilities": {}, "inventory": {"ram_mb": 64}}}
    assert (await tree.admins["good"].call("PUT", "/hosts/h1", json_body=beat)).status == 200

    outcomes = await tree.poll("root")
    assert sorted(outcome.ok for outcome in outcomes) == [False, True]
    good = (await tree.admins["root"].call("GET", "/zones/info")).body["zone"]
    assert good["hosts"] == 1, "the good child's new answer was not stored"
    odd = (await tree.admins["root"].call("GET", f"/zones/{added.body['zone']['id']}")).body
    assert odd["zone"]["last_error"] == "its answer could not be stored", odd
