"""The poller: every `poll.interval` seconds, ask each enabled child who it is and what it has.

Each child is polled concurrently (at most `POLL_CONCURRENCY` at once) and
each poll is bounded by `poll.timeout`. Connection failures are retried with
jittered backoff inside that bound; an answer, even an error, is not retried.
A poll sends the last generation as `If-None-Match`, so an unchanged child
answers 304 and costs the parent one row update (state, last_seen, latency).

Nothing one child does can stop the round for the others: whatever goes wrong
in one poll, however unexpected, becomes that child's failed outcome, and each
outcome is written in its own savepoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from zones.auth.keys import SecretUnreadable
from zones.errors import ChildError, ChildRefused, ChildTimeout
from zones.node.config import PollSettings
from zones.node.database import Sessions
from zones.router.children.http import ChildClient
from zones.router.children.registry import list_children
from zones.router.children.retries import sent_again_when_lost
from zones.router.children.schemas import ZoneInfo
from zones.router.children.tokens import ChildCredentials, ChildTokens
from zones.router.following.index_sync import fetch_changes
from zones.router.following.info import etag_of
from zones.router.following.rounds import Observer, PollOutcome, PollTarget, record_round

POLL_CONCURRENCY = 64
# Fetching a child's client index changes may take a few poll timeouts (thousands of
# clients after a zone-add); it never counts against the child's health.
CHANGES_TIMEOUT_POLLS = 5
log = logging.getLogger("zones.poller")


class ChildPoller:
    """Polls this zone's children and records what they say; `run_once` is one round."""

    def __init__(
        self,
        sessions: Sessions,
        child_client: ChildClient,
        tokens: ChildTokens,
        settings: PollSettings,
        zone_uuid: str,
        observe: Observer | None = None,
    ) -> None:
        self._observe = observe
        self._sessions = sessions
        self._child_client = child_client
        self._tokens = tokens
        self._settings = settings
        self._zone_uuid = zone_uuid

    async def run(self) -> None:
        """Poll forever, each round starting `interval` after the previous one started."""
        while True:
            started = time.monotonic()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("poll round failed; trying again next round")
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, self._settings.interval - elapsed))

    async def run_once(self) -> list[PollOutcome]:
        targets = await self.targets()
        request_id = f"poll-{uuid.uuid4().hex[:20]}"
        bound = asyncio.Semaphore(POLL_CONCURRENCY)

        async def poll_bounded(target: PollTarget) -> PollOutcome:
            async with bound:
                return await self.poll(target, request_id)

        outcomes = await asyncio.gather(*(poll_bounded(target) for target in targets))
        return await self.record(outcomes)

    async def record(self, outcomes: list[PollOutcome]) -> list[PollOutcome]:
        """Write what polls learnt, in one transaction; the outcomes as recorded."""
        async with self._sessions.begin() as session:
            return await record_round(
                session,
                outcomes,
                self._settings.failures_before_offline,
                self._zone_uuid,
                self._observe,
            )

    async def targets(self) -> list[PollTarget]:
        """Every enabled child, with what it last reported."""
        async with self._sessions.begin() as session:
            children = await list_children(session)
        return [
            PollTarget(
                credentials=ChildCredentials.of(child),
                etag=None if child.last_info is None else etag_of(child.last_info["generation"]),
                clients_reported_at=reported_change(child.last_info),
                clients_known_at=child.clients_known_at,
            )
            for child in children
            if child.enabled
        ]

    async def poll(
        self, target: PollTarget, request_id: str, wait: float | None = None
    ) -> PollOutcome:
        """One poll of one child, or a watch held by it up to `wait` seconds while its info is
        unchanged; the poll timeout bounds the answer beyond that wait."""
        started, held = time.monotonic(), False
        try:
            async with asyncio.timeout(self._settings.timeout + (wait or 0.0)):
                info, held = await self._fetch_retrying(target, request_id, wait)
        except TimeoutError:
            waited = f" after a watch of {wait:g} s" if wait else ""
            error = f"no answer within the poll timeout of {self._settings.timeout} s{waited}"
            return PollOutcome.failed(target, error, started)
        except (ChildError, ChildTimeout) as exc:
            return PollOutcome.failed(target, exc.detail, started)
        except SecretUnreadable as exc:
            return PollOutcome.failed(target, f"{exc}; set the password again", started)
        except Exception as exc:
            # One child's surprise must not cost the round for its siblings.
            log.exception("unexpected failure polling %s", target.credentials.api_url)
            return PollOutcome.failed(target, f"unexpected failure: {type(exc).__name__}", started)
        outcome = replace(PollOutcome.answered(target, info, started), held=held)
        changed = target.clients_reported_at if info is None else info.clients_changed_at
        fetched = await fetch_changes(
            self._child_client,
            self._tokens,
            target,
            changed,
            request_id,
            CHANGES_TIMEOUT_POLLS * self._settings.timeout,
        )
        if fetched is None:
            return outcome
        return replace(outcome, news=fetched.news, clients_known_at=fetched.known_at)

    async def _fetch_retrying(
        self, target: PollTarget, request_id: str, wait: float | None
    ) -> tuple[ZoneInfo | None, bool]:
        return await sent_again_when_lost(lambda: self._fetch(target, request_id, wait))

    async def _fetch(
        self, target: PollTarget, request_id: str, wait: float | None
    ) -> tuple[ZoneInfo | None, bool]:
        try:
            return await self._fetch_with_held_token(target, request_id, wait)
        except ChildRefused as exc:
            if exc.child_status != 401:
                raise
        # The child no longer takes the token it gave us (it restarted with new keys, say).
        self._tokens.forget(target.credentials.child_id)
        return await self._fetch_with_held_token(target, request_id, wait)

    async def _fetch_with_held_token(
        self, target: PollTarget, request_id: str, wait: float | None
    ) -> tuple[ZoneInfo | None, bool]:
        credentials, timeout = target.credentials, self._settings.timeout
        token = await self._tokens.token_for(credentials, request_id, timeout)
        return await self._child_client.watch_info(
            credentials.api_url,
            token,
            request_id=request_id,
            etag=target.etag,
            wait=wait,
            timeout=timeout,
        )


def reported_change(info: dict[str, Any] | None) -> datetime | None:
    raw = None if info is None else info.get("clients_changed_at")
    return None if raw is None else datetime.fromisoformat(str(raw))
