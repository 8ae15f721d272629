"""Node settings: loaded once from node.toml, with errors that name the bad key."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ENV
from zones.errors import ConfigError
from zones.node.config import load_settings

VALID = """
[zone]
name = "na-dc1"
listen = "127.0.0.1:8103"
capabilities = { region = "na", gpu_count = 8, can_run_windows = true }

[auth]
admin_password = "pw"
trusted_issuers = ["http://127.0.0.1:8100/"]

[poll]
interval = 5.0
timeout = 2.0
failures_before_offline = 3

[router]
child_timeout = 5.0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def test_a_full_config_loads_with_typed_values(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, VALID), environ={})
    assert settings.zone.name == "na-dc1"
    assert settings.url == "http://127.0.0.1:8103"
    assert settings.zone.capabilities == {"region": "na", "gpu_count": 8.0, "can_run_windows": True}
    assert isinstance(settings.zone.capabilities["gpu_count"], float)
    assert settings.trusted_issuers == {"http://127.0.0.1:8103", "http://127.0.0.1:8100"}
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'na-dc1.db'}"
    assert settings.secrets_dir == tmp_path / "na-dc1.keys"


def test_defaults_and_relative_paths_resolve_beside_the_config(tmp_path: Path) -> None:
    text = '[zone]\nname = "z"\ndatabase = "sqlite+aiosqlite:///data/z.db"\n'
    settings = load_settings(write(tmp_path, text), environ={})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data/z.db'}"
    assert settings.url == "http://127.0.0.1:8100"
    assert (settings.poll.interval, settings.poll.timeout) == (5.0, 2.0)
    assert settings.poll.failures_before_offline == 3
    assert settings.router.child_timeout == 5.0
    assert settings.zone.max_body_bytes == 1024 * 1024


def test_admin_password_may_come_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[zone]\nname = "z"\n')
    settings = load_settings(path, environ={"ZONES_ADMIN_PASSWORD": "from-env"})
    assert settings.auth.admin_password is not None
    assert settings.auth.admin_password.get_secret_value() == "from-env"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[zone]\nname = "Bad_Name"\n', "zone.name"),
        ("[zone]\n", "zone.name"),
        ('[zone]\nname = "z"\nlisten = "8100"\n', "zone.listen"),
        ('[zone]\nname = "z"\nlisten = "127.0.0.1:99999"\n', "zone.listen"),
        ('[zone]\nname = "z"\nurl = "ftp://x"\n', "zone.url"),
        ('[zone]\nname = "z"\ndatabase = "mysql://x"\n', "zone.database"),
        ('[zone]\nname = "z"\ncapabilities = { os = ["linux"] }\n', "zone.capabilities"),
        ('[zone]\nname = "z"\ncapabilities = { "Bad Key" = 1 }\n', "zone.capabilities"),
        ('[zone]\nname = "z"\nlisten_port = 1\n', "zone.listen_port"),
        ('[zone]\nname = "z"\n[auth]\ntrusted_issuers = ["nope"]\n', "auth.trusted_issuers.0"),
        ('[zone]\nname = "z"\n[poll]\ninterval = -1\n', "poll.interval"),
        (
            '[zone]\nname = "z"\n[poll]\nfailures_before_offline = 0\n',
            "poll.failures_before_offline",
        ),
        ('[zone]\nname = "z"\n[router]\nchild_timeout = "soon"\n', "router.child_timeout"),
        ('[zone]\nname = "z"\n[routr]\nchild_timeout = 1\n', "routr"),
        ('[zone]\nname = "z"\nworkers = 0\n', "zone.workers"),
        ('[zone]\nname = "z"\nworkers = -2\n', "zone.workers"),
        ('[zone]\nname = "z"\nworkers = "2"\n', "zone.workers"),
        ('[zone]\nname = "z"\nworkers = 1.5\n', "zone.workers"),
        ('[zone]\nname = "z"\nworkers = 2\n', "zone.workers"),  # on SQLite
        ('[zone]\nname = "z"\ndatabase_connections = 0\n', "zone.database_connections"),
        ('[zone]\nname = "z"\ndatabase_connections = "8"\n', "zone.database_connections"),
        ('[zone]\nname = "z"\ndatabase_connections = 1001\n', "zone.database_connections"),
    ],
)
def test_a_bad_key_is_named(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ={})
    assert f"{named}:" in str(caught.value)
    assert str(tmp_path / "node.toml") in str(caught.value)


def test_malformed_toml_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 2"):
        load_settings(write(tmp_path, '[zone]\nname = "z\n'), environ={})


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.toml", environ={})


async def run_serve(config: Path, *options: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zones",
        "serve",
        "--config",
        str(config),
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin"},
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def test_serve_with_a_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    code, stderr = await run_serve(write(tmp_path, '[zone]\nname = "Nope!"\n'))
    assert code == 2
    assert "zone.name:" in stderr
    assert "Traceback" not in stderr


async def test_first_start_without_admin_password_exits_2(tmp_path: Path) -> None:
    code, stderr = await run_serve(write(tmp_path, '[zone]\nname = "z"\nlisten = "127.0.0.1:0"\n'))
    assert code == 2
    assert "auth.admin_password" in stderr
    assert "Traceback" not in stderr


async def test_serve_on_a_taken_port_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        text = f'[zone]\nname = "z"\nlisten = "127.0.0.1:{port}"\n[auth]\nadmin_password = "x"\n'
        code, stderr = await run_serve(write(tmp_path, text))
    assert code == 1
    assert "cannot listen" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_serve_with_an_unreachable_database_exits_1_saying_so(
    tmp_path: Path, workers: str
) -> None:
    text = (
        '[zone]\nname = "z"\nlisten = "127.0.0.1:0"\n'
        'database = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"\n'
        '[auth]\nadmin_password = "x"\n'
    )
    code, stderr = await run_serve(write(tmp_path, text), "--workers", workers)
    assert code == 1
    assert "cannot start" in stderr and "cannot listen" not in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_serve_over_a_postgresql_database_that_does_not_exist_exits_1_saying_so(
    tmp_path: Path, workers: str
) -> None:
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"needs a PostgreSQL server: set {POSTGRES_ENV}")
    missing = server.rsplit("/", 1)[0] + f"/zones_missing_{uuid.uuid4().hex[:8]}"
    text = f'[zone]\nname = "z"\nlisten = "127.0.0.1:0"\ndatabase = "{missing}"\n'
    code, stderr = await run_serve(
        write(tmp_path, text + '[auth]\nadmin_password = "x"\n'), "--workers", workers
    )
    assert code == 1
    assert "cannot start: the database refused" in stderr and "does not exist" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("workers", "said"),
    [("2", "2 workers need a PostgreSQL database"), ("0", "greater than or equal to 1")],
)
async def test_serve_with_workers_it_cannot_have_exits_2_saying_why(
    tmp_path: Path, workers: str, said: str
) -> None:
    config = write(tmp_path, '[zone]\nname = "z"\nlisten = "127.0.0.1:0"\n')
    code, stderr = await run_serve(config, "--workers", workers)
    assert code == 2
    assert "zone.workers:" in stderr and said in stderr
    assert "Traceback" not in stderr
