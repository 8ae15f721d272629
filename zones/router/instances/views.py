"""How an instance is shown: as this zone holds it, as a child answered it, or as last seen."""

from __future__ import annotations

from typing import Any

from zones.router.instances.models import Instance as InstanceRow
from zones.router.instances.route import Route


def local_view(row: InstanceRow) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "client": row.client,
        "status": row.status,
        "zone": row.zone,
        "host": row.host,
        "path": row.path,
        "requirements": row.requirements,
        "resources": row.resources,
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
    }
    if row.fault:
        shown["fault"] = {"message": row.fault}
    return shown


def through(route: Route, instance: dict[str, Any]) -> dict[str, Any]:
    """An instance a child answered, as this zone shows it: its own name first on the path."""
    return {**instance, "path": [route.name, *instance.get("path", [])]}


def unknown(snapshot: dict[str, Any]) -> dict[str, Any]:
    """An instance below a child that cannot be asked now, as last seen."""
    return {**snapshot, "status": "UNKNOWN"}
