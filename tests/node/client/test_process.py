"""The client as a person runs it, `python -m zones ...` in its own process: one line on
stderr and exit 1 for each failure, never a traceback."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.conftest import ZoneStarter
from tests.harness import ADMIN_PASSWORD
from tests.node.client.running import zones_process

# Port 9 (discard) is outside the ephemeral range: no test zone ever listens there.
NOBODY = "http://127.0.0.1:9"


async def test_an_unreachable_url_names_the_url(tmp_path: Path) -> None:
    ran = await zones_process("--url", NOBODY, "tree", env={"ZONES_CONFIG_DIR": str(tmp_path)})
    assert (ran.code, ran.out) == (1, ""), ran
    assert ran.err == f"zones: cannot reach {NOBODY}: connection refused\n"


async def test_a_login_then_a_404_in_processes_of_their_own(
    zones: ZoneStarter, tmp_path: Path
) -> None:
    zone = await zones("alpha")
    env = {"ZONES_CONFIG_DIR": str(tmp_path / "config"), "ZONES_PASSWORD": ADMIN_PASSWORD}
    logged_in = await zones_process("login", zone.url, "--username", "admin", env=env)
    assert logged_in.code == 0 and logged_in.err == "", logged_in
    missing = str(uuid.uuid4())
    ran = await zones_process("instances", "show", missing, env=env)
    assert (ran.code, ran.out) == (1, ""), ran
    assert ran.err.startswith("zones: Not Found: ") and ran.err.count("\n") == 1, ran
    assert missing in ran.err and "Traceback" not in ran.err
