"""Zones on several machines: network namespaces on a bridge, and a link that is cut.

    main namespace                     namespace zones-<tag>-a     namespace zones-<tag>-b
    root   10.231.X.1 on bridge ─┬─ veth ── machine-a 10.231.X.2
           zbr<tag>              └─ veth ───────────────────────── machine-b 10.231.X.3

Every zone is its own OS process (`python -m zones serve`); the children are started
inside their namespaces (`ip netns exec`), so every call between zones, and every
call of this test to a child, crosses a real interface. Setting the host end of
machine-b's veth down is what the root sees when a machine drops off the network.

The bridge is joined to nothing but these veths and the namespaces have no other
interface than lo: no packet of this test leaves the machine. It needs root and a
working `ip netns add` (iproute2), and is skipped otherwise.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.harness import ADMIN_PASSWORD, Answer, Api, ZoneProcess, eventually
from tests.router.tree import SERVICE_USER

SUBNETS = "10.231"  # 10.231.X.0/24, X from this process's pid
ROOT = "root"
CHILDREN = ("machine-a", "machine-b")
ALICE, ALICE_PASSWORD = "alice", "alice-pw"  # a member of the client acme, at the root
# Small limits: a cut link costs a list at most about CHILD_TIMEOUT, and the root marks the
# child offline after FAILURES polls of POLL_INTERVAL + POLL_TIMEOUT.
POLL_INTERVAL = 0.5
POLL_TIMEOUT = 0.5
FAILURES = 2
CHILD_TIMEOUT = 1.0
ANSWERS_WITHIN = 3.0  # seconds: a list or a show at the root while machine-b is cut off
UNREACHABLE = "X-Zones-Unreachable"


def ip(*args: str) -> str:
    """Run `ip ARGS`; its output, or RuntimeError with what it printed."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=15)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def ip_quietly(*args: str) -> None:
    """`ip ARGS` for tearing down: whatever is already gone is fine."""
    subprocess.run(["ip", *args], capture_output=True, timeout=15)


def why_no_namespaces() -> str | None:
    """Why this machine cannot run the test (None when it can): root, and `ip netns add`."""
    if os.geteuid() != 0:
        return f"network namespaces need root (ip netns add); running as uid {os.geteuid()}"
    if shutil.which("ip") is None:
        return "network namespaces need the ip command (iproute2), not found on PATH"
    probe = f"zones-probe-{os.getpid()}"
    try:
        ip("netns", "add", probe)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return f"`ip netns add` does not work here: {exc}"
    ip_quietly("netns", "del", probe)
    return None


def free_subnet() -> str:
    """`10.231.X`: X from this process's pid (parallel runs differ), moved on past any X
    this machine already has an address or a route in."""
    used = ip("-4", "-o", "addr", "show") + ip("-4", "route", "show", "table", "all")
    taken = {int(x) for x in re.findall(r"\b10\.231\.(\d+)\.", used)}
    start = os.getpid() % 250
    for step in range(250):
        x = (start + step) % 250 + 1
        if x not in taken:
            return f"{SUBNETS}.{x}"
    pytest.skip(f"every {SUBNETS}.X.0/24 is already in use on this machine")


@dataclass
class Machines:
    """The bridge in the main namespace and, per child zone, its namespace and veth."""

    subnet: str
    bridge: str
    namespaces: dict[str, str]  # zone name -> network namespace
    links: dict[str, str]  # zone name -> the host end of its veth, on the bridge

    @property
    def root_address(self) -> str:
        return f"{self.subnet}.1"

    def address(self, zone: str) -> str:
        return f"{self.subnet}.{2 + CHILDREN.index(zone)}"

    def peer(self, zone: str) -> str:
        """The namespace end of the zone's veth."""
        return self.links[zone] + "n"

    def build(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.root_address}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for zone in CHILDREN:
            namespace, link, peer = self.namespaces[zone], self.links[zone], self.peer(zone)
            ip("netns", "add", namespace)
            ip("link", "add", link, "type", "veth", "peer", "name", peer, "netns", namespace)
            ip("link", "set", link, "master", self.bridge)
            ip("link", "set", link, "up")
            ip("-n", namespace, "addr", "add", f"{self.address(zone)}/24", "dev", peer)
            ip("-n", namespace, "link", "set", "lo", "up")
            ip("-n", namespace, "link", "set", peer, "up")

    def tear_down(self) -> None:
        """Remove every veth, namespace and the bridge, whatever was made; then fail if any
        of them is still there."""
        for link in self.links.values():
            ip_quietly("link", "del", link)  # both ends go
        for namespace in self.namespaces.values():
            ip_quietly("netns", "del", namespace)
        ip_quietly("link", "del", self.bridge)
        namespaces = set(ip("netns", "list").split())
        links = set(re.findall(r"^\d+: ([^:@\s]+)", ip("-o", "link", "show"), re.MULTILINE))
        left = (namespaces & set(self.namespaces.values())) | (
            links & {self.bridge, *self.links.values()}
        )
        assert not left, f"left behind after the test: {sorted(left)}"

    def cut(self, zone: str) -> None:
        ip("link", "set", self.links[zone], "down")

    def mend(self, zone: str) -> None:
        ip("link", "set", self.links[zone], "up")


