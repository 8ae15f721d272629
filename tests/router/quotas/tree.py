"""The quota tests' tree: root > mid > two leaves with one host each, a member of acme.

The root (where the quotas are set) runs on the backend under test; the lower
zones trust the root's tokens, so the member's token works at every zone.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Answer, Api
from tests.router.tree import Tree

MEMBER = {"name": "ann", "password": "ann-pw", "client": "acme", "roles": ["member"]}


async def quota_tree(
    http: aiohttp.ClientSession,
    zones: ZoneStarter,
    root_database: str | None = None,
    mid_database: str | None = None,
) -> tuple[Tree, Api]:
    """The tree, polled so that the root knows what is below, and the member's client."""
    tree = Tree(http)
    root = await tree.start(zones, "root", database_url=root_database)
    trust = {"trusted_issuers": [root.url]}
    await tree.start(zones, "mid", auth=trust, database_url=mid_database)
    for leaf, rack in (("leaf1", "a"), ("leaf2", "b")):
        await tree.start(zones, leaf, auth=trust)
        inventory = {"ram_mb": 65536, "vcpus": 64}
        await tree.heartbeat(leaf, f"{leaf}-h1", capabilities={"rack": rack}, inventory=inventory)
        await tree.add_child("mid", leaf)
    await tree.add_child("root", "mid")
    await tree.poll("mid", "root")
    made = await tree.admins["root"].call("POST", "/users", json_body={"user": MEMBER})
    assert made.status == 201, made
    member = await Api(http, root.url).as_user(MEMBER["name"], MEMBER["password"])
    return tree, member


def instance(name: str, rack: str | None = None, ram_mb: float = 1024) -> dict[str, Any]:
    requirements = {} if rack is None else {"rack": rack}
    body = {"name": name, "requirements": requirements, "resources": {"ram_mb": ram_mb}}
    return {"instance": body}


async def create(api: Api, name: str, rack: str | None = None, ram_mb: float = 1024) -> Answer:
    return await api.call("POST", "/instances", json_body=instance(name, rack, ram_mb))


async def set_quota(admin: Api, client: str, **limits: Any) -> dict[str, Any]:
    answer = await admin.call("PUT", f"/quotas/{client}", json_body={"quota": limits})
    assert answer.status == 200, answer
    return dict(answer.body["quota"])


def refused_by_quota(answer: Answer) -> dict[str, Any]:
    """The problem of a create refused by a quota, checked for its shape."""
    assert answer.status == 403, answer
    problem = answer.problem
    assert problem["reason"] == "quota-exceeded", problem
    assert {"limit", "usage"} <= set(problem), problem
    return problem
