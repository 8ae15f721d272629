"""A zone of two worker processes over PostgreSQL, under test as its users see it.

The zone `mid` runs as `zones serve` with `workers = 2` (a supervisor and two
workers behind one port) over a PostgreSQL database of its own, with a child
`leaf` served in the test. Its copies are read again only every hour
(`reread_interval`), so whatever one worker learns of another's commits within
a second it learns from the commit feed. Requests go to one chosen worker
through a connection pinned to it (`/healthz` names the worker that answers).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import POSTGRES_ENV, ZoneStarter
from tests.harness import ADMIN_PASSWORD, Api, ZoneProcess, eventually, free_port
from tests.node.test_database_outage import Proxy
from tests.router.tree import SERVICE_USER, Tree
from zones.node.workers.dsn import plain_dsn

pytestmark = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV),
    reason=f"workers need PostgreSQL: set {POSTGRES_ENV} (set by .ci/run when a server answers)",
)

GPU_WORK = {
    "instance": {"name": "trained", "requirements": {"site": "leaf", "gpu": True}, "resources": {}}
}
MID_HOST = {"capabilities": {"site": "mid"}, "inventory": {"ram_mb": 1000}, "ttl": 600}


@dataclass
class Workers:
    """The two-worker zone: its process, and an admin client pinned to each worker."""

    process: ZoneProcess
    url: str
    admins: dict[int, Api] = field(default_factory=dict)  # by the worker's pid
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    async def pin(self, count: int = 2, attempts: int = 60) -> None:
        """A client on a connection of its own to each of `count` workers."""
        token = None
        for _ in range(attempts):
            if len(self.admins) == count:
                return
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
            pid = await worker_of(session, self.url)
            if pid in self.admins:
                await session.close()
                continue
            self.sessions.append(session)
            api = Api(session, self.url, token or "")
            token = token or await api.login()
            self.admins[pid] = Api(session, self.url, token)
        raise AssertionError(f"reached {len(self.admins)} workers of {count}")

    async def leader(self) -> int:
        for pid, admin in self.admins.items():
            if (await health(admin.session, self.url))["follows_children"]:
                return pid
        raise AssertionError("no worker follows the children")

    def other_than(self, pid: int) -> Api:
        return next(admin for other, admin in self.admins.items() if other != pid)

    async def eventually(
        self, check: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.05
    ) -> None:
        """`eventually` that, when the condition is not met, shows what the zone logged."""
        try:
            await eventually(check, timeout=timeout, interval=interval)
        except AssertionError as exc:
            logged = self.process.stderr_path.read_text(errors="replace").splitlines()
            # Access lines (the probes' own requests) would hide what the workers said.
            said = [line for line in logged if '"logger": "zones.access"' not in line]
            raise AssertionError(
                f"{exc}; mid logged, last lines but access lines:\n" + "\n".join(said[-40:])
            ) from exc

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()


async def health(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/healthz") as response:
        worker: dict[str, Any] = (await response.json())["worker"]
        return worker


async def worker_of(session: aiohttp.ClientSession, url: str) -> int:
    return int((await health(session, url))["pid"])


@pytest.fixture
async def own_database() -> AsyncIterator[str]:
    """A PostgreSQL database of this test's own, dropped at its end."""
    server = os.environ[POSTGRES_ENV]
    name = f"zones_workers_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(plain_dsn(server))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def tree(
    http: aiohttp.ClientSession, zones: ZoneStarter, tmp_path: Path, own_database: str
) -> AsyncIterator[tuple[Workers, Tree]]:
    """mid (two workers over PostgreSQL, one host of 1000 ram_mb at site mid) > leaf."""
    async with two_workers_over_a_leaf(http, zones, tmp_path, own_database) as started:
        yield started


