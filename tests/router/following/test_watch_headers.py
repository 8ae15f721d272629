"""`Prefer: wait` on `/zones/info` and `X-Zones-Budget-Ms` on forwarded calls: what they do, and
bad values refused with a 400 naming the header (or, from a caller that is not a parent,
ignored)."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api
from zones.node.config import PollSettings
from zones.node.http.prefer import MAX_WAIT
from zones.router.following.watcher import watch_wait


async def admin_of(http: aiohttp.ClientSession, zones: ZoneStarter) -> Api:
    zone = await zones("watched")
    return await Api(http, zone.url).as_user()


async def etag_of(admin: Api) -> str:
    answer = await admin.call("GET", "/zones/info")
    assert answer.status == 200, answer
    return str(answer.headers["ETag"])


async def test_a_watch_on_an_unchanged_zone_is_held_then_answered_304(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    admin = await admin_of(http, zones)
    etag = await etag_of(admin)
    started = time.monotonic()
    held = await admin.call(
        "GET", "/zones/info", headers={"If-None-Match": etag, "Prefer": "wait=0.3"}
    )
    assert held.status == 304, held
    assert time.monotonic() - started >= 0.3
    assert held.headers["Preference-Applied"] == "wait=0.3"
    assert held.headers["ETag"] == etag


async def test_a_watch_is_answered_at_once_when_the_zone_changed_and_waits_at_most_60_s(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    admin = await admin_of(http, zones)
    started = time.monotonic()
    changed = await admin.call(
        "GET", "/zones/info", headers={"If-None-Match": '"1"', "Prefer": "wait=600"}
    )
    assert time.monotonic() - started < 5, "an answer that differs is not held"
    assert changed.status == 200, changed
    assert changed.headers["Preference-Applied"] == "wait=60"


@pytest.mark.parametrize("prefer", ["wait=soon", "wait=-1", "wait=nan", "wait="])
async def test_a_wait_that_is_not_a_number_of_seconds_is_refused_naming_prefer(
    http: aiohttp.ClientSession, zones: ZoneStarter, prefer: str
) -> None:
    admin = await admin_of(http, zones)
    etag = await etag_of(admin)
    answer = await admin.call(
        "GET", "/zones/info", headers={"If-None-Match": etag, "Prefer": prefer}
    )
    assert answer.status == 400, answer
    assert answer.problem["detail"].startswith("Prefer: wait")


async def test_other_preferences_are_ignored(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    admin = await admin_of(http, zones)
    etag = await etag_of(admin)
    answer = await admin.call(
        "GET", "/zones/info", headers={"If-None-Match": etag, "Prefer": "respond-async"}
    )
    assert answer.status == 304, answer
    assert "Preference-Applied" not in answer.headers


CREATE = {"instance": {"name": "b", "resources": {}}}


@pytest.mark.parametrize("budget", ["soon", "-5", "0", "1.5", "99999999999"])
async def test_a_malformed_budget_from_a_parent_is_refused_naming_the_header(
    http: aiohttp.ClientSession, zones: ZoneStarter, budget: str
) -> None:
    admin = await admin_of(http, zones)
    assert admin.token is not None
    as_parent = {"X-Zones-Service-Token": admin.token, "X-Zones-Budget-Ms": budget}
    answer = await admin.call("POST", "/instances", json_body=CREATE, headers=as_parent)
    assert answer.status == 400, answer
    assert answer.problem["detail"].startswith("X-Zones-Budget-Ms:")
    listed = await admin.call("GET", "/instances")
    assert listed.body["instances"] == [], "nothing is stored for a refused request"


async def test_a_budget_from_a_caller_that_is_not_a_parent_is_ignored(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    admin = await admin_of(http, zones)
    answer = await admin.call(
        "POST", "/instances", json_body=CREATE, headers={"X-Zones-Budget-Ms": "soon"}
    )
    assert answer.status == 201, answer


def test_a_parent_never_asks_a_child_to_hold_a_watch_longer_than_a_child_holds_one() -> None:
    """Asking for `poll.interval` = 3600 s would make the parent wait an hour (plus the poll
    timeout) before it counts a hung child's watch as a failed poll; a child holds 60 s."""
    assert watch_wait(PollSettings(interval=3600.0)) == MAX_WAIT == 60
    assert watch_wait(PollSettings(interval=5.0)) == 5
