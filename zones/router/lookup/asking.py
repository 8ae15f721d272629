"""The lookup by asking, for while the client index is being rebuilt and cannot be trusted.

The same rule as the index (zones.router.index.answers), over what this zone
holds itself and what each healthy child answers to `/auth/lookup` now. A
child that cannot be asked might manage the client: then this zone answers
itself, the only answer sure to contain everything (never a zone too low).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select

from zones.errors import ChildError, ChildTimeout
from zones.router.children.models import ChildZone
from zones.router.index.answers import Here, answer_in, through_child
from zones.router.instances.models import Instance
from zones.router.instances.route import Route

Unsure = object()


async def ask_children(route: Route, client: str, here: Here) -> dict[str, Any] | None:
    async with route.sessions.begin() as session:
        held = await session.scalar(
            select(func.count()).select_from(Instance).where(Instance.client == client)
        )
    if held:
        return here.answer()
    children = [child for child in await route.cache.children() if child.is_healthy]
    answers = await asyncio.gather(*(ask(route, child, client) for child in children))
    pairs = zip(children, answers, strict=True)
    holding = [(child, answer) for child, answer in pairs if answer is not None]
    if len(holding) == 1 and holding[0][1] is not Unsure:
        child, answer = holding[0]
        return through_child(here, answer, child.name, child.api_url)
    return here.answer() if holding else None


async def ask(route: Route, child: ChildZone, client: str) -> Any:
    """The child's answer; None when it manages nothing; `Unsure` when it cannot tell us."""
    try:
        answer = await route.send(child, "GET", f"/auth/lookup?{urlencode({'client': client})}")
    except (ChildError, ChildTimeout):
        return Unsure
    if answer.status == 404:
        return None
    found = answer_in(answer.body) if answer.status == 200 else None
    return Unsure if found is None else found