@pytest.fixture
def machines() -> Iterator[Machines]:
    """A bridge with 10.231.X.1/24 and a namespace per child zone joined to it by a veth."""
    reason = why_no_namespaces()
    if reason is not None:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:6]  # names stay within 15 characters: zbr<tag>, zv<tag>an
    built = Machines(
        subnet=free_subnet(),
        bridge=f"zbr{tag}",
        namespaces={zone: f"zones-{tag}-{zone[-1]}" for zone in CHILDREN},
        links={zone: f"zv{tag}{zone[-1]}" for zone in CHILDREN},
    )
    try:
        built.build()
        yield built
    finally:
        built.tear_down()


def zone_config(directory: Path, name: str, listen: str, trusted: str | None = None) -> Path:
    directory.mkdir()
    lines = [
        "[zone]",
        f'name = "{name}"',
        f'listen = "{listen}"',
        "[auth]",
        f'admin_password = "{ADMIN_PASSWORD}"',
        # A request forwarded from the root carries its caller's token, issued by the root.
        f'trusted_issuers = ["{trusted}"]' if trusted else "",
        "[poll]",
        f"interval = {POLL_INTERVAL}",
        f"timeout = {POLL_TIMEOUT}",
        f"failures_before_offline = {FAILURES}",
        "[router]",
        f"child_timeout = {CHILD_TIMEOUT}",
    ]
    path = directory / "node.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Federation:
    """root (main namespace) over machine-a and machine-b (one namespace each), as processes."""

    machines: Machines
    http: aiohttp.ClientSession
    directory: Path
    processes: dict[str, ZoneProcess] = field(default_factory=dict)
    admins: dict[str, Api] = field(default_factory=dict)
    alice: Api | None = None  # a member of the client acme, logged in at the root

    @property
    def user(self) -> Api:
        assert self.alice is not None
        return self.alice

    async def start_root(self) -> str:
        """root, listening on the bridge's address, with a member `alice`; its URL."""
        listen = f"{self.machines.root_address}:0"
        self.processes[ROOT] = ZoneProcess(zone_config(self.directory / ROOT, ROOT, listen))
        url = await self.processes[ROOT].start()
        assert url.startswith(f"http://{self.machines.root_address}:"), url
        admin = self.admins[ROOT] = await Api(self.http, url).as_user()
        alice = {"name": ALICE, "password": ALICE_PASSWORD, "client": "acme", "roles": ["member"]}
        added = await admin.call("POST", "/users", json_body={"user": alice})
        assert added.status == 201, added
        self.alice = await Api(self.http, url).as_user(ALICE, ALICE_PASSWORD)
        return url

    async def start_child(self, zone: str, root_url: str) -> None:
        """The zone in its namespace, trusting the root's tokens, with a service account for
        the root and a host whose `site` is the zone's name."""
        address = self.machines.address(zone)
        config = zone_config(self.directory / zone, zone, f"{address}:0", trusted=root_url)
        inside = ("ip", "netns", "exec", self.machines.namespaces[zone])
        self.processes[zone] = ZoneProcess(config, command_prefix=inside)
        url = await self.processes[zone].start()
        assert url.startswith(f"http://{address}:"), url
        admin = self.admins[zone] = await Api(self.http, url).as_user()
        made = await admin.call("POST", "/users", json_body={"user": SERVICE_USER})
        assert made.status == 201, made
        host = {"capabilities": {"site": zone}, "inventory": {"ram_mb": 4096}, "ttl": 600}
        beat = await admin.call("PUT", f"/hosts/{zone}-host", json_body={"host": host})
        assert beat.status == 200, beat

    async def add_children(self) -> None:
        """zone-add of each child at the root; then wait until the root's info shows both."""
        for zone in CHILDREN:
            body = {
                "api_url": self.admins[zone].url,
                "username": SERVICE_USER["name"],
                "password": SERVICE_USER["password"],
            }
            added = await self.admins[ROOT].call("POST", "/zones", json_body={"zone": body})
            assert added.status == 201, added
            assert (added.body["zone"]["name"], added.body["zone"]["state"]) == (zone, "online")

        async def both_sites_known() -> bool:
            info = await self.admins[ROOT].call("GET", "/zones/info")
            site = info.body["zone"]["capabilities"].get("site", {})
            return bool(site.get("values") == list(CHILDREN))

        await eventually(both_sites_known, timeout=10)

    async def child_state(self, zone: str) -> str:
        """The child's state as the root has it (online, offline...)."""
        answer = await self.admins[ROOT].call("GET", "/zones")
        assert answer.status == 200, answer
        (child,) = [child for child in answer.body["zones"] if child["name"] == zone]
        return str(child["state"])

    def logged(self, zone: str = ROOT, lines: int = 30) -> str:
        """The last lines the zone logged, for a failure's message."""
        text = self.processes[zone].stderr_path.read_text(errors="replace").splitlines()
        return f"{zone} logged, last lines:\n" + "\n".join(text[-lines:])

    async def stop(self) -> None:
        """SIGTERM to every zone started, and SIGKILL to one not stopped within 10 s."""

        async def stop(process: ZoneProcess) -> None:
            try:
                await asyncio.wait_for(process.terminate(), 10)
            except TimeoutError:
                await process.kill()

        await asyncio.gather(*(stop(process) for process in self.processes.values()))


