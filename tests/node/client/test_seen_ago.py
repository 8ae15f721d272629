"""`zones tree`'s LAST SEEN: how long ago, in the largest unit that fits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from zones.node.client.tree import seen_ago

NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last_seen", "shown"),
    [
        ("2026-12-04T11:59:58.5Z", "1 s ago"),
        ("2026-12-04T11:58:00Z", "2 min ago"),
        ("2026-12-04T09:00:00+00:00", "3 h ago"),
        ("2026-12-01T12:00:00Z", "3 d ago"),
        ("2026-12-04T12:00:05Z", "0 s ago"),  # a parent's clock a little ahead
        (None, None),
        ("yesterday", "yesterday"),
    ],
)
def test_seen_ago(last_seen: str | None, shown: str | None) -> None:
    assert seen_ago(last_seen, NOW) == shown
