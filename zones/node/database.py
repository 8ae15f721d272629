"""The zone's database: engine, sessions and the schema migrations run at start.

SQLite (through aiosqlite) is the embedded default, in WAL mode with foreign
keys on; PostgreSQL (through asyncpg) runs the same code. The schema belongs to
Alembic: `migrate` upgrades it to the newest revision before the app serves.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, DateTime, Dialect, Table, event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from zones.node.commits import session_info

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

Sessions = async_sessionmaker[AsyncSession]


class Base(DeclarativeBase):
    """The declarative base of every table a zone keeps."""


def create_engine(url: str, connections: int = 10, wait: float = 30.0) -> AsyncEngine:
    """An engine for `url`; on PostgreSQL, at most `connections` kept open, a statement
    waiting at most `wait` seconds for one of them."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    # Kept open, not made per request (a PostgreSQL connection is a server process), and
    # bounded: more requests than connections wait their turn rather than open more.
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=connections, max_overflow=0, pool_timeout=wait
    )


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_sessions(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False, info=session_info())


# Alembic keeps its migration context in module globals, so two zones served by
# one process (tests, benchmarks) must not migrate at the same time.
_MIGRATION_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)
# Several processes over one PostgreSQL database take turns through this lock.
_MIGRATION_ADVISORY_LOCK = 0x7A6F6E6573


async def migrate(engine: AsyncEngine) -> None:
    """Create or upgrade the schema to the newest Alembic revision."""
    lock = _MIGRATION_LOCKS.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_ADVISORY_LOCK}
            )
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back as aware UTC, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


async def upsert(
    session: AsyncSession,
    table: type[Base],
    values: dict[str, Any],
    keys: list[str],
    update: list[str] | None = None,
) -> None:
    """Insert a row, or update it where one with the same `keys` exists, in one statement.

    One statement (not a read then a write) so that two writers of the same row
    never both insert; `update` names the columns to overwrite (all but keys by default).
    The statement is built once per backend, table, keys and columns, and run with `values`
    as its parameters.
    """
    columns = update if update is not None else [name for name in values if name not in keys]
    statement = upsert_statement(dialect_of(session), table, tuple(keys), tuple(columns))
    await session.execute(statement, values)


@cache
def upsert_statement(
    dialect: str, table: type[Base], keys: tuple[str, ...], columns: tuple[str, ...]
) -> Any:
    """The INSERT ... ON CONFLICT (keys) DO UPDATE of `columns`, built once; the rows come as
    parameters (one set, or a list of them for many rows)."""
    statement = insert_for(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: statement.excluded[name] for name in columns}
    )


def dialect_of(session: AsyncSession) -> str:
    """The backend's name, "sqlite" or "postgresql": the key of statements built once per
    backend."""
    return session.get_bind().dialect.name


def insert_for(dialect: str, table: type[Base]) -> Any:
    """A Core INSERT into `table` with `dialect`'s ON CONFLICT clauses (not the ORM's bulk path)."""
    return (sqlite_insert if dialect == "sqlite" else postgresql_insert)(table_of(table))


def table_of(model: type[Base]) -> Table:
    """The Core table under an ORM model."""
    table: Table = model.__table__  # type: ignore[assignment]
    return table


async def run(
    session: AsyncSession, statement: Any, params: dict[str, Any] | list[dict[str, Any]]
) -> Any:
    """Run a statement built once (bound parameters only) on the session's connection, in its
    transaction: the hot paths skip the ORM's execution path and build no statement per call.
    A list of parameter sets runs the one statement for each (many rows at once)."""
    connection = await session.connection()
    return await connection.execute(statement, params)


T = TypeVar("T")
DEADLOCK_ATTEMPTS = 6
# PostgreSQL: deadlock detected, serialization failure. Both mean "run it again".
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


async def retrying_deadlocks(work: Callable[[], Awaitable[T]]) -> T:
    """Run a transaction again when the database chose it as a deadlock victim."""
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return await work()
        except DBAPIError as exc:
            state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
            if state not in RETRYABLE_SQLSTATES or attempt == DEADLOCK_ATTEMPTS:
                raise
        # Apart at random, so the two victims of one deadlock do not meet again at once.
        await asyncio.sleep(random.uniform(0.005, 0.02) * attempt)
    raise AssertionError("unreachable")
