"""Real zones on loopback for the tests: in-process apps, separate processes, and an HTTP client.

Nothing here mocks our HTTP: every zone listens on 127.0.0.1 on a port the
kernel picks, with its own real database and key files.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from zones.node.app import create_app
from zones.node.cli import bind
from zones.node.config import Settings, validate_settings
from zones.node.http.server import start_site, zone_runner

ADMIN_PASSWORD = "admin-pw"


@dataclass
class Answer:
    """What a client saw: status, headers and the decoded body (None when empty)."""

    status: int
    headers: CIMultiDict[str]
    body: Any

    @property
    def problem(self) -> dict[str, Any]:
        assert self.headers.get("Content-Type", "").startswith("application/problem+json"), (
            self.status,
            self.headers,
            self.body,
        )
        assert isinstance(self.body, dict)
        return self.body


@dataclass
class Api:
    """A tiny HTTP client bound to one zone's base URL."""

    session: aiohttp.ClientSession
    url: str
    token: str | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        bearer = token if token is not None else self.token
        if bearer:
            sent.setdefault("Authorization", f"Bearer {bearer}")
        if json_body is not None:
            data = json.dumps(json_body)
            sent.setdefault("Content-Type", "application/json")
        payload = io.BytesIO(data.encode() if isinstance(data, str) else data) if data else None
        async with self.session.request(
            method, self.url + path, data=payload, headers=sent
        ) as response:
            raw = await response.read()
            body: Any = None
            if raw:  # JSON decoded; any other text (metrics, pages) as it came
                json_typed = "json" in response.headers.get("Content-Type", "")
                body = json.loads(raw) if json_typed else raw.decode()
            return Answer(response.status, CIMultiDict(response.headers), body)

    async def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
        answer = await self.call(
            "POST", "/auth/tokens", json_body={"username": username, "password": password}
        )
        assert answer.status == 201, answer
        token = answer.body["token"]
        assert isinstance(token, str)
        return token

    async def as_user(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> Api:
        """The same client, logged in as `username`."""
        return Api(self.session, self.url, await self.login(username, password))


LOOPBACK = ["127.0.0.0/8", "::1/128"]


def zone_settings(
    directory: Path,
    name: str,
    database_url: str | None = None,
    **sections: dict[str, Any],
) -> Settings:
    """Settings for a test zone on an ephemeral loopback port, storing under `directory`."""
    zone = {"name": name, "listen": "127.0.0.1:0", **sections.pop("zone", {})}
    if database_url is not None:
        zone["database"] = database_url
    auth = {"admin_password": ADMIN_PASSWORD, **sections.pop("auth", {})}
    # Tests drive polls themselves (`app[POLLER].run_once()`); the background loop
    # only runs its first round at start unless a test asks for a shorter interval, and
    # keeps no watches unless a test asks for them.
    sections.setdefault("poll", {"interval": 3600.0})
    sections["poll"] = {"watch": False, **sections["poll"]}
    # Test zones contact children on this machine only.
    sections["router"] = {"allowed_children": LOOPBACK, **sections.get("router", {})}
    raw = {"zone": zone, "auth": auth, "base_dir": directory, **sections}
    return validate_settings(raw)


@dataclass
class RunningZone:
    """A zone served in this test's event loop."""

    settings: Settings
    app: web.Application
    runner: web.AppRunner

    @property
    def url(self) -> str:
        return self.settings.url

    async def stop(self) -> None:
        """Stop serving and release everything; stopping twice is harmless."""
        if self.runner.server is not None:
            await self.runner.cleanup()


async def start_zone(settings: Settings) -> RunningZone:
    sock, settings = bind(settings)
    app = create_app(settings)
    runner = zone_runner(app, settings)
    try:
        await runner.setup()
        await start_site(runner, sock, settings)
    except BaseException:
        await runner.cleanup()
        sock.close()
        raise
    return RunningZone(settings, app, runner)


def write_config(path: Path, name: str, database_url: str | None, extra: str = "") -> Path:
    """A node.toml for a zone process on an ephemeral port."""
    lines = ["[zone]", f'name = "{name}"', 'listen = "127.0.0.1:0"']
    if database_url is not None:
        lines.append(f'database = "{database_url}"')
    lines += ["[auth]", f'admin_password = "{ADMIN_PASSWORD}"', extra]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class ZoneProcess:
    """A zone running as its own OS process (`python -m zones serve`), for kill -9 tests."""

    config: Path
    process: asyncio.subprocess.Process | None = None
    url: str = ""
    # Run before the zone's own command, which it must exec in its place (so the process
    # started is the zone itself): `("ip", "netns", "exec", "<namespace>")`.
    command_prefix: tuple[str, ...] = ()
    stderr_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.stderr_path = self.config.with_suffix(".stderr")

    async def start(self, timeout: float = 30.0) -> str:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.stderr_path.open("ab") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                *self.command_prefix,
                sys.executable,
                "-m",
                "zones",
                "serve",
                "--config",
                str(self.config),
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=env,
            )
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            await self.kill()
            raise AssertionError(f"zone did not start: {self.stderr_path.read_text()}") from None
        if b"listening on" not in line:
            await self.process.wait()
            raise AssertionError(f"zone did not start: {self.stderr_path.read_text()}")
        self.url = line.decode().rsplit(" ", 1)[-1].strip()
        return self.url

    async def kill(self) -> None:
        """kill -9: no cleanup, no goodbye."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def terminate(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


def free_ports(count: int) -> list[int]:
    """Loopback ports free right now (for zones that must keep their port across a restart)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Poll `check` until it holds, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
