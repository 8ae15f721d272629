"""Running the `zones` client in tests: in a thread beside the zones this test's loop serves,
or as its own process (`python -m zones ...`), and a small tree of zones for a whole module."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.harness import RunningZone, start_zone, zone_settings
from tests.router.tree import Tree
from zones.node.cli import build_parser
from zones.node.client.commands import run


@dataclass(frozen=True)
class Ran:
    """What a person at the terminal sees: the exit code and both streams."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def row(self, first: str) -> list[str]:
        """The table's row whose first cell is `first`, split on runs of two spaces."""
        for line in self.lines:
            cells = [cell.strip() for cell in line.strip().split("  ") if cell.strip()]
            if cells and cells[0] == first:
                return cells
        raise AssertionError(f"no row {first!r} in:\n{self.out}")


def invoke(argv: tuple[str, ...]) -> Ran:
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stderr(err):  # argparse's usage errors
            arguments = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return Ran(int(exit_.code or 0), "", err.getvalue())
    code = run(arguments, out, err)
    return Ran(code, out.getvalue(), err.getvalue())


async def zones_cli(*argv: str) -> Ran:
    """`zones ARGV...` as `zones.node.cli` parses it and zones.node.client runs it, in a thread:
    its calls are blocking, and the zones answering them run on this test's event loop."""
    return await asyncio.to_thread(invoke, argv)


async def zones_process(*argv: str, env: dict[str, str] | None = None) -> Ran:
    """`python -m zones ARGV...` as its own process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zones",
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


class ModuleZones:
    """Zones started for a whole test module (the `zones` fixture's, module-scoped)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.running: list[RunningZone] = []

    async def __call__(
        self, name: str, database_url: str | None = None, **sections: Any
    ) -> RunningZone:
        directory = self.directory / name
        directory.mkdir(exist_ok=True)
        zone = await start_zone(zone_settings(directory, name, database_url, **sections))
        self.running.append(zone)
        return zone

    async def stop_all(self) -> None:
        for zone in reversed(self.running):
            await zone.stop()


@asynccontextmanager
async def module_tree(directory: Path) -> AsyncIterator[tuple[Tree, ModuleZones]]:
    """An empty Tree on an HTTP session, and a starter of zones stopped at the end."""
    starter = ModuleZones(directory)
    try:
        async with aiohttp.ClientSession() as http:
            yield Tree(http), starter
    finally:
        await starter.stop_all()
