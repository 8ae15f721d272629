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

Other processes over the same database (a zone's other workers, `zones
reindex`) commit too. Where a publisher is set (`publish_with`: PostgreSQL's
NOTIFY, zones.node.workers.feed), what a transaction wrote of each watched
table is sent from inside that transaction, so it is heard exactly when it is
true, and `told_elsewhere` tells this process's watchers what another's
commit wrote. A watcher with `here=False` hears only other processes: the
writer of a copy that follows its own writes by `after_commit` needs only
those.
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
_PUBLISHER = "zones.commit_publisher"
_WRITTEN = "zones.written_to_publish"


Keys = frozenset[object] | None  # None: any row may have changed
Columns = frozenset[str] | None  # None: rows came or went, or any column may have changed
# What one transaction wrote, per table name: the keys and columns written (None: any).
Written = dict[str, tuple[Keys, Columns]]
Publisher = Callable[[Session, Written], None]


@dataclass(frozen=True)
class _Watcher:
    callback: Callable[[Keys], None]
    columns: frozenset[str] | None  # None: any change of a row counts
    here: bool = True  # told of this process's own commits too, not only of others'

    def cares(self, columns: Columns) -> bool:
        return self.columns is None or columns is None or bool(self.columns & columns)


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
    sessions: async_sessionmaker[AsyncSession],
    table: type[Any],
    callback: Callable[[Keys], None],
    here: bool = True,
) -> None:
    """Call `callback(keys)` after each commit that wrote rows of `table`: the keys the writers
    named (`wrote`), or None when any row may have changed. With `here=False`, only after
    commits of other processes."""
    _watch(sessions, table, _Watcher(callback, None, here))


def publish_with(sessions: async_sessionmaker[AsyncSession], publisher: Publisher) -> None:
    """Have every transaction of these sessions that wrote a watched table call `publisher`
    just before it commits, inside the transaction, with what it wrote."""
    sessions.kw["info"][_PUBLISHER] = publisher


def told_elsewhere(sessions: async_sessionmaker[AsyncSession], written: Written | None) -> None:
    """Another process committed `written` (None: anything, as after a gap in what was
    heard): tell the watchers of those tables."""
    for table, watchers in sessions.kw["info"][_WATCHERS].items():
        keys: Keys = None
        columns: Columns = None
        if written is not None:
            if _name(table) not in written:
                continue
            keys, columns = written[_name(table)]
        for watcher in watchers:
            if watcher.cares(columns):
                watcher.callback(keys)


def _name(table: type[Any]) -> str:
    name: str = table.__tablename__
    return name


def _watch(sessions: async_sessionmaker[AsyncSession], table: type[Any], watcher: _Watcher) -> None:
    sessions.kw["info"][_WATCHERS].setdefault(table, []).append(watcher)


def wrote(session: AsyncSession, table: type[Any], key: object = None) -> None:
    """A Core statement of this session wrote `table` (the row of `key`, or any row when
    None): its watchers are told after commit."""
    info = session.sync_session.info
    watchers = info.get(_WATCHERS, {}).get(table, ())
    for watcher in watchers:
        if watcher.here:
            _tell(info, watcher, key)
    if watchers:
        _note(info, table, key, None)


def _note(info: dict[str, Any], table: type[Any], key: object, columns: Columns) -> None:
    """Keep what was written of `table` for the publisher (the union of keys and columns)."""
    if _PUBLISHER not in info:
        return
    written: dict[str, tuple[set[object] | None, set[str] | None]] = info.setdefault(_WRITTEN, {})
    keys, known_columns = written.get(_name(table), (set(), set()))
    keys = None if key is None or keys is None else {*keys, key}
    known_columns = None if columns is None or known_columns is None else known_columns | columns
    written[_name(table)] = (keys, known_columns)


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


def _changed_columns(row: Any) -> frozenset[str]:
    return frozenset(
        attribute.key for attribute in inspect(row).attrs if attribute.history.has_changes()
    )


@event.listens_for(Session, "after_flush")
def _note_written_rows(session: Session, _context: Any) -> None:
    watched = session.info.get(_WATCHERS)
    if not watched:
        return
    for rows, whole in ((session.new, True), (session.deleted, True), (session.dirty, False)):
        for row in rows:
            watchers = watched.get(type(row), ())
            if not watchers:
                continue
            columns = None if whole else _changed_columns(row)
            for watcher in watchers:
                if watcher.here and watcher.cares(columns):
                    _tell(session.info, watcher, None)
            if columns is None or columns:
                _note(session.info, type(row), None, columns)


@event.listens_for(Session, "before_commit")
def _publish_written(session: Session) -> None:
    publisher = session.info.get(_PUBLISHER)
    if publisher is None:
        return
    session.flush()  # what the commit would flush is written, and noted, first
    written = session.info.pop(_WRITTEN, None)
    if written:
        publisher(
            session,
            {
                table: (
                    None if keys is None else frozenset(keys),
                    None if columns is None else frozenset(columns),
                )
                for table, (keys, columns) in written.items()
            },
        )


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
        session.info.pop(_WRITTEN, None)
