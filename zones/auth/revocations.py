"""Token revocations: what this zone revoked and what its trusted issuers revoked, checked on
every request from memory.

A revocation names a subject, the hex SHA-256 of `iss + "\\n" + sub` (so it names no
user), and a moment `not_before`: a token of that subject issued before it is revoked.
Tokens carry their issue time to the microsecond (claim `iat_us`, beside the
whole-second `iat`: zones.auth.tokens), so a token issued right after a revocation,
within the same second, still works; a token without it counts as issued at the start
of its `iat` second.

This zone's own revocations are rows of `token_revocations`, one per subject. The copy
in memory changes after the commit that wrote one (`after_commit`); when the commit feed
tells of another worker's commit, the subjects it wrote are read again before their next
use. Other issuers' revocations are learnt from their `GET /auth/revocations`
(zones.auth.revocation_watch); once an issuer's have gone unread for longer than
`auth.revocation_grace`, its tokens are refused or accepted as `auth.revocations_unknown`
says, and the choice is logged once.

`GET /auth/revocations?after=T` answers the rows whose `not_before` is after T, with
`as_of`: the time of the read less `AS_OF_LAG`, so that a revocation whose `not_before`
was taken just before that read but which committed just after it is sent again with the
next answer (a follower merges what it hears, so hearing twice is harmless).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, select

from zones.auth.models import TokenRevocation
from zones.errors import Unauthorized
from zones.node.commits import Keys, after_commit, watch_keys, wrote
from zones.node.config import AuthSettings
from zones.node.database import (
    AsyncSession,
    Sessions,
    UtcDateTime,
    dialect_of,
    insert_for,
    run,
    table_of,
    utcnow,
)
from zones.node.identity import serialize_on_zone
from zones.node.logs import event

log = logging.getLogger("zones.auth")

AS_OF_LAG = timedelta(seconds=2)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Revoked = tuple[str, datetime]  # (subject, not_before)


def subject_of(issuer: str, username: str) -> str:
    """What a revocation names: the hex SHA-256 of `iss + "\\n" + sub`."""
    return hashlib.sha256(f"{issuer}\n{username}".encode()).hexdigest()


def microseconds(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (no float on the way)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


_COLUMNS = (TokenRevocation.subject, TokenRevocation.not_before)
EVERY_REVOCATION = select(*_COLUMNS)
REVOCATIONS_OF = select(*_COLUMNS).where(
    TokenRevocation.subject.in_(bindparam("subjects", expanding=True))
)
REVOCATIONS_AFTER = (
    select(*_COLUMNS)
    .where(TokenRevocation.not_before > bindparam("after", type_=UtcDateTime()))
    .order_by(TokenRevocation.not_before, TokenRevocation.subject)
)


def _lagged(after: datetime) -> datetime:
    """`after` plus AS_OF_LAG: what a caller that sent its last `as_of` had not yet seen."""
    try:
        return after + AS_OF_LAG
    except OverflowError:  # after is within AS_OF_LAG of the end of time
        return datetime.max.replace(tzinfo=UTC)


@cache
def _revoke_statement(dialect: str) -> Any:
    """Insert the subject's row, or move its `not_before` later (never earlier: a clock
    set back must not bring a revoked token back)."""
    insert = insert_for(dialect, TokenRevocation).values(
        subject=bindparam("subject"), not_before=bindparam("not_before", type_=UtcDateTime())
    )
    later = func.greatest if dialect == "postgresql" else func.max
    column = table_of(TokenRevocation).c.not_before
    return insert.on_conflict_do_update(
        index_elements=["subject"],
        set_={"not_before": later(column, insert.excluded.not_before)},
    )


@dataclass
class IssuerFollowing:
    """How current this zone is on one trusted issuer's revocations."""

    started: float = field(default_factory=time.monotonic)
    read_at: float | None = None  # monotonic: the last answer of its feed
    attempted: asyncio.Event = field(default_factory=asyncio.Event)  # a first read ended
    unknown_said: bool = False

    def unread_for(self) -> float:
        return time.monotonic() - (self.started if self.read_at is None else self.read_at)


