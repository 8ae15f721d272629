"""The watcher: one watch held open on each enabled child, so its changes are known at once.

Each child's watch is a `GET /zones/info` that the child holds until its
info differs from what this zone last recorded, or until `poll.interval`
passes (then 304); it is sent again as soon as it returns. A child that does
not hold it (an older zone) is polled every `poll.interval`, as a failed or
refused watch is. Health keeps the poller's one definition: a watch that
fails or times out is a failed poll (zones.router.following.rounds).

What the watches learn is written by one recorder, many answers to a
transaction when they arrive together, so 200 children answering at once
cost a few commits, not 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from zones.node.commits import watch_commits
from zones.node.config import PollSettings
from zones.node.database import Sessions
from zones.node.http.prefer import MAX_WAIT
from zones.router.children.models import ChildZone
from zones.router.children.tokens import ChildCredentials
from zones.router.following.poller import ChildPoller
from zones.router.following.rounds import PollOutcome, PollTarget

log = logging.getLogger("zones.watcher")
# A change of these (or a child added or removed) starts, stops or restarts its watch.
HOW_REACHED = ("api_url", "username", "password_encrypted", "enabled")
RETRY_AFTER_OWN_FAILURE = 1.0  # seconds: after this zone failed to read or record a watch


class ChildWatcher:
    """Keeps one watch loop per enabled child, started and stopped as children change."""

    def __init__(self, poller: ChildPoller, sessions: Sessions, settings: PollSettings) -> None:
        self._poller, self._settings = poller, settings
        self._recorder = Recorder(poller)
        self._watches: dict[int, tuple[ChildCredentials, asyncio.Task[None]]] = {}
        self._children_moved = asyncio.Event()
        watch_commits(sessions, ChildZone, self._children_moved.set, columns=HOW_REACHED)

    async def run(self) -> None:
        """Follow the children until cancelled: each enabled one watched, the others not."""
        recording = asyncio.create_task(self._recorder.run(), name="watch recorder")
        try:
            while True:
                self._children_moved.clear()
                pause = self._settings.interval
                try:
                    self._follow(await self._poller.targets())
                except Exception:
                    log.exception("cannot read the children to watch; trying again")
                    pause = min(pause, RETRY_AFTER_OWN_FAILURE)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._children_moved.wait()
        finally:
            for _, task in self._watches.values():
                task.cancel()
            recording.cancel()
            await asyncio.gather(
                recording, *(task for _, task in self._watches.values()), return_exceptions=True
            )

    def _follow(self, targets: list[PollTarget]) -> None:
        wanted = {target.credentials.child_id: target for target in targets}
        for child_id, (credentials, task) in list(self._watches.items()):
            target = wanted.get(child_id)
            if target is None or target.credentials != credentials or task.done():
                task.cancel()
                del self._watches[child_id]
        for child_id, target in wanted.items():
            if child_id not in self._watches:
                task = asyncio.create_task(self._watch(target), name=f"watch child {child_id}")
                self._watches[child_id] = (target.credentials, task)

    async def _watch(self, target: PollTarget) -> None:
        """Watch one child for as long as it is followed."""
        wait = watch_wait(self._settings)
        while True:
            started = time.monotonic()
            request_id = f"watch-{uuid.uuid4().hex[:20]}"
            try:
                recorded = await self._recorder.record(
                    await self._poller.poll(target, request_id, wait)
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                # This zone's own failure (its database, mostly), not the child's: the watch
                # is held again soon, not after a whole interval without news.
                log.exception("watch of child %s failed", target.credentials.child_id)
                await asyncio.sleep(min(self._settings.interval, RETRY_AFTER_OWN_FAILURE))
                continue
            if recorded is not None:
                target = recorded.next_target()
                if recorded.ok and recorded.held:
                    continue  # a held watch came back (changed, or quiet): at once again
            await asyncio.sleep(max(0.0, self._settings.interval - (time.monotonic() - started)))


def watch_wait(settings: PollSettings) -> float:
    """How long a child is asked to hold a watch: `poll.interval`, as far as a child holds one
    (MAX_WAIT). Asking for more would make this zone wait that long for a hung child."""
    return min(settings.interval, MAX_WAIT)


class Recorder:
    """Writes the outcomes of watches in batches: whatever arrived while the last batch was
    being written goes into the next transaction."""

    def __init__(self, poller: ChildPoller) -> None:
        self._poller = poller
        self._waiting: asyncio.Queue[tuple[PollOutcome, asyncio.Future[PollOutcome | None]]] = (
            asyncio.Queue()
        )

    async def record(self, outcome: PollOutcome) -> PollOutcome | None:
        """The outcome as recorded; None when the child is no longer followed as it was."""
        done: asyncio.Future[PollOutcome | None] = asyncio.get_running_loop().create_future()
        await self._waiting.put((outcome, done))
        return await done

    async def run(self) -> None:
        while True:
            batch = [await self._waiting.get()]
            while not self._waiting.empty():
                batch.append(self._waiting.get_nowait())
            await self._write(batch)

    async def _write(
        self, batch: list[tuple[PollOutcome, asyncio.Future[PollOutcome | None]]]
    ) -> None:
        try:
            recorded = await self._poller.record([outcome for outcome, _ in batch])
        except Exception as exc:
            log.exception("cannot record what %d watches learnt", len(batch))
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        by_target = {id(outcome.target): outcome for outcome in recorded}
        for outcome, done in batch:
            if not done.done():
                done.set_result(by_target.get(id(outcome.target)))
