"""Counting what a zone asks of its database: statements and transactions, per request.

Attached to a running zone's engine with SQLAlchemy's engine events, so it
sees every statement the zone sends, whichever code sends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.harness import RunningZone
from zones.node.appkeys import SESSIONS


@dataclass
class Counted:
    """What the zone sent while counting: each statement's text, and the commits."""

    statements: list[str] = field(default_factory=list)
    transactions: int = 0

    @property
    def cost(self) -> dict[str, int]:
        return {"statements": len(self.statements), "transactions": self.transactions}


def engine_of(zone: RunningZone) -> AsyncEngine:
    engine = zone.app[SESSIONS].kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


@contextmanager
def counting(zone: RunningZone) -> Iterator[Counted]:
    """Count the statements and committed transactions of `zone` inside the block."""
    engine = engine_of(zone).sync_engine
    counted = Counted()

    def statement(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        counted.statements.append(" ".join(text.split())[:160])

    def commit(_conn: Any) -> None:
        counted.transactions += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
