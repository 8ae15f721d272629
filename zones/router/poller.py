"""The poller: every `poll.interval` seconds, ask each enabled child who it is and what it has.

Each child is polled concurrently (at most `POLL_CONCURRENCY` at once) and
each poll is bounded by `poll.timeout`. Connection failures are retried with
jittered backoff inside that bound; an answer, even an error, is not retried.
A poll sends the last generation as `If-None-Match`, so an unchanged child
answers 304 and costs the parent no write beyond `last_seen`.

A child is `offline` after `failures_before_offline` failed polls in a row and
`online` again on its first good poll. A child whose subtree contains this
zone (a loop closed after it was added) is `offline` at once: counting it
would feed the zone's own capacity back into itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from zones.errors import ChildError, ChildRefused, ChildTimeout, ChildUnreachable
from zones.node.config import PollSettings
from zones.node.database import Sessions
from zones.router.child_tokens import ChildCredentials, ChildTokens
from zones.router.children import list_children
from zones.router.client import ChildClient
from zones.router.info import etag_of
from zones.router.polled import PollOutcome, record_poll
from zones.router.schemas import ZoneInfo

POLL_CONCURRENCY = 64
CONNECT_ATTEMPTS = 3
log = logging.getLogger("zones.poller")


@dataclass(frozen=True)
class PollTarget:
    credentials: ChildCredentials
    etag: str | None


class ChildPoller:
    """Polls this zone's children and records what they say; `run_once` is one round."""

    def __init__(
        self,
        sessions: Sessions,
        client: ChildClient,
        tokens: ChildTokens,
        settings: PollSettings,
        zone_uuid: str,
    ) -> None:
        self._sessions = sessions
        self._client = client
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
        targets = await self._targets()
        bound = asyncio.Semaphore(POLL_CONCURRENCY)

        async def poll_bounded(target: PollTarget) -> PollOutcome:
            async with bound:
                return await self._poll(target)

        outcomes = await asyncio.gather(*(poll_bounded(target) for target in targets))
        async with self._sessions.begin() as session:
            for outcome in outcomes:
                await record_poll(
                    session, outcome, self._settings.failures_before_offline, self._zone_uuid
                )
        return list(outcomes)

    async def _targets(self) -> list[PollTarget]:
        async with self._sessions.begin() as session:
            children = await list_children(session)
        return [
            PollTarget(
                credentials=ChildCredentials(
                    child.id, child.api_url, child.username, child.password_encrypted
                ),
                etag=None if child.last_info is None else etag_of(child.last_info["generation"]),
            )
            for child in children
            if child.enabled
        ]

    async def _poll(self, target: PollTarget) -> PollOutcome:
        started = time.monotonic()
        child_id = target.credentials.child_id
        try:
            async with asyncio.timeout(self._settings.timeout):
                info = await self._fetch_retrying(target)
        except TimeoutError:
            error = f"no answer within the poll timeout of {self._settings.timeout} s"
            return PollOutcome.failed(child_id, error, started)
        except (ChildError, ChildTimeout) as exc:
            return PollOutcome.failed(child_id, exc.detail, started)
        except ValueError as exc:  # a sealed password this zone's key cannot open
            return PollOutcome.failed(child_id, str(exc), started)
        return PollOutcome.answered(child_id, info, started)

    async def _fetch_retrying(self, target: PollTarget) -> ZoneInfo | None:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(ChildUnreachable),
            stop=stop_after_attempt(CONNECT_ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.05, max=0.5),
            reraise=True,
        )
        return await retrying(self._fetch, target)

    async def _fetch(self, target: PollTarget) -> ZoneInfo | None:
        credentials = target.credentials
        timeout = self._settings.timeout
        token = await self._tokens.token_for(credentials, timeout)
        try:
            return await self._client.fetch_info(credentials.api_url, token, target.etag, timeout)
        except ChildRefused as exc:
            if exc.child_status != 401:
                raise
        self._tokens.forget(credentials.child_id)
        token = await self._tokens.token_for(credentials, timeout)
        return await self._client.fetch_info(credentials.api_url, token, target.etag, timeout)