@asynccontextmanager
async def two_workers_over_a_leaf(
    http: aiohttp.ClientSession, zones: ZoneStarter, tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[Workers, Tree]]:
    """The tree of `tree`, mid over `database_url`."""
    port = free_port()
    leaves = Tree(http)  # the leaf takes mid's tokens: a request carries its caller's token
    await leaves.start(zones, "leaf", auth={"trusted_issuers": [f"http://127.0.0.1:{port}"]})
    await leaves.heartbeat("leaf", "l1", capabilities={"site": "leaf"}, inventory={"ram_mb": 1e6})
    config = tmp_path / "mid.toml"
    config.write_text(
        "\n".join(
            [
                "[zone]",
                'name = "mid"',
                f'listen = "127.0.0.1:{port}"',
                f'database = "{database_url}"',
                "workers = 2",
                "[auth]",
                f'admin_password = "{ADMIN_PASSWORD}"',
                "[poll]",
                "interval = 30",
                # Room for a loaded machine: a watch that fails waits out the interval.
                "timeout = 5",
                "watch = true",
                "[router]",
                "reread_interval = 3600",
            ]
        )
        + "\n"
    )
    process = ZoneProcess(config)
    workers = Workers(process, await process.start(timeout=60))
    try:
        await workers.pin()
        admin = next(iter(workers.admins.values()))
        beat = await admin.call("PUT", "/hosts/m1", json_body={"host": MID_HOST})
        assert beat.status == 200, beat
        body = {
            "api_url": leaves.zones["leaf"].url,
            "username": SERVICE_USER["name"],
            "password": SERVICE_USER["password"],
        }
        added = await admin.call("POST", "/zones", json_body={"zone": body})
        assert added.status == 201, added
        yield workers, leaves
    finally:
        await workers.close()
        await process.terminate()


async def on_own_connections(
    workers: Workers, calls: list[tuple[str, str, dict[str, Any] | None]], dropped: bool = False
) -> list[Any]:
    """Each call at once, on a new connection of its own: the kernel spreads them over the
    workers (SO_REUSEPORT). With `dropped`, a call whose connection broke answers None."""
    token = next(iter(workers.admins.values())).token
    sessions = [aiohttp.ClientSession() for _ in calls]

    async def one(session: aiohttp.ClientSession, method: str, path: str, body: Any) -> Any:
        try:
            return await Api(session, workers.url, token).call(method, path, json_body=body)
        except aiohttp.ClientError:
            if not dropped:
                raise
            return None

    try:
        return list(
            await asyncio.gather(
                *(
                    one(session, method, path, body)
                    for session, (method, path, body) in zip(sessions, calls, strict=True)
                )
            )
        )
    finally:
        for session in sessions:
            await session.close()


async def free_at_mid(workers: Workers) -> float:
    hosts = await next(iter(workers.admins.values())).call("GET", "/hosts")
    return float(hosts.body["hosts"][0]["free"]["ram_mb"])


async def lookup(admin: Api) -> int:
    """The status of the admin client's lookup: 200 while it has instances, 404 after."""
    return (await admin.call("GET", "/auth/lookup?client=admin")).status


async def gpu_work_lands(admin: Api) -> bool:
    """Whether a create that needs a gpu at the leaf is placed (ACTIVE), through `admin`."""
    made = await admin.call("POST", "/instances", json_body=GPU_WORK)
    return bool(made.body["instance"]["status"] == "ACTIVE")


def create(name: str, site: str, ram: float = 1, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "requirements": {"site": site}, "resources": {"ram_mb": ram}}
    return {"instance": {**body, **fields}}


async def placed_at_leaf(admin: Api) -> bool:
    """Whether a create for the leaf lands there (the worker knows the leaf); the probe that
    landed is deleted again (one that did not was not stored: a 503)."""
    made = await admin.call("POST", "/instances", json_body=create("probe", "leaf"))
    if made.status != 201:
        return False
    deleted = await admin.call("DELETE", f"/instances/{made.body['instance']['id']}")
    assert deleted.status == 204, deleted
    return bool(made.body["instance"]["status"] == "ACTIVE")


async def test_a_token_issued_by_one_worker_verifies_at_the_other(
    tree: tuple[Workers, Tree],
) -> None:
    workers, _ = tree
    first, second = workers.admins.values()
    token = await first.login()
    listed = await Api(second.session, workers.url, token).call("GET", "/zones")
    assert listed.status == 200, listed
    assert [zone["name"] for zone in listed.body["zones"]] == ["leaf"]


