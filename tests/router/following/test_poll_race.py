"""A child removed while a poll round is being written: the round still records every other
child, and the removed one stays removed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from sqlalchemy import event

from tests.conftest import ZoneStarter
from tests.router.tree import Tree
from zones.node.appkeys import SESSIONS


@contextmanager
def removed_once_the_round_has_read_it(zone: Any, child_id: int) -> Iterator[list[bool]]:
    """Deletes the child, through a connection of its own, right after the round's read of
    the children it polled: the very moment a `DELETE /zones/{id}` can slip in."""
    engine = zone.app[SESSIONS].kw["bind"].sync_engine
    path = zone.settings.database_url.removeprefix("sqlite+aiosqlite:///")
    fired: list[bool] = []

    def remove(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if fired or "FROM child_zones" not in statement or "child_zones.id IN" not in statement:
            return
        fired.append(True)
        with sqlite3.connect(path, timeout=5) as raw:
            raw.execute("PRAGMA foreign_keys = ON")
            raw.execute("DELETE FROM child_zones WHERE id = ?", (child_id,))

    event.listen(engine, "after_cursor_execute", remove)
    try:
        yield fired
    finally:
        event.remove(engine, "after_cursor_execute", remove)


async def test_a_child_removed_during_the_round_costs_no_other_child_its_poll(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    tree = Tree(http)
    for name in ("gone", "kept", "root"):
        await tree.start(zones, name)
    gone = await tree.add_child("root", "gone")
    await tree.add_child("root", "kept")
    await tree.heartbeat("kept", "k1", inventory={"ram_mb": 512})
    with removed_once_the_round_has_read_it(tree.zones["root"], gone["id"]) as fired:
        outcomes = await tree.poll("root")
    assert fired == [True]
    assert [outcome.child_id for outcome in outcomes] == [tree.child_ids[("root", "kept")]]
    listed = await tree.admins["root"].call("GET", "/zones")
    assert [(zone["name"], zone["state"]) for zone in listed.body["zones"]] == [("kept", "online")]
    kept = await tree.child("root", "kept")
    assert kept["hosts"] == 1  # the round's news of it was written
