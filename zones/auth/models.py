"""The tables auth owns: users with their client, roles and password hash, and the
revocations of the tokens this zone issued."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from zones.node.database import Base, UtcDateTime


class User(Base):
    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    client: Mapped[str] = mapped_column(String(63), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TokenRevocation(Base):
    """Tokens of `subject` (the hex SHA-256 of `iss + "\\n" + sub`) issued before `not_before`
    are revoked; one row per subject, its `not_before` only ever moved later."""

    __tablename__ = "token_revocations"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
