"""`GET /zones/info`: this zone as its parents see it.

The answer merges the zone's own static capabilities, those of its live
hosts (and the instances it holds), and what its healthy children last
reported (an offline or disabled child counts for nothing). `generation` is
derived from the rest of the answer, so it changes exactly when the answer
does; parents send it back as `If-None-Match` and an unchanged zone answers
304 without a body.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from zones.capabilities.aggregate import (
    aggregate,
    aggregate_from_json,
    aggregate_to_json,
    free_from_json,
    free_of_hosts,
    free_to_json,
    merge,
    merge_free,
)
from zones.capabilities.hosts.registry import live_hosts
from zones.node.config import Settings
from zones.node.database import AsyncSession
from zones.router.children.models import ChildZone
from zones.router.children.registry import list_children, zone_names
from zones.router.children.schemas import ChildSummary, ZoneInfo
from zones.router.index.answers import last_change
from zones.router.instances.local import count as count_instances


def generation_of(content: dict[str, Any]) -> int:
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).digest()
    return int.from_bytes(digest[:6], "big")


def etag_of(generation: int) -> str:
    return f'"{generation}"'


async def build_zone_info(session: AsyncSession, settings: Settings, zone_uuid: str) -> ZoneInfo:
    hosts = await live_hosts(session)
    children = await list_children(session)
    capabilities = aggregate([settings.zone.capabilities, *(host.capabilities for host in hosts)])
    free = free_of_hosts(host.free for host in hosts)
    host_count, instance_count = len(hosts), await count_instances(session)
    for child in children:
        if child.is_healthy and child.last_info is not None:
            reported = ZoneInfo.model_validate(child.last_info)
            capabilities = merge(capabilities, aggregate_from_json(reported.capabilities))
            free = merge_free(free, free_from_json(reported.free))
            host_count += reported.hosts
            instance_count += reported.instances
    content: dict[str, Any] = {
        "uuid": zone_uuid,
        "name": settings.zone.name,
        "url": settings.url,
        "capabilities": aggregate_to_json(capabilities),
        "free": free_to_json(free),
        "hosts": host_count,
        "instances": instance_count,
        "children": [
            ChildSummary(name=c.name, state=c.display_state, uuid=c.uuid).model_dump()
            for c in children
        ],
        "descendants": sorted(descendants_of(children)),
        "descendant_names": sorted(descendant_names_of(children)),
        "clients_changed_at": iso(await last_change(session)),
    }
    return ZoneInfo(**content, generation=generation_of(content))


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def descendant_names_of(children: list[ChildZone]) -> set[str]:
    """Every zone name below this one: the names the zones give themselves, as last polled."""
    found: set[str] = set()
    for child in children:
        found.update(zone_names(child))
    return found


def descendants_of(children: list[ChildZone]) -> set[str]:
    """Every zone uuid below this one, as far as the last polls tell."""
    found: set[str] = set()
    for child in children:
        if child.uuid is not None:
            found.add(child.uuid)
        if child.last_info is not None:
            found.update(str(uuid) for uuid in child.last_info.get("descendants", []))
    return found
