"""`zones zones list|add|show|remove`: the children registered in a zone (`/zones`).

`show` and `remove` take a child's name or its id: a name is found in `GET /zones`.
"""

from __future__ import annotations

import argparse
from typing import Any

from zones.node.client.http import Api
from zones.node.client.problems import ClientError
from zones.node.client.session import ask_password
from zones.node.client.tables import Output, free_text

COLUMNS = ("id", "name", "api_url", "state", "enabled", "weight_offset", "last_seen")
CHILD_PASSWORD_ENV = "ZONES_CHILD_PASSWORD"


def list_children(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    answer = api.call("GET", "/zones")
    if output.as_json:
        output.json(answer)
    else:
        output.table(COLUMNS, [[zone.get(key) for key in COLUMNS] for zone in answer["zones"]])
    return 0


def add_child(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    password = arguments.password or ask_password(
        f"password of {arguments.username} at {arguments.api_url}: ", CHILD_PASSWORD_ENV
    )
    zone: dict[str, Any] = {
        "api_url": arguments.api_url,
        "username": arguments.username,
        "password": password,
        "enabled": not arguments.disabled,
        "weight_offset": arguments.weight_offset,
    }
    if arguments.name:
        zone["name"] = arguments.name
    answer = api.call("POST", "/zones", {"zone": zone})
    if output.as_json:
        output.json(answer)
    else:
        added = answer["zone"]
        output.line(f"added child {added['name']} (id {added['id']}) at {added['api_url']}")
    return 0


def show_child(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    child_id = child_id_of(api, arguments.child)
    answer = api.call("GET", f"/zones/{child_id}/detail")
    if output.as_json:
        output.json(answer)
        return 0
    zone = answer["zone"]
    shown = [(key, value) for key, value in zone.items() if key not in ("free", "children")]
    shown.append(("free", free_text(zone.get("free"))))
    below = zone.get("children") or []
    shown.append(("children", [f"{c.get('name')} ({c.get('state')})" for c in below]))
    output.fields(shown)
    return 0


def remove_child(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    child_id = child_id_of(api, arguments.child)
    api.call("DELETE", f"/zones/{child_id}")
    if not output.as_json:
        output.line(f"removed child {arguments.child} (id {child_id})")
    return 0


def child_id_of(api: Api, name_or_id: str) -> int:
    """The id of the child named `name_or_id`, else of the child with that id."""
    children = api.call("GET", "/zones")["zones"]
    for wanted in ("name", "id"):
        for child in children:
            if str(child[wanted]) == name_or_id:
                return int(child["id"])
    raise ClientError(f"Not Found: no child named {name_or_id!r} (or with that id) here")
