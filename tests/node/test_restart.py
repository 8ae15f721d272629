"""A zone killed with kill -9 and started again keeps everything it had committed."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.conftest import ZoneStarter
from tests.harness import Api, ZoneProcess, free_port, write_config


async def test_kill_9_and_restart_keeps_uuid_users_keys_tokens_and_children(
    tmp_path: Path, database_url: str, http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    # A fixed port: the zone's URL is the issuer of its tokens, and real zones keep theirs.
    config = write_config(tmp_path / "node.toml", "keeper", database_url)
    config.write_text(config.read_text().replace("127.0.0.1:0", f"127.0.0.1:{free_port()}"))
    child = await zones("kept-child")
    child_admin = await Api(http, child.url).as_user()
    await child_admin.call(
        "POST",
        "/users",
        json_body={
            "user": {"name": "svc", "password": "svc-pw", "client": "ops", "roles": ["service"]}
        },
    )

    node = ZoneProcess(config)
    try:
        url = await node.start()
        admin = await Api(http, url).as_user()
        before_info = (await admin.call("GET", "/zones/info")).body["zone"]
        before_keys = (await admin.call("GET", "/.well-known/jwks.json")).body
        created = await admin.call(
            "POST",
            "/users",
            json_body={"user": {"name": "alice", "password": "alice-pw", "client": "acme"}},
        )
        assert created.status == 201
        alice_token = await Api(http, url).login("alice", "alice-pw")
        added = await admin.call(
            "POST",
            "/zones",
            json_body={"zone": {"api_url": child.url, "username": "svc", "password": "svc-pw"}},
        )
        assert added.status == 201

        await node.kill()
        assert await node.start() == url

        after_info = (await admin.call("GET", "/zones/info")).body["zone"]
        assert after_info["uuid"] == before_info["uuid"]
        assert (await admin.call("GET", "/.well-known/jwks.json")).body == before_keys
        # The admin token issued before the kill still works; so does alice's.
        users = await admin.call("GET", "/users")
        assert users.status == 200
        assert [user["name"] for user in users.body["users"]] == ["admin", "alice"]
        assert (await admin.call("GET", "/zones", token=alice_token)).status == 403
        assert await Api(http, url).login("alice", "alice-pw")
        listed = await admin.call("GET", "/zones")
        assert [(zone["id"], zone["name"], zone["uuid"]) for zone in listed.body["zones"]] == [
            (added.body["zone"]["id"], "kept-child", added.body["zone"]["uuid"])
        ]
    finally:
        await node.kill()


async def test_a_second_start_does_not_recreate_the_admin(
    tmp_path: Path, database_url: str, http: aiohttp.ClientSession
) -> None:
    config = write_config(tmp_path / "node.toml", "again", database_url)
    node = ZoneProcess(config)
    try:
        url = await node.start()
        admin = await Api(http, url).as_user()
        await node.terminate()
        # Without admin_password the zone still starts: its admin exists already.
        config.write_text(config.read_text().replace('admin_password = "admin-pw"', ""))
        url = await node.start()
        users = await Api(http, url, admin.token).call("GET", "/users")
        assert users.status == 401  # new port, so the old token's issuer is not this zone
        admin = await Api(http, url).as_user()
        users = await admin.call("GET", "/users")
        assert [user["name"] for user in users.body["users"]] == ["admin"]
    finally:
        await node.kill()