@pytest.fixture
async def federation(machines: Machines, tmp_path: Path) -> AsyncIterator[Federation]:
    """The zones running and the children added to the root; all stopped at the end."""
    timeout = aiohttp.ClientTimeout(total=15)  # nothing in this test may hang for long
    async with aiohttp.ClientSession(timeout=timeout) as http:
        federation = Federation(machines, http, tmp_path)
        try:
            root_url = await federation.start_root()
            async with asyncio.TaskGroup() as both:  # one failing stops the other's start
                for zone in CHILDREN:
                    both.create_task(federation.start_child(zone, root_url))
            await federation.add_children()
            yield federation
        finally:
            await federation.stop()


async def timed(call: Awaitable[Answer]) -> tuple[Answer, float]:
    started = time.monotonic()
    answer = await call
    return answer, time.monotonic() - started


def listed(answer: Answer) -> list[tuple[str, str, str]]:
    """(id, status, zone) of each instance of a list, in the order listed."""
    assert answer.status == 200, answer
    return [(item["id"], item["status"], item["zone"]) for item in answer.body["instances"]]


async def assert_partial(
    federation: Federation, on_a: dict[str, Any], on_b: dict[str, Any], moment: str
) -> None:
    """With machine-b cut off, the root answers in bounded time: the list has machine-a's
    instance as machine-a answers it and machine-b's as the root last saw it, UNKNOWN, and
    names machine-b as the zone that could not be asked; a show of machine-b's instance is
    that copy, with X-Zones-Unreachable; a show of machine-a's is as ever."""
    alice = federation.user
    partial, took = await timed(alice.call("GET", "/instances"))
    assert took < ANSWERS_WITHIN, (moment, took, federation.logged())
    assert partial.status == 200, (moment, partial)
    assert partial.body == {
        "instances": [on_a, {**on_b, "status": "UNKNOWN"}],
        "next_marker": None,
        "unreachable_zones": ["machine-b"],
    }, (moment, partial)

    shown, took = await timed(alice.call("GET", f"/instances/{on_b['id']}"))
    assert took < ANSWERS_WITHIN, (moment, took, federation.logged())
    assert (shown.status, shown.headers.get(UNREACHABLE)) == (200, "machine-b"), (moment, shown)
    assert shown.body == {"instance": {**on_b, "status": "UNKNOWN"}}, (moment, shown)

    shown, took = await timed(alice.call("GET", f"/instances/{on_a['id']}"))
    assert took < ANSWERS_WITHIN, (moment, took, federation.logged())
    assert (shown.status, shown.headers.get(UNREACHABLE)) == (200, None), (moment, shown)
    assert shown.body == {"instance": on_a}, (moment, shown)


async def test_a_cut_link_leaves_a_bounded_partial_list_until_it_is_mended(
    federation: Federation,
) -> None:
    alice, machines = federation.user, federation.machines
    made: dict[str, dict[str, Any]] = {}
    for zone in CHILDREN:
        work = {"name": f"web-{zone}", "requirements": {"site": zone}, "resources": {"ram_mb": 512}}
        created = await alice.call("POST", "/instances", json_body={"instance": work})
        assert created.status == 201, created
        made[zone] = created.body["instance"]
        assert (made[zone]["status"], made[zone]["path"]) == ("ACTIVE", [ROOT, zone]), created
    on_a, on_b = made["machine-a"], made["machine-b"]

    whole = await alice.call("GET", "/instances")
    assert listed(whole) == [
        (on_a["id"], "ACTIVE", "machine-a"),
        (on_b["id"], "ACTIVE", "machine-b"),
    ]
    assert (whole.body["unreachable_zones"], whole.body["next_marker"]) == ([], None), whole

    machines.cut("machine-b")
    # At once, the root still counts machine-b online: it asks, and gives up within its
    # child_timeout.
    await assert_partial(federation, on_a, on_b, "just cut")

    async def offline() -> bool:
        return await federation.child_state("machine-b") == "offline"

    # Once its polls have failed, machine-b is offline at the root: the same answers.
    await eventually(offline, timeout=10)
    await assert_partial(federation, on_a, on_b, "marked offline")

    machines.mend("machine-b")
    last: list[Answer] = []

    async def whole_again() -> bool:
        last[:] = [await alice.call("GET", "/instances")]
        return bool(last[0].status == 200 and last[0].body["unreachable_zones"] == [])

    try:
        await eventually(whole_again, timeout=15, interval=0.1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: last answer {last}; {federation.logged()}") from exc
    assert last[0].body == {"instances": [on_a, on_b], "next_marker": None, "unreachable_zones": []}
    shown = await alice.call("GET", f"/instances/{on_b['id']}")
    assert (shown.status, shown.headers.get(UNREACHABLE)) == (200, None), shown
    assert shown.body == {"instance": on_b}, shown
