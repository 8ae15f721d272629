"""Bad quota input is a 400 naming the field, with nothing stored; who may set and read."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api

MEMBER = {"name": "ann", "password": "ann-pw", "client": "acme", "roles": ["member"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quota": {"instances": -1}}, "quota.instances"),
        ({"quota": {"instances": "ten"}}, "quota.instances"),
        ({"quota": {"instances": 1.5}}, "quota.instances"),
        ({"quota": {"resources": {"ram_mb": -5}}}, "quota.resources.ram_mb"),
        ({"quota": {"resources": {"ram_mb": "lots"}}}, "quota.resources.ram_mb"),
        ({"quota": {"resources": {"RAM MB": 5}}}, "quota.resources"),
        ({"quota": {"resources": []}}, "quota.resources"),
        ({"quota": {"instances": 1, "cpus": 4}}, "quota.cpus"),
        ({"limits": {"instances": 1}}, "limits"),
    ],
)
async def test_bad_quotas_are_400_naming_the_field_and_store_nothing(
    http: aiohttp.ClientSession, zones: ZoneStarter, body: dict[str, Any], field: str
) -> None:
    zone = await zones("solo")
    admin = await Api(http, zone.url).as_user()
    refused = await admin.call("PUT", "/quotas/acme", json_body=body)
    assert refused.status == 400, refused
    assert field in refused.problem["detail"], refused.problem
    shown = await admin.call("GET", "/quotas/acme")
    assert shown.status == 200, shown
    assert shown.body["quota"]["instances"] is None and shown.body["quota"]["resources"] == {}


async def test_members_read_their_own_clients_quota_only_and_set_none(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    zone = await zones("solo")
    admin = await Api(http, zone.url).as_user()
    assert (await admin.call("POST", "/users", json_body={"user": MEMBER})).status == 201
    member = await Api(http, zone.url).as_user(MEMBER["name"], MEMBER["password"])
    limits = {"quota": {"instances": 5}}
    assert (await member.call("PUT", "/quotas/acme", json_body=limits)).status == 403
    assert (await admin.call("PUT", "/quotas/acme", json_body=limits)).status == 200
    own = await member.call("GET", "/quotas/acme")
    assert own.status == 200 and own.body["quota"]["instances"] == 5, own
    assert (await member.call("GET", "/quotas/other")).status == 403
    assert (await member.call("DELETE", "/quotas/acme")).status == 403
    assert (await admin.call("GET", "/quotas/NOT_A_CLIENT")).status == 400
