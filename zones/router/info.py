"""`GET /zones/info`: this zone as its parents see it.

For now a zone reports its own static capabilities only; hosts and children
join the aggregate when they exist. `generation` is derived from the rest of
the answer, so it changes exactly when the answer does and parents can skip
unchanged children cheaply.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from zones.capabilities.values import summarize
from zones.node.config import Settings
from zones.router.schemas import ZoneInfo


def generation_of(content: dict[str, Any]) -> int:
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).digest()
    return int.from_bytes(digest[:6], "big")


def build_zone_info(settings: Settings, zone_uuid: str) -> ZoneInfo:
    content: dict[str, Any] = {
        "uuid": zone_uuid,
        "name": settings.zone.name,
        "url": settings.url,
        "capabilities": summarize(settings.zone.capabilities),
        "free": {},
        "hosts": 0,
        "instances": 0,
        "children": [],
    }
    return ZoneInfo(**content, generation=generation_of(content))
