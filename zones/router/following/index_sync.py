"""What a parent learns, with each poll, of the client index changes made below its children.

Creates and deletes that enter at a child or below never pass through the
parent, so its index would not know them. Each child's `/zones/info` says
when its index last changed (`clients_changed_at`); when that is later than
what the parent has fetched (`child_zones.clients_known_at`), the parent
pages through the child's `/auth/lookup/changes` and keeps each answer
(zones.router.following.rounds). A change is stamped when its transaction takes the
client's row, not when it commits, so a later-stamped change can commit
first: the parent keeps its fetched position `CHANGES_OVERLAP` behind the
child's clock, and fetches that window again with the next polls.

This never fails a poll: a child whose changes cannot be fetched now is
asked again next time, and its health is judged by `/zones/info` alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from zones.router.children.http import ChildClient
from zones.router.children.tokens import ChildTokens
from zones.router.following.rounds import PollTarget
from zones.router.index.answers import News, changes_in

CHANGES_OVERLAP = timedelta(seconds=30)
CHANGES_PAGE = 1000
log = logging.getLogger("zones.poller")


@dataclass(frozen=True)
class Fetched:
    news: tuple[News, ...]
    known_at: datetime  # the child's clients_changed_at up to which nothing can be missing


async def fetch_changes(
    child_client: ChildClient,
    tokens: ChildTokens,
    target: PollTarget,
    changed: datetime | None,
    request_id: str,
    timeout: float,
) -> Fetched | None:
    """The child's answers for the clients changed since the last fetch; None when there
    is nothing to fetch or it cannot be fetched now."""
    known = target.clients_known_at
    if changed is None or (known is not None and changed <= known):
        return None
    try:
        async with asyncio.timeout(timeout):
            news, as_of = await _pages(child_client, tokens, target, known, request_id)
    except Exception as exc:  # noqa: BLE001 - whatever it was, the next poll asks again
        log.warning(
            "cannot fetch the client index changes of %s: %r", target.credentials.api_url, exc
        )
        return None
    return Fetched(tuple(news), min(changed, as_of - CHANGES_OVERLAP))


async def _pages(
    child_client: ChildClient,
    tokens: ChildTokens,
    target: PollTarget,
    known: datetime | None,
    request_id: str,
) -> tuple[list[News], datetime]:
    credentials = target.credentials
    token = await tokens.token_for(credentials, request_id)
    after = None if known is None else f"{known.isoformat()},"
    news: list[News] = []
    as_of: datetime | None = None
    while True:
        parameters = {"limit": str(CHANGES_PAGE)}
        if after is not None:
            parameters["after"] = after
        path = f"/auth/lookup/changes?{urlencode(parameters)}"
        reply = await child_client.forward(
            credentials.api_url, "GET", path, caller_token=token, headers={}, request_id=request_id
        )
        status, body = reply.status, reply.body
        page = changes_in(body) if status == 200 else None
        if page is None:
            raise ValueError(f"{path} answered {status}: {_detail(body)}")
        changes, page_as_of = page
        as_of = as_of or page_as_of
        news += [change for change, _ in changes]
        if len(changes) < CHANGES_PAGE:
            return news, as_of
        last_news, last_at = changes[-1]
        after = f"{last_at.isoformat()},{last_news.client}"


def _detail(body: Any) -> str:
    return str(body.get("detail"))[:200] if isinstance(body, dict) else "not a JSON object"
