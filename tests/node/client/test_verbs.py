"""Every verb of the `zones` client against a real tree of zones: what a person reads in the
table, and the API's own JSON with `--json`.

One tree serves the module, root > mid > leaf (the lower zones trusting the root's
tokens), with a host at mid and one at leaf; each test logs in with a profile of its own.
"""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.harness import ADMIN_PASSWORD
from tests.node.client.running import Ran, module_tree, zones_cli
from tests.router.tree import Tree

pytestmark = pytest.mark.asyncio(loop_scope="module")

MEMBER = {"name": "mia", "password": "mia-pw", "client": "acme", "roles": ["member"]}
LINUX = {"os": "linux"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tree(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Tree]:
    async with module_tree(tmp_path_factory.mktemp("client-tree")) as (tree, starter):
        root = await tree.start(starter, "root")
        trust = {"trusted_issuers": [root.url]}
        await tree.start(starter, "mid", auth=trust)
        await tree.start(starter, "leaf", auth=trust)
        await tree.heartbeat(
            "mid", "mid-host", capabilities=LINUX, inventory={"ram_mb": 1024}, ttl=3600
        )
        await tree.heartbeat(
            "leaf",
            "leaf-host",
            capabilities={**LINUX, "gpus": 2},
            inventory={"ram_mb": 4096},
            ttl=3600,
        )
        await tree.add_child("mid", "leaf")
        await tree.add_child("root", "mid")
        await tree.poll("mid", "root")
        made = await tree.admins["root"].call("POST", "/users", json_body={"user": MEMBER})
        assert made.status == 201, made
        yield tree


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config directory of this test's own (the profile lives in it)."""
    directory = tmp_path / "config" / "zones"
    monkeypatch.setenv("ZONES_CONFIG_DIR", str(directory))
    return directory


async def log_in(
    tree: Tree, monkeypatch: pytest.MonkeyPatch, user: str = "admin", password: str = ADMIN_PASSWORD
) -> Ran:
    monkeypatch.setenv("ZONES_PASSWORD", password)
    ran = await zones_cli("login", tree.zones["root"].url, "--username", user)
    monkeypatch.delenv("ZONES_PASSWORD")
    return ran


@pytest_asyncio.fixture(loop_scope="module")
async def admin(tree: Tree, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Tree:
    """The tree, with this test logged in at its root as admin."""
    assert (await log_in(tree, monkeypatch)).code == 0
    return tree


async def test_login_keeps_url_and_token_in_a_profile_only_its_owner_reads(
    tree: Tree, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = await log_in(tree, monkeypatch)
    assert ran.code == 0, ran
    assert ran.out.startswith(f"logged in to {tree.zones['root'].url} as admin"), ran
    profile = config_dir / "profile.json"
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    kept = json.loads(profile.read_text())
    assert (kept["url"], kept["username"]) == (tree.zones["root"].url, "admin")
    assert kept["token"] and kept["expires_at"]
    listed = await zones_cli("users", "list")  # the profile is all the next command needs
    assert listed.code == 0 and listed.row("mia")[1:3] == ["acme", "member"], listed


async def test_a_bad_password_is_one_line_and_exit_1_and_keeps_no_profile(
    tree: Tree, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = await log_in(tree, monkeypatch, password="not-the-password")
    assert (ran.code, ran.out) == (1, ""), ran
    assert ran.err.startswith("zones: Unauthorized: ") and ran.err.count("\n") == 1, ran
    assert "zones login" not in ran.err  # it is the login
    assert not (config_dir / "profile.json").exists()


async def test_tree_indents_each_zone_under_its_parent(admin: Tree) -> None:
    ran = await zones_cli("tree")
    assert ran.code == 0, ran
    header, *rows = ran.lines
    assert header.split() == ["ZONE", "STATE", "HOSTS", "INSTANCES", "FREE", "LAST", "SEEN"]
    assert [row.split()[0] for row in rows] == ["root", "mid", "leaf"]
    assert [len(row) - len(row.lstrip()) for row in rows] == [0, 2, 4]
    assert ran.row("root")[1:3] == ["online", "2"] and ran.row("leaf")[1:3] == ["online", "1"]
    assert "ram_mb 5120 (max 4096)" in ran.row("root")
    assert ran.row("root")[-1] == "-" and ran.row("mid")[-1].endswith(" ago"), ran
    as_json = await zones_cli("--json", "tree")
    document = json.loads(as_json.out)
    assert document["zone"]["name"] == "root"
    assert document["zone"]["children"][0]["children"][0]["name"] == "leaf"


async def test_zones_list_add_show_and_remove_a_child(admin: Tree, tmp_path: Path) -> None:
    tree = admin
    listed = await zones_cli("zones", "list")
    assert listed.row("1")[1:4] == ["mid", tree.zones["mid"].url, "online"], listed
    as_json = json.loads((await zones_cli("zones", "list", "--json")).out)
    assert [zone["name"] for zone in as_json["zones"]] == ["mid"]

    other = tree.zones["leaf"].url  # registered a second time, under another name
    add = ["zones", "add", other, "--username", "svc-parent", "--password", "svc-pw"]
    added = await zones_cli(*add, "--name", "again")
    assert added.code == 0 and added.out.startswith("added child again (id "), added
    shown = await zones_cli("zones", "show", "again")
    assert shown.code == 0, shown
    assert shown.row("name") == ["name", "again"] and shown.row("api_url") == ["api_url", other]
    child_id = added.out.split("(id ")[1].split(")")[0]
    by_id = json.loads((await zones_cli("--json", "zones", "show", child_id)).out)
    assert (by_id["zone"]["name"], str(by_id["zone"]["id"])) == ("again", child_id)
    removed = await zones_cli("zones", "remove", "again")
    assert removed.out == f"removed child again (id {child_id})\n", removed
    gone = await zones_cli("zones", "show", "again")
    assert (gone.code, gone.err) == (
        1,
        "zones: Not Found: no child named 'again' (or with that id) here\n",
    )


async def test_instances_create_list_show_move_and_delete(admin: Tree) -> None:
    wanted = ["--require", "os=linux", "--require", "gpus=ge:1", "--resource", "ram_mb=512"]
    created = await zones_cli("instances", "create", "web", *wanted)
    assert created.code == 0, created
    assert created.row("status") == ["status", "ACTIVE"] and created.row("zone") == ["zone", "leaf"]
    assert created.row("host") == ["host", "leaf-host"]
    assert created.row("path") == ["path", "root > mid > leaf"]
    web = created.row("id")[1]
    fixed = str(uuid.uuid4())
    as_json = await zones_cli(
        "--json", "instances", "create", "db", "--id", fixed, "--require", "os=in:linux,bsd"
    )
    assert as_json.code == 0, as_json
    made = json.loads(as_json.out)["instance"]
    assert (made["id"], made["requirements"]) == (fixed, {"os": {"in": ["linux", "bsd"]}})

    listed = await zones_cli("instances", "list", "--page-size", "1")  # every page, one by one
    assert listed.code == 0 and listed.err == "", listed
    assert {listed.row(web)[1], listed.row(fixed)[1]} == {"web", "db"}
    assert listed.row(web)[2:] == ["admin", "ACTIVE", "leaf", "leaf-host"]
    capped = await zones_cli("instances", "list", "--limit", "1", "--page-size", "1")
    assert len(capped.lines) == 2 and "more instances: --marker " in capped.err, capped
    shown = json.loads((await zones_cli("instances", "show", web, "--json")).out)
    assert shown["instance"]["name"] == "web"

    moved = await zones_cli("instances", "move", web, "--zone", "mid", "--require", "os=linux")
    assert moved.code == 0, moved
    assert moved.row("zone") == ["zone", "mid"] and moved.row("id") == ["id", web]
    for instance in (web, fixed):
        deleted = await zones_cli("instances", "delete", instance)
        assert deleted.out == f"deleted instance {instance}\n", deleted
    assert (await zones_cli("instances", "list")).lines == ["ID  NAME  CLIENT  STATUS  ZONE  HOST"]


async def test_an_unknown_instance_is_a_one_line_404(admin: Tree) -> None:
    missing = str(uuid.uuid4())
    ran = await zones_cli("instances", "show", missing)
    assert (ran.code, ran.out) == (1, ""), ran
    assert ran.err.startswith("zones: Not Found: ") and missing in ran.err, ran
    assert ran.err.count("\n") == 1


async def test_a_member_sees_its_own_lookup_and_is_refused_admin_verbs(
    tree: Tree, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await log_in(tree, monkeypatch, "mia", "mia-pw")).code == 0
    created = await zones_cli("instances", "create", "app", "--require", "gpus=ge:1")
    assert created.row("client") == ["client", "acme"], created
    found = await zones_cli("lookup", "acme")
    assert found.code == 0, found
    assert found.row("acme")[1:] == ["leaf", tree.zones["leaf"].url, "root > mid > leaf"], found
    assert json.loads((await zones_cli("--json", "lookup", "acme")).out)["path"] == [
        "root",
        "mid",
        "leaf",
    ]
    refused = await zones_cli("users", "list")
    assert (refused.code, refused.out) == (1, ""), refused
    assert refused.err.startswith("zones: Forbidden") and refused.err.count("\n") == 1, refused
    assert (await zones_cli("instances", "delete", created.row("id")[1])).code == 0


async def test_users_add_list_and_remove(admin: Tree) -> None:
    add = ["users", "add", "olga", "--client", "ops", "--role", "admin", "--role", "member"]
    added = await zones_cli(*add, "--password", "olga-pw-1")
    assert added.out == "added user olga (client ops, roles admin, member)\n", added
    listed = await zones_cli("users", "list")
    assert listed.row("olga")[1:3] == ["ops", "admin, member"], listed
    names = [
        user["name"]
        for user in json.loads((await zones_cli("users", "list", "--json")).out)["users"]
    ]
    assert "olga" in names
    assert (await zones_cli("users", "remove", "olga")).out == "removed user olga\n"
    assert "olga" not in (await zones_cli("users", "list")).out


async def test_url_overrides_the_profile_and_zone_reaches_a_descendant(admin: Tree) -> None:
    tree = admin
    at_mid = await zones_cli("--url", tree.zones["mid"].url, "zones", "list")
    assert at_mid.code == 0, at_mid
    assert at_mid.row("1")[1] == "leaf"
    through_root = await zones_cli("zones", "list", "--zone", "mid")
    assert through_root.code == 0, through_root
    assert through_root.row("1")[1] == "leaf"
    hosts_below = await zones_cli("--zone", "leaf", "--json", "tree")
    assert json.loads(hosts_below.out)["zone"]["name"] == "leaf"
    nowhere = await zones_cli("--zone", "atlantis", "tree")
    assert nowhere.code == 1 and nowhere.err.startswith("zones: Not Found"), nowhere


async def test_without_a_login_the_client_says_to_log_in(tree: Tree, config_dir: Path) -> None:
    nothing = await zones_cli("tree")
    assert (nothing.code, nothing.err) == (
        1,
        "zones: no zone to talk to: run `zones login URL --username NAME`, or give --url URL\n",
    )
    refused = await zones_cli("--url", tree.zones["root"].url, "tree")
    assert refused.code == 1 and refused.err.startswith("zones: Unauthorized"), refused
    assert "run `zones login URL --username NAME`" in refused.err
