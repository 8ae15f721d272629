"""Queries on users: create, list, delete, authenticate, and the first admin."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from zones.auth.models import User
from zones.auth.passwords import hash_password, verify_password
from zones.errors import ConfigError, Conflict, NotFound, Unauthorized
from zones.node.database import AsyncSession, utcnow
from zones.node.http.callers import Role
from zones.node.identity import serialize_on_zone

ADMIN_USERNAME = "admin"


async def create_user(
    session: AsyncSession, name: str, password_hash: str, client: str, roles: Sequence[str]
) -> User:
    """Store a user; hash the password first (`hash_password`), outside the transaction."""
    if await find_user(session, name) is not None:
        raise Conflict(f"user.name: a user named {name!r} already exists")
    user = User(
        name=name,
        password_hash=password_hash,
        client=client,
        roles=sorted(roles),
        created_at=utcnow(),
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"user.name: a user named {name!r} already exists") from exc
    return user


async def find_user(session: AsyncSession, name: str) -> User | None:
    return await session.scalar(select(User).where(User.name == name))


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.name)))


async def delete_user(session: AsyncSession, name: str) -> None:
    await serialize_on_zone(session)
    user = await find_user(session, name)
    if user is None:
        raise NotFound(f"user {name!r} does not exist")
    if Role.ADMIN in user.roles and await _count_admins(session) <= 1:
        raise Conflict(f"user {name!r} is the last admin of this zone and cannot be deleted")
    await session.delete(user)


async def _count_admins(session: AsyncSession) -> int:
    return sum(1 for user in await list_users(session) if Role.ADMIN in user.roles)


async def check_password(user: User | None, password: str) -> User:
    """The user, when the password is theirs; the same 401 for an unknown user or a wrong password.

    Call it after the transaction that found the user: the check is slow on purpose,
    and must not hold a database connection while it runs.
    """
    valid = await verify_password(password, None if user is None else user.password_hash)
    if user is None or not valid:
        raise Unauthorized("wrong username or password")
    return user


async def ensure_admin(session: AsyncSession, password: str | None, client: str) -> bool:
    """Create the first admin on a zone that has none; True when it was created now."""
    if await _count_admins(session) > 0 or await find_user(session, ADMIN_USERNAME):
        return False
    if password is None:
        raise ConfigError(
            "auth.admin_password: required on the first start to create user 'admin' "
            "(or set ZONES_ADMIN_PASSWORD)"
        )
    await create_user(
        session, ADMIN_USERNAME, await hash_password(password), client, [Role.ADMIN.value]
    )
    return True