async def test_concurrent_creates_of_one_id_over_both_workers_make_one_instance(
    tree: tuple[Workers, Tree],
) -> None:
    workers, _ = tree
    await workers.eventually(
        lambda: placed_at_leaf(next(iter(workers.admins.values()))), timeout=10
    )
    body = create("same", "mid", ram=100, id=str(uuid.uuid4()))
    # Ten clients on connections of their own to each worker's port, all at once.
    answers = await on_own_connections(workers, [("POST", "/instances", body)] * 20)
    assert {answer.status for answer in answers} == {201}, answers
    assert len({(a.body["instance"]["id"], a.body["instance"]["host"]) for a in answers}) == 1
    for admin in workers.admins.values():
        listed = await admin.call("GET", "/instances")
        assert [i["name"] for i in listed.body["instances"] if i["name"] == "same"] == ["same"]
    assert await free_at_mid(workers) == 900.0


async def test_concurrent_creates_into_room_for_n_over_both_workers_make_exactly_n(
    tree: tuple[Workers, Tree],
) -> None:
    workers, _ = tree
    body = create("burst", "mid", ram=100)  # room for 10 on the one host at site mid
    answers = await on_own_connections(workers, [("POST", "/instances", body)] * 30)
    assert {answer.status for answer in answers} == {201}, answers
    statuses = [answer.body["instance"]["status"] for answer in answers]
    assert (statuses.count("ACTIVE"), statuses.count("ERROR")) == (10, 20)
    assert await free_at_mid(workers) == 0.0


async def test_a_delete_through_one_worker_is_a_404_through_the_other_within_a_second(
    tree: tuple[Workers, Tree],
) -> None:
    workers, _ = tree
    first, second = workers.admins.values()
    await workers.eventually(lambda: placed_at_leaf(first), timeout=10)
    made = await first.call("POST", "/instances", json_body=create("gone", "leaf"))
    path = f"/instances/{made.body['instance']['id']}"
    assert (await second.call("GET", path)).status == 200  # the second worker knows its way
    assert await lookup(second) == 200  # and keeps the client's lookup answer
    assert (await first.call("DELETE", path)).status == 204

    async def gone_at_the_second() -> bool:
        return (await second.call("GET", path)).status == 404 and await lookup(second) == 404

    await workers.eventually(gone_at_the_second, timeout=1.0, interval=0.01)


async def test_what_the_following_worker_learns_of_a_child_the_other_places_with_in_a_second(
    tree: tuple[Workers, Tree],
) -> None:
    workers, leaves = tree
    await workers.eventually(
        lambda: placed_at_leaf(next(iter(workers.admins.values()))), timeout=10
    )
    other = workers.other_than(await workers.leader())
    refused = await other.call("POST", "/instances", json_body=GPU_WORK)
    assert refused.body["instance"]["status"] == "ERROR"  # no gpu below mid yet
    await leaves.heartbeat(
        "leaf", "g1", capabilities={"site": "leaf", "gpu": True}, inventory={"ram_mb": 100}
    )
    await workers.eventually(lambda: gpu_work_lands(other), timeout=1.0, interval=0.02)


async def test_a_worker_killed_during_a_burst_loses_no_create_and_another_follows(
    tree: tuple[Workers, Tree],
) -> None:
    workers, leaves = tree
    await workers.eventually(
        lambda: placed_at_leaf(next(iter(workers.admins.values()))), timeout=10
    )
    leader = await workers.leader()
    survivor = workers.other_than(leader)
    ids = [str(uuid.uuid4()) for _ in range(60)]
    burst = [
        asyncio.ensure_future(
            on_own_connections(
                workers, [("POST", "/instances", create(f"b{n}", "leaf", id=i))], dropped=True
            )
        )
        for n, i in enumerate(ids)
    ]

    async def under_way() -> bool:
        return sum(call.done() for call in burst) >= 5

    await workers.eventually(under_way, timeout=10.0, interval=0.005)
    os.kill(leader, signal.SIGKILL)
    answers = [answer for call in burst for answer in await call]
    made = [ids[n] for n, answer in enumerate(answers) if answer and answer.status == 201]
    assert len(made) >= 5, answers
    listed = [i["id"] for i in (await survivor.call("GET", "/instances")).body["instances"]]
    assert all(listed.count(instance_id) == 1 for instance_id in made)
    assert all(listed.count(instance_id) <= 1 for instance_id in ids)  # no copy twice

    async def survivor_follows() -> bool:
        return bool((await health(survivor.session, workers.url))["follows_children"])

    await workers.eventually(survivor_follows, timeout=5.0)
    await leaves.heartbeat(
        "leaf", "g2", capabilities={"site": "leaf", "gpu": True}, inventory={"ram_mb": 100}
    )
    await workers.eventually(lambda: gpu_work_lands(survivor), timeout=5.0, interval=0.05)


