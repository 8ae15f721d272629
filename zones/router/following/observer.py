"""What a zone tells of following its children: poll times in the metrics, and log lines.

One line when a child changes state (online, offline), naming it and why. A
child that keeps failing is logged at its first failure and then at most once a
minute, with how many failures the line stands for: a zone with a child down
for a day writes a line a minute about it, not one per poll.
"""

from __future__ import annotations

import logging
import time

from zones.node.logs import event
from zones.node.metrics.registry import Metrics
from zones.router.children.models import ChildZone
from zones.router.following.rounds import PollOutcome

FAILURES_LOGGED_EVERY = 60.0  # seconds
log = logging.getLogger("zones.poller")


class ChildObserver:
    """Told of every recorded poll or watch outcome (zones.router.following.rounds)."""

    def __init__(self, metrics: Metrics, zone: str) -> None:
        self._metrics = metrics
        self._zone = zone
        # child id -> (when its failures were last logged, failures not logged since)
        self._failures: dict[int, tuple[float, int]] = {}

    def __call__(self, child: ChildZone, outcome: PollOutcome, before: str) -> None:
        if not outcome.held:  # a held watch's time is the wait, not the child's
            seconds = outcome.latency_ms / 1000
            self._metrics.child_poll_seconds.labels(child.name).observe(seconds)
        if child.state != before:
            self.state_changed(child, outcome, before)
        if outcome.ok:
            self._failures.pop(child.id, None)
        else:
            self.failed(child, outcome)

    def state_changed(self, child: ChildZone, outcome: PollOutcome, before: str) -> None:
        reason = "it answered" if outcome.ok else (outcome.error or "it failed")
        if not outcome.ok:
            reason = f"{child.failures} failed polls in a row, the last: {reason}"
        event(
            log,
            f"child {child.name} is {child.state} (was {before}): {reason}",
            logging.INFO if outcome.ok else logging.WARNING,
            event="child-state",
            zone=self._zone,
            child=child.name,
            state=child.state,
            previous=before,
            reason=reason,
        )

    def failed(self, child: ChildZone, outcome: PollOutcome) -> None:
        now = time.monotonic()
        logged_at, unlogged = self._failures.get(child.id, (None, 0))
        if logged_at is not None and now - logged_at < FAILURES_LOGGED_EVERY:
            self._failures[child.id] = (logged_at, unlogged + 1)
            return
        self._failures[child.id] = (now, 0)
        count = unlogged + 1
        event(
            log,
            f"polling child {child.name} failed ({count} time{'s' if count > 1 else ''} "
            f"since the last such line): {outcome.error}",
            logging.WARNING,
            event="child-poll-failed",
            zone=self._zone,
            child=child.name,
            failures=count,
            failures_in_a_row=child.failures,
            error=outcome.error,
        )
