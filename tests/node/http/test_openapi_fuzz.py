"""`/openapi.json` is exact: schemathesis fuzzes every operation of a live tree against it.

A root over two children, both trusting the root's tokens, every zone allowing children
on loopback only (`[router] allowed_children`). The fuzzer loads the root's own
document and sends every operation a bounded number of cases that fit it and cases
that break it, as an admin. Any 5xx, any answer the document does not describe (its
status, content type, body or headers) and any case breaking the document that the
zone accepts fails the test.

No request may lead a zone off this machine. A fuzzed `zone.api_url` that names a
host is given an outside address instead (a zone resolving a name would ask a DNS
server, which is not on loopback); the zones refuse any address outside loopback with a
400 before contacting it, and the test checks that they do before it fuzzes anything.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks as fuzz_checks
from schemathesis.errors import FailureGroup

from tests.conftest import ZoneStarter
from tests.harness import Api
from tests.router.tree import Tree
from zones.node.fields import ZONE_NAME_PATTERN
from zones.node.http.openapi import ZONE_PARAMETER

LOOPBACK_ONLY = {"allowed_children": ["127.0.0.0/8"]}
EXAMPLES_PER_MODE = 30  # cases per operation that fit the document, and as many that do not
TIME_LIMIT = 55.0  # seconds for the whole run; past it no case is sent and the test fails
REQUEST_TIMEOUT = 10.0
FUZZ_ADMIN = {"name": "fuzz-admin-0c9e4b", "password": "fuzz-pw-7d1a", "roles": ["admin"]}
# What a fuzzed host name becomes: a documentation address, refused by allowed_children.
OUTSIDE_ADDRESS = "192.0.2.1"
CHECKS = [
    fuzz_checks.not_a_server_error,
    fuzz_checks.status_code_conformance,
    fuzz_checks.content_type_conformance,
    fuzz_checks.response_schema_conformance,
    fuzz_checks.response_headers_conformance,
    fuzz_checks.negative_data_rejection,
]


async def fuzzed_tree(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    """root > (left, right), every zone trusting the root's tokens and allowing loopback."""
    tree = Tree(http)
    root = await tree.start(zones, "root", router=LOOPBACK_ONLY)
    trust = {"trusted_issuers": [root.url]}
    for child in ("left", "right"):
        await tree.start(zones, child, auth=trust, router=LOOPBACK_ONLY)
        await tree.add_child("root", child)
    await tree.poll("root")
    return tree


async def fuzzing_admin(tree: Tree) -> Api:
    """An admin of the root with a name no fuzzed case will guess (and so delete)."""
    created = await tree.admins["root"].call(
        "POST", "/users", json_body={"user": {**FUZZ_ADMIN, "client": "admin"}}
    )
    assert created.status == 201, created
    return await Api(tree.http, tree.zones["root"].url).as_user(
        FUZZ_ADMIN["name"], FUZZ_ADMIN["password"]
    )


async def refuses_outside_children(admin: Api) -> bool:
    """Whether zone-add refuses an address outside loopback without contacting it. Asked
    with 0.0.0.0, which Linux connects to this machine: no answer of it leaves here."""
    body = {"zone": {"api_url": "http://0.0.0.0:9", "username": "u", "password": "p"}}
    added = await admin.call("POST", "/zones", json_body=body)
    return added.status == 400 and "outside router.allowed_children" in added.problem["detail"]


def kept_on_this_machine(url: str) -> str:
    """`url`, a name in it replaced by an outside address (refused without a connection)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    try:
        ipaddress.ip_address(host)
        return url
    except ValueError:
        pass
    port = f":{parts.port}" if _has_valid_port(parts) else ""
    return parts._replace(netloc=OUTSIDE_ADDRESS + port).geturl()


def _has_valid_port(parts: Any) -> bool:
    try:
        return parts.port is not None
    except ValueError:
        return False


def keep_children_on_this_machine(case: schemathesis.Case) -> None:
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("zone"), dict):
        return
    url = body["zone"].get("api_url")
    if isinstance(url, str):
        body["zone"]["api_url"] = kept_on_this_machine(url)


def aim_at_the_tree(case: schemathesis.Case, names: list[str]) -> None:
    """A fuzzed `?zone=` that is a zone name names a zone of the tree, so that the call is
    served there (by a relay for the children) instead of being a 404 at the root."""
    query = case.query
    value = query.get(ZONE_PARAMETER) if isinstance(query, dict) else None
    if isinstance(value, str) and re.fullmatch(ZONE_NAME_PATTERN, value):
        query[ZONE_PARAMETER] = names[sum(map(ord, value)) % len(names)]


@dataclass
class FuzzRun:
    """Sends cases to one zone and keeps what failed, each kind of failure once."""

    base_url: str
    token: str
    zone_names: list[str]
    deadline: float
    session: requests.Session = field(default_factory=requests.Session)
    failures: dict[str, str] = field(default_factory=dict)
    cases: int = 0
    out_of_time: bool = False

    def send(self, case: schemathesis.Case) -> None:
        if time.monotonic() > self.deadline:
            self.out_of_time = True
            return
        keep_children_on_this_machine(case)
        aim_at_the_tree(case, self.zone_names)
        self.cases += 1
        try:
            case.call_and_validate(
                base_url=self.base_url,
                session=self.session,
                headers={"Authorization": f"Bearer {self.token}"},
                checks=CHECKS,
                timeout=REQUEST_TIMEOUT,
            )
        except FailureGroup as group:
            for failure in group.exceptions:
                key = f"{case.operation.label}: {failure.title}"
                self.failures.setdefault(key, str(group))

    def fuzz(self, operation: schemathesis.APIOperation) -> None:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def send_each(case: schemathesis.Case) -> None:
                self.send(case)

            send_each()


def fuzz_every_operation(document: dict[str, Any], run: FuzzRun) -> list[str]:
    """Fuzz each operation of `document` in turn; the labels of those fuzzed."""
    schema = schemathesis.openapi.from_dict(document)
    labels = []
    with run.session:
        for result in schema.get_all_operations():
            operation = result.ok()
            labels.append(operation.label)
            run.fuzz(operation)
    return labels


async def test_every_operation_answers_as_its_document_says(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = await fuzzed_tree(http, zones)
    admin = await fuzzing_admin(tree)
    assert admin.token is not None
    assert await refuses_outside_children(admin), "no fuzzing unless children stay on loopback"
    document = (await admin.call("GET", "/openapi.json")).body
    run = FuzzRun(
        base_url=tree.zones["root"].url,
        token=admin.token,
        zone_names=sorted(tree.zones),
        deadline=time.monotonic() + TIME_LIMIT,
    )
    # The fuzzer's client blocks: it runs in a thread while this loop serves the zones.
    fuzzed = await asyncio.to_thread(fuzz_every_operation, document, run)

    operations = {
        f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops
    }
    assert set(fuzzed) == operations
    assert not run.out_of_time, f"the run took over {TIME_LIMIT} s after {run.cases} cases"
    assert run.failures == {}, "\n\n".join(list(run.failures.values())[:10])
