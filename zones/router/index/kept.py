"""Each client's lookup answer kept in memory, between the commits that change it.

`/auth/lookup` is asked far more often than a client's instances change (at
every login, by every tool that finds its zone). The index's read is kept per
client and forgotten when a commit of this process writes the client's row
(every change of its instances, mappings and children's answers does, in the
same transaction: zones.router.index.updates), when a child is renamed, moved
or removed, when a rebuild starts, and at the latest `max_age` seconds after
it was read (what other processes over the same database wrote, `zones
reindex` among them). A read that a commit overtook is not kept, and one taken
while the index is rebuilt is never kept.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from zones.node.commits import Keys, watch_commits, watch_keys
from zones.node.database import Sessions
from zones.router.children.models import ChildZone
from zones.router.index.answers import Here, IndexRead, read_index
from zones.router.index.models import ClientIndex, IndexRebuild


class KeptAnswers:
    def __init__(self, sessions: Sessions, max_age: float, capacity: int = 100_000) -> None:
        self._sessions, self._max_age, self._capacity = sessions, max_age, capacity
        self._reads: OrderedDict[str, tuple[float, IndexRead]] = OrderedDict()
        self._forgotten = 0  # forgettings so far: a read that overlapped one is not kept
        watch_keys(sessions, ClientIndex, self.forget)
        watch_commits(sessions, ChildZone, self.forget_all, columns=("name", "api_url"))
        watch_commits(sessions, IndexRebuild, self.forget_all)

    async def read(self, client: str, here: Here) -> IndexRead:
        """The client's index read: from memory when kept and young enough, else one query."""
        kept = self._reads.get(client)
        if kept is not None and time.monotonic() - kept[0] < self._max_age:
            return kept[1]
        forgotten, started = self._forgotten, time.monotonic()
        async with self._sessions.begin() as session:
            read = await read_index(session, client, here)
        if not read.rebuilding and forgotten == self._forgotten:
            self._keep(client, started, read)
        return read

    def forget(self, clients: Keys) -> None:
        self._forgotten += 1
        if clients is None:
            self._reads.clear()
            return
        for client in clients:
            self._reads.pop(str(client), None)

    def forget_all(self) -> None:
        self.forget(None)

    def _keep(self, client: str, read_at: float, read: IndexRead) -> None:
        self._reads[client] = (read_at, read)
        self._reads.move_to_end(client)
        while len(self._reads) > self._capacity:
            self._reads.popitem(last=False)