async def test_a_zone_of_workers_serves_again_after_its_database_was_away_or_cut_off(
    http: aiohttp.ClientSession, zones: ZoneStarter, tmp_path: Path, own_database: str
) -> None:
    """Every worker answers 503 while the database is away and serves again once it is back;
    after a cut without a reset too, the commit feed and the leadership connect again."""
    server = own_database.split("@", 1)[1].split("/", 1)[0]
    host, _, port = server.partition(":")
    proxy = Proxy(free_port(), (host, int(port or 5432)))
    await proxy.open()
    try:
        async with two_workers_over_a_leaf(http, zones, tmp_path, proxy.url_for(own_database)) as (
            workers,
            leaves,
        ):
            first, second = workers.admins.values()
            await workers.eventually(lambda: placed_at_leaf(first), timeout=10)
            await proxy.close()
            try:
                for admin in (first, second):
                    refused = await admin.call("GET", "/instances")
                    assert (refused.status, refused.problem["reason"]) == (
                        503,
                        "database-unavailable",
                    ), refused
            finally:
                await proxy.open()

            async def both_serve() -> bool:
                answers = [await admin.call("GET", "/instances") for admin in (first, second)]
                return all(answer.status == 200 for answer in answers)

            await workers.eventually(both_serve, timeout=15)

            async def followers() -> int:
                follows = [
                    (await health(admin.session, workers.url))["follows_children"]
                    for admin in (first, second)
                ]
                return follows.count(True)

            async def none_follows() -> bool:  # the leader noticed the cut
                return await followers() == 0

            async def one_follows() -> bool:
                return await followers() == 1

            # The close above may have cost the leadership too: it is held again before the
            # freeze, so that none following afterwards is the freeze's doing.
            await workers.eventually(one_follows, timeout=10)
            proxy.freeze()
            await workers.eventually(none_follows, timeout=10)
            proxy.thaw()
            await workers.eventually(both_serve, timeout=15)

            # The feed hears again: a delete through one worker reaches the other's copies.
            made = await first.call("POST", "/instances", json_body=create("back", "leaf"))
            path = f"/instances/{made.body['instance']['id']}"
            assert (await second.call("GET", path)).status == 200
            assert (await first.call("DELETE", path)).status == 204

            async def gone_at_the_second() -> bool:
                return (await second.call("GET", path)).status == 404

            await workers.eventually(gone_at_the_second, timeout=5, interval=0.02)

            # One worker follows the children again, and what it learns is placed with.
            await workers.eventually(one_follows, timeout=10)
            await leaves.heartbeat(
                "leaf", "g3", capabilities={"site": "leaf", "gpu": True}, inventory={"ram_mb": 100}
            )
            await workers.eventually(lambda: gpu_work_lands(second), timeout=10, interval=0.05)
    finally:
        await proxy.close()


def requests_counted(text: str, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "zones_http_requests_total" and sample.labels.get("route") == route
    )


async def scrape(admin: Api) -> str:
    answer = await admin.call("GET", "/metrics")
    assert answer.status == 200, answer
    assert isinstance(answer.body, str)
    return answer.body


async def test_a_scrape_at_either_worker_counts_the_requests_both_served(
    tree: tuple[Workers, Tree],
) -> None:
    workers, _ = tree
    assert len(workers.admins) == 2
    for admin in workers.admins.values():
        for _ in range(3):
            assert (await admin.call("GET", "/users")).status == 200
    for admin in workers.admins.values():
        assert requests_counted(await scrape(admin), "/users") == 6
        assert 'zones_child_up{child="leaf"}' in await scrape(admin)
