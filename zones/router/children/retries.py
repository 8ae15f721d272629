"""Sending a call to a child again when it could not be reached or its answer was lost.

The first sending is a plain call: most calls are answered, and building
tenacity's retry state for each of them cost the poll round about a sixth of
its CPU. Only a call that failed to connect or lost its answer goes on to
tenacity's attempts, with jittered exponential backoff, up to
`CONNECT_ATTEMPTS` sendings in all. An answer, even an error, is never sent
again here: only the caller knows whether a call may be repeated (a create
carries its id; a poll is a read).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from zones.errors import ChildAnswerLost, ChildUnreachable

CONNECT_ATTEMPTS = 3
FIRST_PAUSE_SECONDS = 0.05  # at most, before the second sending; doubled for each later one
LONGEST_PAUSE_SECONDS = 0.5
T = TypeVar("T")


async def sent_again_when_lost(send: Callable[[], Awaitable[T]]) -> T:
    """`send()`'s result; after a ChildUnreachable or ChildAnswerLost, `send()` again, up to
    CONNECT_ATTEMPTS sendings, and the last failure raised when none got through."""
    try:
        return await send()
    except (ChildUnreachable, ChildAnswerLost):
        pass
    await asyncio.sleep(random.uniform(0, FIRST_PAUSE_SECONDS))
    retrying = AsyncRetrying(
        retry=retry_if_exception_type((ChildUnreachable, ChildAnswerLost)),
        stop=stop_after_attempt(CONNECT_ATTEMPTS - 1),
        wait=wait_random_exponential(multiplier=2 * FIRST_PAUSE_SECONDS, max=LONGEST_PAUSE_SECONDS),
        reraise=True,
    )

    async def attempt() -> T:  # a coroutine function: tenacity awaits what it returns
        return await send()

    return await retrying(attempt)
