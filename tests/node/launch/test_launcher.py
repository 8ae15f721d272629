"""`zones up`, `status` and `down` on real processes: a small two-root deployment, and refusals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.conftest import POSTGRES_ENV
from tests.harness import Api, free_ports
from zones.node.workers.dsn import plain_dsn


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


async def zones_command(*arguments: str, timeout: float = 120) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zones",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def two_roots(ports: list[int]) -> str:
    """r1 > mid > leaf and r2 > leaf: leaf is shared; hosts at mid and leaf."""
    r1, r2, mid, leaf = ports
    return f"""
[defaults]
poll_interval = 0.5
admin_password = "topology-pw"
allowed_children = ["127.0.0.0/8"]

[[zone]]
name = "r1"
port = {r1}
children = ["mid"]

[[zone]]
name = "r2"
port = {r2}
children = ["leaf"]

[[zone]]
name = "mid"
port = {mid}
children = ["leaf"]
capabilities = {{ region = "na" }}
  [[zone.hosts]]
  count = 1
  inventory = {{ vcpus = 4 }}

[[zone]]
name = "leaf"
port = {leaf}
  [[zone.hosts]]
  names = ["leaf-a", "leaf-b"]
  capabilities = {{ os = "linux" }}
  inventory = {{ ram_mb = 1024 }}

