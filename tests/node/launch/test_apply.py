"""`zones apply` on zones that already run (started here in the test, as another operator
would have started them elsewhere), and `zones up` of a file that mixes zones it starts with
external ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import ADMIN_PASSWORD, Api, eventually, free_ports
from tests.node.launch.test_launcher import listening, zones_command

FAST_POLLS = {"interval": 0.2, "timeout": 1.0, "watch": True}


def external(name: str, url: str, children: str = "[]") -> str:
    return f'[[zone]]\nname = "{name}"\nexternal = true\nurl = "{url}"\nchildren = {children}\n'


def tree_file(urls: dict[str, str], weight_of_b: float = 2) -> str:
    """root > a, b (weight 2) and a > c, all external; users alice and bob at the root."""
    return (
        f'[defaults]\nadmin_password = "{ADMIN_PASSWORD}"\n'
        + external("root", urls["root"], f'["a", {{ name = "b", weight_offset = {weight_of_b} }}]')
        + external("a", urls["a"], '["c"]')
        + external("b", urls["b"])
        + external("c", urls["c"])
        + '[[user]]\nname = "alice"\npassword = "alice-pw"\nclient = "acme"\n'
        + '[[user]]\nname = "bob"\npassword = "bob-pw"\nclient = "acme"\n'
    )


@pytest.fixture
async def running(
    http: aiohttp.ClientSession, zones: ZoneStarter, tmp_path: Path
) -> tuple[dict[str, Api], Path]:
    """Four zones already running, nothing registered; an admin of each, and the file."""
    admins = {}
    for name in ("root", "a", "b", "c"):
        zone = await zones(name, poll=FAST_POLLS)
        admins[name] = await Api(http, zone.url).as_user()
    topology = tmp_path / "tree.toml"
    topology.write_text(tree_file({name: admin.url for name, admin in admins.items()}))
    return admins, topology


async def apply(topology: Path, *options: str) -> tuple[int, list[str], str]:
    state = topology.parent / "state"
    code, out, err = await zones_command(
        "apply", str(topology), "--state-dir", str(state), *options
    )
    return code, out.splitlines(), err


async def children_of(admin: Api) -> dict[str, dict[str, Any]]:
    return {zone["name"]: zone for zone in (await admin.call("GET", "/zones")).body["zones"]}


async def user_names(admin: Api) -> list[str]:
    return sorted(user["name"] for user in (await admin.call("GET", "/users")).body["users"])


async def test_apply_registers_a_tree_of_running_zones_and_a_second_run_changes_nothing(
    running: tuple[dict[str, Api], Path],
) -> None:
    admins, topology = running
    code, lines, err = await apply(topology)
    assert code == 0, (lines, err)
    made = [line.strip() for line in lines if line.startswith("  ")]
    assert sorted(made) == sorted(
        [
            "a: create user svc-root (client zones, roles service)",
            "b: create user svc-root (client zones, roles service)",
            "c: create user svc-a (client zones, roles service)",
            "root: create user alice (client acme, roles member)",
            "root: create user bob (client acme, roles member)",
            f"root: register child a at {admins['a'].url} (as svc-root)",
            f"root: register child b at {admins['b'].url} (as svc-root)",
            f"a: register child c at {admins['c'].url} (as svc-a)",
        ]
    )
    assert "8 changes made" in lines
    # What an operator sees afterwards, through the API.
    children = await children_of(admins["root"])
    assert sorted(children) == ["a", "b"]
    assert {name: child["state"] for name, child in children.items()} == {
        "a": "online",
        "b": "online",
    }
    assert (children["a"]["weight_offset"], children["b"]["weight_offset"]) == (0, 2)
    assert [*(await children_of(admins["a"]))] == ["c"]
    assert await Api(admins["root"].session, admins["root"].url).login("alice", "alice-pw")
    assert await user_names(admins["a"]) == ["admin", "svc-root"]

    code, lines, err = await apply(topology)
    assert code == 0, (lines, err)
    assert "no changes" in lines
    assert not [line for line in lines if line.startswith("  ")], lines


async def test_dry_run_prints_the_plan_and_changes_nothing(
    running: tuple[dict[str, Api], Path],
) -> None:
    admins, topology = running
    code, lines, err = await apply(topology, "--dry-run")
    assert code == 0, (lines, err)
    planned = [line.strip() for line in lines if line.startswith("  ")]
    assert len(planned) == 8 and all(line.startswith("would ") for line in planned), planned
    assert f"would root: register child a at {admins['a'].url} (as svc-root)" in planned
    assert "8 changes planned; none made (--dry-run)" in lines
    assert await children_of(admins["root"]) == {}
    assert await children_of(admins["a"]) == {}
    for name in ("root", "a", "b", "c"):
        assert await user_names(admins[name]) == ["admin"]
    assert not (topology.parent / "state").exists()  # not even the passwords it would make


async def test_apply_fixes_what_differs_from_the_file_and_says_what(
    running: tuple[dict[str, Api], Path],
) -> None:
    admins, topology = running
    assert (await apply(topology))[0] == 0
    root = admins["root"]
    children = await children_of(root)
    # Drift made by hand: a link disabled and weighted, a service account gone, a user of
    # another client, and one whose password was changed.
    changed = await root.call(
        "PUT",
        f"/zones/{children['a']['id']}",
        json_body={"zone": {"enabled": False, "weight_offset": 7}},
    )
    assert changed.status == 200, changed
    assert (await admins["b"].call("DELETE", "/users/svc-root")).status == 204
    for name, client, password in (("alice", "other", "alice-pw"), ("bob", "acme", "changed")):
        assert (await root.call("DELETE", f"/users/{name}")).status == 204
        user = {"name": name, "password": password, "client": client, "roles": ["member"]}
        assert (await root.call("POST", "/users", json_body={"user": user})).status == 201
    topology.write_text(
        tree_file({name: admin.url for name, admin in admins.items()}, weight_of_b=-1.5)
    )

    code, lines, err = await apply(topology)
    assert code == 0, (lines, err)
    made = sorted(line.strip() for line in lines if line.startswith("  "))
    assert made == [
        "b: create user svc-root (client zones, roles service)",
        "root: child a: enabled false → true; weight_offset 7 → 0",
        "root: child b: weight_offset 2 → -1.5; credentials (as svc-root)",
        "root: make user alice again: client other → acme",
        "root: make user bob again: it does not log in with the deployment's password",
    ]
    children = await children_of(root)
    assert (children["a"]["enabled"], children["a"]["weight_offset"]) == (True, 0)
    assert children["b"]["weight_offset"] == -1.5
    assert await Api(root.session, root.url).login("bob", "bob-pw")

    async def both_online() -> bool:
        found = await children_of(root)
        return all(found[name]["state"] == "online" for name in ("a", "b"))

    await eventually(both_online, timeout=10)
    code, lines, _ = await apply(topology)
    assert code == 0 and "no changes" in lines


async def test_apply_says_which_zone_it_cannot_reach_and_exits_1(
    running: tuple[dict[str, Api], Path],
) -> None:
    admins, topology = running
    dead = free_ports(1)[0]
    topology.write_text(topology.read_text().replace(admins["c"].url, f"http://127.0.0.1:{dead}"))
    code, lines, err = await apply(topology)
    assert code == 1
    assert f"http://127.0.0.1:{dead}/auth/tokens failed" in err and "Traceback" not in err
    assert await children_of(admins["root"]) == {}  # nothing half-done: it plans first


async def test_up_starts_its_own_zones_and_joins_external_ones(
    http: aiohttp.ClientSession, zones: ZoneStarter, tmp_path: Path
) -> None:
    top_port, mid_port = free_ports(2)
    top_url = f"http://127.0.0.1:{top_port}"
    # An external child that trusts the root the file starts (requests carry its tokens).
    outside = await zones("outside", poll=FAST_POLLS, auth={"trusted_issuers": [top_url]})
    worker = await Api(http, outside.url).as_user()
    host = {"capabilities": {"site": "outside"}, "inventory": {"ram_mb": 100}, "ttl": 600}
    assert (await worker.call("PUT", "/hosts/o1", json_body={"host": host})).status == 200
    topology = tmp_path / "mixed.toml"
    topology.write_text(
        f'[defaults]\npoll_interval = 0.5\nadmin_password = "{ADMIN_PASSWORD}"\n'
        f'[[zone]]\nname = "top"\nport = {top_port}\nchildren = ["mid", "outside"]\n'
        f'[[zone]]\nname = "mid"\nport = {mid_port}\n'
        "  [[zone.hosts]]\n  count = 1\n  inventory = { ram_mb = 10 }\n"
        + external("outside", outside.url)
    )
    state = tmp_path / "state"
    try:
        code, out, err = await zones_command(
            "up", str(topology), "--state-dir", str(state), "--detach"
        )
        assert code == 0, (out, err)
        assert "starting 2 zones" in out
        assert f"top: register child outside at {outside.url} (as svc-top)" in out
        assert "outside: create user svc-top (client zones, roles service)" in out
        top = await Api(http, top_url).as_user("admin", ADMIN_PASSWORD)

        async def both_hosts_seen() -> bool:  # mid's simulated host, the external's own
            return bool((await top.call("GET", "/zones/info")).body["zone"]["hosts"] == 2)

        await eventually(both_hosts_seen, timeout=10)
        work = {"name": "w", "requirements": {"site": "outside"}, "resources": {"ram_mb": 1}}
        made = await top.call("POST", "/instances", json_body={"instance": work})
        assert made.body["instance"]["status"] == "ACTIVE", made
        code, out, err = await zones_command("status", "--state-dir", str(state))
        assert code == 0, (out, err)
        assert [line.split()[2] for line in out.splitlines()[1:]] == ["online"] * 3
        code, lines, err = await apply(topology)  # the same state dir: it logs in to top
        assert code == 0 and "no changes" in lines, (lines, err)
    finally:
        await zones_command("down", "--state-dir", str(state))
    assert not listening(top_port) and not listening(mid_port)
    assert (await worker.call("GET", "/healthz")).status == 200  # not ours to stop
