"""`zones instances list|create|show|delete|move`: instances anywhere in the zone's subtree.

`list` follows `next_marker` page after page, so it shows every instance (at most
`--limit` of them); `--marker` starts after a given one. Zones that could not be
asked (`unreachable_zones`) are named on stderr.
"""

from __future__ import annotations

import argparse
from typing import Any

from zones.node.client.http import Api, segment
from zones.node.client.requirements import as_mapping
from zones.node.client.tables import Output

COLUMNS = ("id", "name", "client", "status", "zone", "host")
PAGE_LIMIT = 1000  # the most the API gives in one page


def list_instances(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    listed = every_page(
        api, arguments.all_clients, arguments.limit, arguments.marker, arguments.page_size
    )
    if output.as_json:
        output.json(listed)
    else:
        rows = [[instance.get(key) for key in COLUMNS] for instance in listed["instances"]]
        output.table(COLUMNS, rows)
        if listed["next_marker"]:
            output.warn(f"more instances: --marker {listed['next_marker']} lists the next ones")
    if listed["unreachable_zones"]:
        output.warn(
            "unreachable zones (their instances may be missing or UNKNOWN): "
            + ", ".join(listed["unreachable_zones"])
        )
    return 0


def every_page(
    api: Api,
    all_clients: bool,
    limit: int | None,
    marker: str | None,
    page_size: int = PAGE_LIMIT,
) -> dict[str, Any]:
    """The pages of `GET /instances` as one answer: every instance up to `limit`, the marker
    to go on from (when `limit` stopped it), and every unreachable zone named once."""
    instances: list[dict[str, Any]] = []
    unreachable: list[str] = []
    while True:
        wanted = page_size if limit is None else min(page_size, limit - len(instances))
        query = {"limit": str(wanted)}
        if all_clients:
            query["all_clients"] = "true"
        if marker:
            query["marker"] = marker
        page = api.call("GET", "/instances", query=query)
        instances += page["instances"]
        unreachable += [
            name for name in page.get("unreachable_zones") or [] if name not in unreachable
        ]
        marker = page.get("next_marker")
        if not marker or (limit is not None and len(instances) >= limit):
            break
    return {"instances": instances, "next_marker": marker, "unreachable_zones": unreachable}


def create_instance(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    instance: dict[str, Any] = {
        "name": arguments.name,
        "requirements": as_mapping(arguments.require),
        "resources": as_mapping(arguments.resource),
    }
    if arguments.id:
        instance["id"] = arguments.id
    show(api.call("POST", "/instances", {"instance": instance}), output)
    return 0


def show_instance(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    show(api.call("GET", f"/instances/{segment(arguments.id)}"), output)
    return 0


def delete_instance(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    api.call("DELETE", f"/instances/{segment(arguments.id)}")
    if not output.as_json:
        output.line(f"deleted instance {arguments.id}")
    return 0


def move_instance(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    move: dict[str, Any] = {}
    if arguments.require:
        move["requirements"] = as_mapping(arguments.require)
    if arguments.to_zone:
        move["zone"] = arguments.to_zone
    show(api.call("POST", f"/instances/{segment(arguments.id)}/move", {"move": move}), output)
    return 0


def show(answer: dict[str, Any], output: Output) -> None:
    """One instance, a field a line; its fault, when it has one, said plainly."""
    if output.as_json:
        output.json(answer)
        return
    instance = answer["instance"]
    shown = [(key, value) for key, value in instance.items() if key not in ("path", "fault")]
    shown.insert(6, ("path", " > ".join(instance.get("path") or [])))
    if instance.get("fault"):
        shown.append(("fault", instance["fault"].get("message")))
    output.fields(shown)