class RevocationList:
    """Every revocation this zone knows, by subject: its own (a copy of its table) and its
    trusted issuers' (learnt from their feeds), with how current each issuer's are."""

    def __init__(
        self, own_issuer: str, trusted_issuers: Iterable[str], settings: AuthSettings
    ) -> None:
        self._own_issuer = own_issuer
        self._grace, self._refuse = settings.revocation_grace, settings.revocations_unknown
        self._own: dict[str, int] = {}  # subject -> not_before in microseconds
        self._learnt: dict[str, int] = {}
        self._issuers = {
            issuer: IssuerFollowing() for issuer in trusted_issuers if issuer != own_issuer
        }
        self._sessions: Sessions | None = None
        self._unread: set[str] = set()  # own subjects another process wrote since read
        self._unread_all = False
        self._heard = 0  # news of other processes' writes so far
        self._reading = asyncio.Lock()
        self._moved = asyncio.Event()  # set (and replaced) on each own revocation
        self._released = False

    @property
    def followed_issuers(self) -> list[str]:
        return sorted(self._issuers)

    @property
    def first_read_timeout(self) -> float:
        """How long a request waits for the first read of an issuer's revocations."""
        return min(self._grace, 5.0)

    # --- this zone's own revocations ----------------------------------------------------

    async def load(self, sessions: Sessions) -> None:
        """Read this zone's revocations, and follow the other processes' commits of them."""
        self._sessions = sessions
        watch_keys(sessions, TokenRevocation, self._written_elsewhere, here=False)
        self._unread_all = True
        await self._read_unread()

    async def revoke(self, session: AsyncSession, subject: str) -> None:
        """Revoke the subject's tokens issued until now, in the session's transaction; the
        copy in memory follows once it commits."""
        await serialize_on_zone(session)  # first: `not_before` is taken once this one writes
        not_before = utcnow()
        params = {"subject": subject, "not_before": not_before}
        await run(session, _revoke_statement(dialect_of(session)), params)
        wrote(session, TokenRevocation, subject)
        at = microseconds(not_before)
        after_commit(session, lambda: self._revoked_here(subject, at))

    def _revoked_here(self, subject: str, not_before: int) -> None:
        self._own[subject] = max(not_before, self._own.get(subject, not_before))
        self._moved_now()

    def _written_elsewhere(self, subjects: Keys) -> None:
        self._heard += 1
        if subjects is None:
            self._unread_all = True
        else:
            self._unread.update(str(subject) for subject in subjects)
        self._moved_now()

    def _moved_now(self) -> None:
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def _read_unread(self) -> None:
        """Read again what other processes wrote since the copy was read (one statement)."""
        async with self._reading:
            if not (self._unread_all or self._unread) or self._sessions is None:
                return
            heard, whole, subjects = self._heard, self._unread_all, sorted(self._unread)
            async with self._sessions.begin() as session:
                if whole:
                    rows = (await run(session, EVERY_REVOCATION, {})).all()
                else:
                    rows = (await run(session, REVOCATIONS_OF, {"subjects": subjects})).all()
            for subject, not_before in rows:
                self._own[subject] = max(microseconds(not_before), self._own.get(subject, 0))
            if heard == self._heard:  # nothing more was heard while this read
                self._unread_all = False
                self._unread.clear()

    async def since(
        self, after: datetime | None, wait: float | None
    ) -> tuple[list[Revoked], datetime]:
        """This zone's revocations after `after`, and the `as_of` to ask after next time.

        With `wait`, held (at most that many seconds) while every one found is one the
        caller may have had from its last answer (within AS_OF_LAG of `after`), until this
        process hears of a revocation; a first read (no `after`) is answered at once.
        """
        moved = self._moved
        found, as_of = await self._read_after(after)
        if wait is None or after is None or self._released:
            return found, as_of
        if any(not_before > _lagged(after) for _, not_before in found):
            return found, as_of
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await moved.wait()
        return await self._read_after(after)

    async def _read_after(self, after: datetime | None) -> tuple[list[Revoked], datetime]:
        assert self._sessions is not None, "load() first"
        async with self._sessions.begin() as session:
            read_at = utcnow()
            if after is None:
                rows = (await run(session, EVERY_REVOCATION, {})).all()
            else:
                rows = (await run(session, REVOCATIONS_AFTER, {"after": after})).all()
        found = sorted(((subject, at) for subject, at in rows), key=lambda row: row[1])
        return found, read_at - AS_OF_LAG

    def release(self) -> None:
        """Answer every held watch now, and hold none from here on (the zone is stopping)."""
        self._released = True
        self._moved_now()

    # --- other issuers' revocations -----------------------------------------------------

    def learnt(self, issuer: str, revocations: Iterable[Revoked]) -> None:
        """The issuer's feed answered: merge what it said; its revocations are current now."""
        for subject, not_before in revocations:
            at = microseconds(not_before)
            if at > self._learnt.get(subject, at - 1):
                self._learnt[subject] = at
        following = self._issuers[issuer]
        following.read_at = time.monotonic()
        following.attempted.set()
        if following.unknown_said:
            following.unknown_said = False
            event(
                log,
                f"revocations of issuer {issuer} are read again",
                event="revocations-known",
                issuer=issuer,
            )

    def not_learnt(self, issuer: str) -> None:
        """A read of the issuer's feed failed; say so once it has gone unread too long."""
        following = self._issuers[issuer]
        following.attempted.set()
        if following.unread_for() > self._grace:
            self._say_unknown(issuer, following)

    def _say_unknown(self, issuer: str, following: IssuerFollowing) -> None:
        if following.unknown_said:
            return
        following.unknown_said = True
        choice = "refused" if self._refuse == "refuse" else "accepted"
        event(
            log,
            f"revocations of issuer {issuer} unread for more than {self._grace:g} s "
            f"(auth.revocation_grace): its tokens are {choice} until they are read again",
            level=logging.WARNING,
            event="revocations-unknown",
            issuer=issuer,
            revocations_unknown=self._refuse,
        )

    # --- the check of every request -----------------------------------------------------

    async def check(self, issuer: str, subject: str, issued_at: int) -> None:
        """Raise Unauthorized when a token of `subject` issued at `issued_at` (microseconds)
        is revoked, or when its issuer's revocations are unknown and such tokens refused."""
        if issuer == self._own_issuer:
            if self._unread_all or self._unread:
                await self._read_unread()
            not_before = self._own.get(subject)
        else:
            await self._check_current(issuer)
            not_before = self._learnt.get(subject)
        if not_before is not None and issued_at < not_before:
            raise Unauthorized(
                "token has been revoked (its user was deleted or its tokens revoked)"
            )

    async def _check_current(self, issuer: str) -> None:
        following = self._issuers.get(issuer)
        if following is None:
            return
        if not following.attempted.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.first_read_timeout):
                    await following.attempted.wait()
        unread_for = following.unread_for()
        if unread_for <= self._grace:
            return
        self._say_unknown(issuer, following)
        if self._refuse == "refuse":
            raise Unauthorized(
                f"revocations of issuer {issuer} have not been read for {unread_for:.1f} s "
                f"(more than auth.revocation_grace, {self._grace:g} s): its tokens are refused "
                "until they can be read again"
            )
