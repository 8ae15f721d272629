"""`zones tree`: the zone's whole subtree from `GET /zones/tree`, one indented line a zone."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from zones.node.client.http import Api
from zones.node.client.tables import Output, free_text

COLUMNS = ("zone", "state", "hosts", "instances", "free", "last seen")
INDENT = "  "


def show_tree(api: Api, arguments: argparse.Namespace, output: Output) -> int:
    answer = api.call("GET", "/zones/tree")
    if output.as_json:
        output.json(answer)
    else:
        output.table(COLUMNS, tree_rows(answer["zone"]))
    return 0


def tree_rows(zone: dict[str, Any], depth: int = 0) -> list[list[Any]]:
    """The zone and, below it and indented, its children depth first."""
    row = [
        INDENT * depth + str(zone.get("name")),
        zone.get("state"),
        zone.get("hosts"),
        zone.get("instances"),
        free_text(zone.get("free")),
        seen_ago(zone.get("last_seen")),
    ]
    rows = [row]
    for child in zone.get("children") or []:
        rows += tree_rows(child, depth + 1)
    return rows


def seen_ago(last_seen: Any, now: datetime | None = None) -> str | None:
    """`3 s ago` (or minutes, hours, days) for a zone's last_seen; as it came when unreadable."""
    if not isinstance(last_seen, str):
        return None
    try:
        seen = datetime.fromisoformat(last_seen.replace("Z", "+00:00"))
    except ValueError:
        return last_seen
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=UTC)
    seconds = max(0, int(((now or datetime.now(UTC)) - seen).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"
