"""The watch on one trusted issuer's revocations, so its revoked tokens are refused here too.

Each watch is a `GET {issuer}/auth/revocations?after=<as_of>` with `Prefer: wait`, which
the issuer holds until it revokes something (or the wait ends); it is sent again as soon
as it returns. A failed read (unreachable, timed out, an answer not of the right shape)
is tried again after a pause that doubles from `FIRST_PAUSE` up to `LONGEST_PAUSE`. What
the issuer says goes to the zone's `RevocationList`, which also counts how long the
issuer has gone unread (`auth.revocation_grace`).

The wait asked for is a quarter of the grace (at most the longest watch an issuer holds),
so that a quiet issuer's held watches come back well within the grace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC

import aiohttp
from pydantic import ValidationError

from zones.auth.revocations import RevocationList
from zones.auth.schemas import Revocations
from zones.node.http.prefer import MAX_WAIT

log = logging.getLogger("zones.auth")

FIRST_PAUSE = 0.2
LONGEST_PAUSE = 2.0
QUICK_ANSWER = 0.05  # seconds: a held watch that answers faster had nothing to hold for
QUICK_ANSWERS_IN_A_ROW = 3


class RevocationWatchFailed(Exception):
    """One read of an issuer's revocations did not give an answer to use."""


class RevocationWatch:
    """Follows one issuer's revocations for as long as it runs."""

    def __init__(
        self,
        issuer: str,
        session: aiohttp.ClientSession,
        revocations: RevocationList,
        grace: float,
        timeout: float,
    ) -> None:
        self.issuer = issuer
        self._session, self._revocations = session, revocations
        self._wait = min(MAX_WAIT, grace / 4)
        self._timeout = aiohttp.ClientTimeout(total=self._wait + timeout)
        self._after: str | None = None  # the issuer's last `as_of`, as it wrote it

    async def run(self) -> None:
        """Watch until cancelled; a failure is tried again after a bounded pause, and so is
        a run of answers that come back at once (an issuer whose clock went back)."""
        pause = FIRST_PAUSE
        quick = 0
        while True:
            started = time.monotonic()
            try:
                await self.run_once()
            except Exception as exc:  # never let the watch die: it is what keeps us current
                if not isinstance(exc, RevocationWatchFailed):
                    log.exception("the watch on issuer %s failed unexpectedly", self.issuer)
                # Said once per outage; the tries after it, while the issuer stays away, quietly.
                level = logging.WARNING if pause == FIRST_PAUSE else logging.DEBUG
                log.log(level, "cannot read the revocations of issuer %s: %s", self.issuer, exc)
                self._revocations.not_learnt(self.issuer)
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
                continue
            pause = FIRST_PAUSE
            quick = quick + 1 if time.monotonic() - started < QUICK_ANSWER else 0
            if quick >= QUICK_ANSWERS_IN_A_ROW:
                await asyncio.sleep(FIRST_PAUSE)

    async def run_once(self) -> None:
        """One read: held by the issuer until it revokes something or the wait ends."""
        params = {} if self._after is None else {"after": self._after}
        headers = {"Prefer": f"wait={self._wait:g}"}
        url = f"{self.issuer}/auth/revocations"
        try:
            async with self._session.get(
                url, params=params, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise RevocationWatchFailed(f"{url} answered {response.status}")
                answer = Revocations.model_validate_json(await response.read())
        except (aiohttp.ClientError, TimeoutError, ValidationError) as exc:
            raise RevocationWatchFailed(f"{url}: {exc!r}"[:500]) from exc
        self._revocations.learnt(
            self.issuer, ((entry.subject, entry.not_before) for entry in answer.revocations)
        )
        # With Z, not +00:00: a "+" sent as it is would be read as a space.
        self._after = answer.as_of.astimezone(UTC).isoformat().replace("+00:00", "Z")
