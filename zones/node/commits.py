"""What runs once a transaction has committed: how copies in memory follow the database.

Memory only ever holds copies of what the database holds; a copy may change
only once the write it copies is true. Three ways in:

- `after_commit(session, callback)`: the writer knows what changed (a host's
  amounts, a heartbeat) and hands the copy its new value, run after the commit
  and dropped on rollback;
- `watch_commits(sessions, Table, callback, columns)`: a reader of a table is
  told after every commit that wrote it, through the ORM (rows added, deleted,
  or changed in one of `columns`) or through Core statements that say so with
  `wrote(session, Table)`;
- `watch_keys(sessions, Table, callback)`: the same, told which keys were
  written (`wrote(session, Table, key)`), or None when it cannot be told
  (an ORM write, a write of many rows): a copy per key forgets only those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

_WATCHERS = "zones.commit_watchers"
_TOLD = "zones.watchers_to_tell"
_AFTER_COMMIT = "zones.after_commit"


Keys = frozenset[object] | None  # None: any row may have changed


@dataclass(frozen=True)
class _Watcher:
    callback: Callable[[Keys], None]
    columns: frozenset[str] | None  # None: any change of a row counts


def session_info() -> dict[str, Any]:
    """The `info` a sessionmaker starts with, where its watchers are kept."""
    return {_WATCHERS: {}}


def watch_commits(
    sessions: async_sessionmaker[AsyncSession],
    table: type[Any],
    callback: Callable[[], None],
    columns: Iterable[str] | None = None,
) -> None:
    """Call `callback` after each commit of these sessions that wrote rows of `table`
    (with `columns`, only rows added, deleted, or changed in one of those columns)."""
    chosen = None if columns is None else frozenset(columns)
    _watch(sessions, table, _Watcher(lambda _keys: callback(), chosen))


def watch_keys(
    sessions: async_sessionmaker[AsyncSession], table: type[Any], callback: Callable[[Keys], None]
) -> None:
    """Call `callback(keys)` after each commit that wrote rows of `table`: the keys the writers
    named (`wrote`), or None when any row may have changed."""
    _watch(sessions, table, _Watcher(callback, None))


def _watch(sessions: async_sessionmaker[AsyncSession], table: type[Any], watcher: _Watcher) -> None:
    sessions.kw["info"][_WATCHERS].setdefault(table, []).append(watcher)


def wrote(session: AsyncSession, table: type[Any], key: object = None) -> None:
    """A Core statement of this session wrote `table` (the row of `key`, or any row when
    None): its watchers are told after commit."""
    info = session.sync_session.info
    for watcher in info.get(_WATCHERS, {}).get(table, ()):
        _tell(info, watcher, key)


def _tell(info: dict[str, Any], watcher: _Watcher, key: object) -> None:
    told: dict[_Watcher, set[object] | None] = info.setdefault(_TOLD, {})
    if key is None:
        told[watcher] = None
    elif watcher not in told:
        told[watcher] = {key}
    elif (keys := told[watcher]) is not None:
        keys.add(key)


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's transaction has committed, never if it rolls back:
    how a copy in memory learns of a write only when the write is true."""
    session.sync_session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def _changed(row: Any, columns: frozenset[str]) -> bool:
    attributes = inspect(row).attrs
    return any(attributes[name].history.has_changes() for name in columns)


@event.listens_for(Session, "after_flush")
def _note_written_rows(session: Session, _context: Any) -> None:
    watched = session.info.get(_WATCHERS)
    if not watched:
        return
    for rows, whole in ((session.new, True), (session.deleted, True), (session.dirty, False)):
        for row in rows:
            for watcher in watched.get(type(row), ()):
                if whole or watcher.columns is None or _changed(row, watcher.columns):
                    _tell(session.info, watcher, None)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, []):
        callback()
    for watcher, keys in session.info.pop(_TOLD, {}).items():
        watcher.callback(None if keys is None else frozenset(keys))


@event.listens_for(Session, "after_transaction_end")
def _drop_after_rollback(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_AFTER_COMMIT, None)
        session.info.pop(_TOLD, None)