[[user]]
name = "alice"
password = "alice-pw"
client = "acme"
"""


def modes_of_secret_files(state: Path) -> dict[str, str]:
    """The mode of every file of the state dir that holds a secret, by its path in there."""
    secret = [state / "topology.json", state / "secrets.json", state / "hosts.json"]
    for zone in (path for path in state.iterdir() if path.is_dir()):
        secret.append(zone / "node.toml")
        secret.extend(key for key in (zone / f"{zone.name}.keys").iterdir() if key.is_file())
    return {str(path.relative_to(state)): oct(path.stat().st_mode & 0o777) for path in secret}


async def uuids(http: aiohttp.ClientSession, zones: dict[str, Any]) -> dict[str, str]:
    found = {}
    for name, zone in zones.items():
        admin = await Api(http, zone["url"]).as_user("admin", zone["admin_password"])
        found[name] = (await admin.call("GET", "/zones/info")).body["zone"]["uuid"]
    return found


async def test_up_status_down_and_up_again_with_the_same_data(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    ports = free_ports(4)
    topology = tmp_path / "two-roots.toml"
    topology.write_text(two_roots(ports))
    state = tmp_path / "state"
    try:
        code, out, err = await zones_command(
            "up", str(topology), "--state-dir", str(state), "--detach"
        )
        assert code == 0, err
        assert "converged in" in out
        document = json.loads((state / "topology.json").read_text())
        zones = document["zones"]
        assert set(zones) == {"r1", "r2", "mid", "leaf"}
        modes = modes_of_secret_files(state)
        assert len(modes) == 3 + 4 * 3 and set(modes.values()) == {"0o600"}, modes
        assert 'allowed_children = ["127.0.0.0/8"]' in (state / "leaf" / "node.toml").read_text()
        assert {name for name, zone in zones.items() if zone["roots"]} == {"r1", "r2"}
        assert all(
            zone["url"].startswith("http://127.0.0.1:") and alive(zone["pid"])
            for zone in zones.values()
        )

        r2 = await Api(http, zones["r2"]["url"]).as_user("admin", "topology-pw")
        assert (await r2.call("GET", "/zones/info")).body["zone"]["hosts"] == 2
        r1 = await Api(http, zones["r1"]["url"]).as_user("admin", "topology-pw")
        assert (await r1.call("GET", "/zones/info")).body["zone"]["hosts"] == 3
        assert await Api(http, zones["r2"]["url"]).login("alice", "alice-pw")
        # Every zone trusts the tokens of the roots above it, and only those.
        for root, zone, status in (
            ("r1", "leaf", 200),
            ("r1", "mid", 200),
            ("r2", "leaf", 200),
            ("r2", "mid", 401),
        ):
            token = (r1 if root == "r1" else r2).token
            answer = await Api(http, zones[zone]["url"], token).call("GET", "/users")
            assert answer.status == status, (root, zone, answer)
        before = await uuids(http, zones)

        code, out, _ = await zones_command("status", "--state-dir", str(state))
        assert code == 0
        for name in zones:
            assert any(line.split()[:1] == [name] and "online" in line for line in out.splitlines())

        pids = [zone["pid"] for zone in zones.values()] + [document["host_agent_pid"]]
        code, out, _ = await zones_command("down", "--state-dir", str(state))
        assert code == 0
        assert not any(alive(pid) for pid in pids)
        assert not any(listening(port) for port in ports)
        assert oct((state / "topology.json").stat().st_mode & 0o777) == "0o600"  # rewritten

        code, out, err = await zones_command(
            "up", str(topology), "--state-dir", str(state), "--detach"
        )
        assert code == 0, err
        zones = json.loads((state / "topology.json").read_text())["zones"]
        assert await uuids(http, zones) == before  # the same zones, with their databases
        r1 = await Api(http, zones["r1"]["url"]).as_user("admin", "topology-pw")
        children = (await r1.call("GET", "/zones")).body["zones"]
        assert [child["name"] for child in children] == ["mid"]  # registered once, not twice
        users = (await r1.call("GET", "/users")).body["users"]
        assert sorted(user["name"] for user in users) == ["admin", "alice"]
    finally:
        await zones_command("down", "--state-dir", str(state))
    assert not any(listening(port) for port in ports)


REFUSED = {
    "unknown child": ('[[zone]]\nname = "a"\nchildren = ["ghost"]\n', "'ghost'"),
    "defined twice": ('[[zone]]\nname = "a"\n[[zone]]\nname = "a"\n', "'a' is defined twice"),
    "cycle": (
        '[[zone]]\nname = "a"\nchildren = ["b"]\n[[zone]]\nname = "b"\nchildren = ["a"]\n'
        '[[zone]]\nname = "top"\nchildren = ["a"]\n',
        "cycle: a -> b -> a",
    ),
    "bad name": ('[[zone]]\nname = "Bad_Name"\n', "'Bad_Name'"),
    "malformed TOML": ('[[zone]\nname = "a"\n', "line 3"),
    "unknown key": ('[[zone]]\nname = "a"\ncolour = "red"\n', "'colour'"),
    "workers on SQLite": ('[[zone]]\nname = "a"\nworkers = 2\n', "needs a PostgreSQL database"),
    "workers zero": ('[[zone]]\nname = "a"\nworkers = 0\n', "workers must be a whole number"),
    "external without url": (
        '[[zone]]\nname = "a"\nexternal = true\nadmin_password = "pw"\n',
        "zone 'a': an external zone needs its url",
    ),
    "url without external": (
        '[[zone]]\nname = "a"\nurl = "http://127.0.0.1:9"\n',
        "'url' is for a zone that runs elsewhere: set external = true",
    ),
    "external with a port": (
        '[[zone]]\nname = "a"\nexternal = true\nurl = "http://127.0.0.1:9"\nport = 9\n',
        "'port' does not apply to an external zone",
    ),
    "external without a password": (
        '[[zone]]\nname = "a"\nchildren = ["b"]\n'
        '[[zone]]\nname = "b"\nexternal = true\nurl = "http://127.0.0.1:9"\n',
        "zone 'b': an external zone needs admin_password",
    ),
    "link weight not a number": (
        '[[zone]]\nname = "a"\nchildren = [{ name = "b", weight_offset = "high" }]\n'
        '[[zone]]\nname = "b"\n',
        "zone 'a': children: weight_offset must be a number",
    ),
    "server not a server": (
        '[defaults]\ndatabase = "postgresql+asyncpg://u@h:5432/db"\n[[zone]]\nname = "a"\n',
        "defaults.database: must be a PostgreSQL server ending in /",
    ),
}


@pytest.mark.parametrize(("text", "named"), REFUSED.values(), ids=REFUSED.keys())
async def test_a_bad_topology_is_refused_before_anything_starts(
    tmp_path: Path, text: str, named: str
) -> None:
    port = free_ports(1)[0]
    topology = tmp_path / "bad.toml"
    text = text.replace("[defaults]\n", "")  # the key joins the [defaults] written here
    topology.write_text(f"[defaults]\nbase_port = {port}\n{text}")
    code, out, err = await zones_command("up", str(topology), "--state-dir", str(tmp_path / "s"))
    assert code == 2
    assert named in err and "Traceback" not in err
    assert not (tmp_path / "s" / "topology.json").exists()
    assert not listening(port) and not listening(port + 1)


async def test_a_taken_port_is_refused_naming_the_zone(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        topology = tmp_path / "t.toml"
        topology.write_text(f'[[zone]]\nname = "busy"\nport = {port}\n')
        code, _, err = await zones_command("up", str(topology), "--state-dir", str(tmp_path / "s"))
    assert code == 2
    assert f"zone 'busy': port {port}" in err
    assert not (tmp_path / "s" / "topology.json").exists()


async def test_a_zone_that_fails_to_start_stops_the_others_and_shows_its_log(
    tmp_path: Path,
) -> None:
    ports = free_ports(2)
    topology = tmp_path / "t.toml"
    topology.write_text(
        f'[defaults]\nadmin_password = "pw"\n'
        f'[[zone]]\nname = "fine"\nport = {ports[0]}\nchildren = ["broken"]\n'
        f'[[zone]]\nname = "broken"\nport = {ports[1]}\n'
    )
    state = tmp_path / "s"
    keys = state / "broken" / "broken.keys"
    keys.mkdir(parents=True)
    (keys / "signing-key.pem").write_text("not a key")

    code, _, err = await zones_command("up", str(topology), "--state-dir", str(state), "--detach")
    assert code == 1
    assert "zone 'broken' did not start" in err
    assert "signing-key.pem is not a readable private key" in err  # its log's tail
    assert "stopped every zone this run started" in err
    assert not any(listening(port) for port in ports)


async def test_in_the_foreground_ctrl_c_stops_every_zone(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    topology = tmp_path / "one.toml"
    topology.write_text(
        f'[defaults]\npoll_interval = 0.5\n[[zone]]\nname = "solo"\nport = {port}\n'
        "  [[zone.hosts]]\n  count = 2\n"
    )
    state = tmp_path / "state"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zones",
        "up",
        str(topology),
        "--state-dir",
        str(state),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        while b"Ctrl-C stops every zone" not in (
            line := await asyncio.wait_for(process.stdout.readline(), 60)
        ):
            assert line, "zones up ended before it was running"
        document = json.loads((state / "topology.json").read_text())
        pids = [document["zones"]["solo"]["pid"], document["host_agent_pid"]]
        assert all(alive(pid) for pid in pids)

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert not any(alive(pid) for pid in pids)
        assert not listening(port)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
            await zones_command("down", "--state-dir", str(state))


async def test_up_on_postgresql_gives_each_zone_its_database_and_runs_workers(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"needs a PostgreSQL server: set {POSTGRES_ENV}")
    suffix = uuid.uuid4().hex[:8]
    names = [f"pg-top-{suffix}", f"pg-dc-{suffix}"]
    top, dc = free_ports(2)
    topology = tmp_path / "pg.toml"
    topology.write_text(
        f"""
