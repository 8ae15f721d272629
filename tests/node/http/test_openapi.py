"""`/openapi.json` describes every route the app serves, from the models that validate bodies."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api, RunningZone


def served_routes(zone: RunningZone) -> set[tuple[str, str]]:
    routes = set()
    for route in zone.app.router.routes():
        if route.method in ("HEAD", "*"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        routes.add((route.method.lower(), str(path)))
    return routes


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs_in(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs_in(value)]
    return []


async def fetch_document(http: aiohttp.ClientSession, zone: RunningZone) -> dict[str, Any]:
    answer = await Api(http, zone.url).call("GET", "/openapi.json")
    assert answer.status == 200
    assert answer.body["openapi"].startswith("3.1")
    return dict(answer.body)


async def test_every_served_route_is_described(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    zone = await zones("documented")
    document = await fetch_document(http, zone)
    described = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    routes = served_routes(zone)
    assert routes, "the app serves no routes?"
    assert routes - described == set()
    assert described - routes == set()


async def test_every_reference_resolves_and_bodies_use_the_request_models(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    document = await fetch_document(http, await zones("documented"))
    schemas = document["components"]["schemas"]
    for ref in refs_in(document):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[-1] in schemas, ref
    zone_add = document["paths"]["/zones"]["post"]
    body_ref = zone_add["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    envelope = schemas[body_ref.rsplit("/", 1)[-1]]
    assert envelope["required"] == ["zone"]
    create = schemas[envelope["properties"]["zone"]["$ref"].rsplit("/", 1)[-1]]
    assert set(create["required"]) == {"api_url", "username", "password"}
    assert create["additionalProperties"] is False
    assert "401" in zone_add["responses"] and "201" in zone_add["responses"]


async def test_path_parameters_carry_their_rules_and_statuses_are_listed(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    document = await fetch_document(http, await zones("documented"))
    paths = document["paths"]
    for path, operations in paths.items():
        for operation in operations.values():
            for parameter in operation["parameters"]:
                if parameter["in"] == "path":
                    rule = parameter["schema"]
                    assert "pattern" in rule or rule.get("minimum") == 1, (path, parameter)
    assert paths["/zones/{id}"]["get"]["parameters"][0]["schema"]["minimum"] == 1
    assert paths["/instances/{id}"]["get"]["parameters"][0]["schema"]["pattern"].startswith(
        "^[0-9a-f]{8}"
    )
    assert "409" in paths["/users/{name}"]["delete"]["responses"]
    assert "401" in paths["/auth/tokens"]["post"]["responses"]
    assert {"400", "404", "502", "504", "508"} <= set(paths["/healthz"]["get"]["responses"])
    assert "401" not in paths["/healthz"]["get"]["responses"]


async def test_a_change_of_a_child_is_documented_without_nulls(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    document = await fetch_document(http, await zones("documented"))
    change = document["components"]["schemas"]["ZoneUpdate"]
    assert change["minProperties"] == 1
    assert "null" not in str(change["properties"])
