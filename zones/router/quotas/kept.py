"""The quotas set at this zone, kept in memory between the commits that change them.

Every create entering here asks whether its client has a quota; almost none
has, and the answer must cost no statement. The whole table is read once and
kept until a commit writes it (this process's, or another's told through the
commit feed), or at the latest `max_age` seconds after it was read.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from zones.node.commits import watch_commits
from zones.node.database import Sessions
from zones.router.quotas.models import QuotaRow
from zones.router.quotas.rule import Quota


class KeptQuotas:
    def __init__(self, sessions: Sessions, max_age: float) -> None:
        self._sessions, self._max_age = sessions, max_age
        self._quotas: dict[str, Quota] | None = None
        self._read_at = 0.0
        self._forgotten = 0  # forgettings so far: a read that overlapped one is not kept
        watch_commits(sessions, QuotaRow, self.forget)

    async def quota_of(self, client: str) -> Quota | None:
        """The client's quota here, if one is set."""
        quotas = self._quotas
        if quotas is None or time.monotonic() - self._read_at >= self._max_age:
            quotas = await self._read()
        return quotas.get(client)

    def forget(self) -> None:
        self._forgotten += 1
        self._quotas = None

    async def _read(self) -> dict[str, Quota]:
        forgotten, started = self._forgotten, time.monotonic()
        async with self._sessions.begin() as session:
            rows = list(await session.scalars(select(QuotaRow)))
        quotas = {row.client: quota_of_row(row) for row in rows}
        if forgotten == self._forgotten:
            self._quotas, self._read_at = quotas, started
        return quotas


def quota_of_row(row: QuotaRow) -> Quota:
    resources = {key: float(amount) for key, amount in (row.resources or {}).items()}
    return Quota(row.client, row.instances, resources)
