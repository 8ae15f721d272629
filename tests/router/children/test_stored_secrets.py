"""A child's password sealed with a storage key the zone no longer has: a clear 409, not a 500."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from cryptography.fernet import Fernet

from tests.harness import Api, start_zone, zone_settings


async def test_a_password_the_zone_cannot_open_asks_to_be_sent_again(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    settings = zone_settings(tmp_path, "keeper")
    zone = await start_zone(settings)
    admin = await Api(http, zone.url).as_user()
    body = {"zone": {"api_url": "http://127.0.0.1:9", "username": "u", "password": "p"}}
    child_id = (await admin.call("POST", "/zones", json_body=body)).body["zone"]["id"]
    await zone.stop()

    (settings.secrets_dir / "storage.key").write_bytes(Fernet.generate_key())
    zone = await start_zone(settings.with_listen_port(zone.settings.listen_port))
    try:
        path = f"/zones/{child_id}"
        refused = await admin.call("PUT", path, json_body={"zone": {"username": "other"}})
        assert refused.status == 409
        assert refused.problem["detail"].startswith("zone.password:")
        assert "send the password again" in refused.problem["detail"]

        changed = await admin.call(
            "PUT", path, json_body={"zone": {"username": "other", "password": "new"}}
        )
        assert changed.status == 200, changed
        assert changed.body["zone"]["username"] == "other"
    finally:
        await zone.stop()
