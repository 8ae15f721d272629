"""The `zones` command line; `zones serve --config node.toml` runs one zone in the foreground.

The client's verbs (`login`, `tree`, `instances`...) are built and run by zones.node.client.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from zones.errors import ConfigError
from zones.node import logs
from zones.node.app import create_app
from zones.node.client import commands as client
from zones.node.config import Settings, load_settings
from zones.node.http.server import start_site, zone_runner
from zones.node.launch import apply as applying
from zones.node.launch import launcher
from zones.node.launch.host_agent import run_agent
from zones.node.supervisor import supervise
from zones.router.instances.reindex import reindex

log = logging.getLogger("zones.node")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zones", description="A federation of nested zones.")
    client.add_global_options(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run one zone in the foreground")
    serve.add_argument("--config", required=True, type=Path, help="the zone's node.toml")
    serve.add_argument(
        "--workers", type=int, help="worker processes (overrides [zone] workers; PostgreSQL)"
    )
    # How the supervisor starts a worker (zones.node.supervisor): its port, and where it
    # says it listens.
    serve.add_argument("--as-worker", type=int, metavar="PORT", help=argparse.SUPPRESS)
    serve.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    up = commands.add_parser("up", help="bring up every zone of a topology file")
    up.add_argument("topology", type=Path, help="the topology TOML file")
    up.add_argument("--state-dir", type=Path, default=Path(".zones"))
    up.add_argument("--detach", action="store_true", help="return once converged")
    apply = commands.add_parser(
        "apply", help="make running zones (external ones too) match a topology file"
    )
    apply.add_argument("topology", type=Path, help="the topology TOML file")
    apply.add_argument("--state-dir", type=Path, default=Path(".zones"))
    apply.add_argument("--dry-run", action="store_true", help="print the changes, make none")
    for name, text in (("status", "show a deployment's zones"), ("down", "stop a deployment")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--state-dir", type=Path, default=Path(".zones"))
    reindex = commands.add_parser(
        "reindex", help="rebuild a zone's mappings and client index by asking its children"
    )
    reindex.add_argument("--config", required=True, type=Path, help="the zone's node.toml")
    agent = commands.add_parser("host-agent", help="send heartbeats for hosts")
    agent.add_argument("--spec", required=True, type=Path, help="the hosts, as JSON")
    client.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `zones status | head` ends quietly
    arguments = build_parser().parse_args(argv)
    logs.configure()
    if arguments.command in client.COMMANDS:  # login, tree, ..., status: zones.node.client
        return client.run(arguments)
    if arguments.command == "serve":
        return serve_command(
            arguments.config, arguments.workers, arguments.as_worker, arguments.ready_fd
        )
    if arguments.command == "up":
        return launcher.up(arguments.topology, arguments.state_dir, arguments.detach)
    if arguments.command == "apply":
        return applying.apply(arguments.topology, arguments.state_dir, arguments.dry_run)
    if arguments.command == "down":
        return launcher.down(arguments.state_dir)
    if arguments.command == "reindex":
        return reindex_command(arguments.config)
    if arguments.command == "host-agent":
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(run_agent(arguments.spec))
        return 0
    return 2


def serve_command(
    config: Path,
    workers: int | None = None,
    as_worker: int | None = None,
    ready_fd: int | None = None,
) -> int:
    try:
        settings = load_settings(config)
        if workers is not None:
            settings = settings.with_workers(workers)
        if as_worker is None and settings.zone.workers > 1:
            return supervise(settings, config)
        worker = None if as_worker is None else Worker(as_worker, ready_fd)
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(settings, worker))
    except ConfigError as exc:
        print(f"zones: {exc}", file=sys.stderr)
        return 2
    except CannotListen as exc:
        print(f"zones: cannot listen: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the database cannot be reached, most often
        print(f"zones: cannot start: {exc}", file=sys.stderr)
        return 1
    except DBAPIError as exc:  # the database answered, and refused (no such database...)
        print(f"zones: cannot start: the database refused: {exc.orig}", file=sys.stderr)
        return 1
    return 0


def reindex_command(config: Path) -> int:
    try:
        settings = load_settings(config)
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            report = runner.run(reindex(settings))
    except ConfigError as exc:
        print(f"zones: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"zones: cannot reindex: {exc}", file=sys.stderr)
        return 1
    print(f"zones: {settings.zone.name} reindexed", *report.lines(), sep="\n  ")
    return 1 if report.unreachable else 0


@dataclass(frozen=True)
class Worker:
    """How a worker of a zone on several listens (the zone's port, with SO_REUSEPORT), and
    where it says it does (a pipe to the supervisor, which announces the zone)."""

    port: int
    ready_fd: int | None


class CannotListen(Exception):
    """The zone's listening address cannot be bound (taken, or not this machine's)."""


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it installs: it forwards noticeably faster than the default loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def bind(settings: Settings, reuse_port: bool = False) -> tuple[socket.socket, Settings]:
    """Bind the listening socket first, so `listen = "...:0"` learns its port before the app."""
    family = socket.AF_INET6 if ":" in settings.listen_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((settings.listen_host, settings.listen_port))
    except OSError as exc:
        sock.close()
        raise CannotListen(f"{settings.zone.listen}: {exc.strerror or exc}") from exc
    sock.listen(1024)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    return sock, settings if settings.listen_port == port else settings.with_listen_port(port)


async def stop_when_orphaned(stop: asyncio.Event, every: float = 1.0) -> None:
    """A worker whose supervisor died (SIGKILL leaves it no time to stop its workers) stops
    too, rather than serve on unsupervised."""
    supervisor = os.getppid()
    while os.getppid() == supervisor:
        await asyncio.sleep(every)
    log.warning("the supervisor of this worker is gone; stopping")
    stop.set()


async def serve(settings: Settings, worker: Worker | None = None) -> None:
    if worker is None:
        sock, settings = bind(settings)
    else:
        sock, settings = bind(settings.with_listen_port(worker.port), reuse_port=True)
    runner = zone_runner(create_app(settings), settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if worker is not None:
        loop.create_task(stop_when_orphaned(stop), name="supervisor watch")
    try:
        await runner.setup()
        await start_site(runner, sock, settings)
        if worker is None:
            print(f"zones: {settings.zone.name} listening on {settings.url}", flush=True)
        elif worker.ready_fd is not None:
            os.write(worker.ready_fd, b"1")
            os.close(worker.ready_fd)
        await stop.wait()
        log.info("stopping %s", settings.zone.name)
    finally:
        await runner.cleanup()
        sock.close()