[defaults]
poll_interval = 0.5
admin_password = "topology-pw"
database = "{server.rsplit("/", 1)[0]}/"

[[zone]]
name = "{names[0]}"
port = {top}
children = ["{names[1]}"]

[[zone]]
name = "{names[1]}"
port = {dc}
workers = 2
  [[zone.hosts]]
  count = 2
  inventory = {{ ram_mb = 1024 }}
"""
    )
    state = tmp_path / "state"
    try:
        code, out, err = await zones_command(
            "up", str(topology), "--state-dir", str(state), "--detach"
        )
        assert code == 0, err
        admin = await Api(http, f"http://127.0.0.1:{top}").as_user("admin", "topology-pw")
        (child,) = (await admin.call("GET", "/zones")).body["zones"]
        assert (child["name"], child["state"]) == (names[1], "online")
        made = await admin.call("POST", "/instances", json_body={"instance": {"name": "w"}})
        assert (made.status, made.body["instance"]["status"]) == (201, "ACTIVE"), made
        pids = set()
        for _ in range(40):  # new connections: the kernel spreads them over the workers
            async with aiohttp.ClientSession() as fresh:
                async with fresh.get(f"http://127.0.0.1:{dc}/healthz") as answer:
                    pids.add((await answer.json())["worker"]["pid"])
        assert len(pids) == 2
        assert sorted(await databases_named(server, names)) == sorted(names)
    finally:
        await zones_command("down", "--state-dir", str(state))
        await drop_databases(server, names)
    assert not listening(top) and not listening(dc)
    assert not any(alive(pid) for pid in pids)  # the workers stopped with their supervisor


async def databases_named(server: str, names: list[str]) -> list[str]:
    connection = await asyncpg.connect(plain_dsn(server))
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname = ANY($1::text[])", names
        )
        return [row["datname"] for row in rows]
    finally:
        await connection.close()


async def drop_databases(server: str, names: list[str]) -> None:
    connection = await asyncpg.connect(plain_dsn(server))
    try:
        for name in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
