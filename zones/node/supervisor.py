"""A zone on several worker processes: the supervisor that starts, watches and stops them.

`zones serve --workers N` (or `[zone] workers = N`) over PostgreSQL: the
supervisor makes what the workers share once (zones.node.app.prepare: keys,
schema, uuid, first admin), reserves the zone's port with SO_REUSEPORT, and
starts N workers (`zones serve --as-worker`), each listening on that port with
SO_REUSEPORT so the kernel spreads connections over them. It announces the
zone once every worker is ready, starts again a worker that dies (not more
than a few times a minute), and on SIGINT or SIGTERM stops them all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from zones.node.app import prepare
from zones.node.config import Settings
from zones.node.metrics.registry import MULTIPROCESS_DIR_VARIABLE

log = logging.getLogger("zones.supervisor")

READY_WITHIN = 60.0  # seconds a worker may take to listen
STOP_WITHIN = 10.0  # seconds workers get to stop before they are killed
RESTARTS_PER_MINUTE = 5  # more failures than this in a minute: the supervisor gives up


class WorkerFailed(Exception):
    """A worker could not start, or kept dying."""


def reserve_port(settings: Settings) -> tuple[socket.socket, int]:
    """Bind (not listen) the zone's address with SO_REUSEPORT: the port stays the zone's
    while workers come and go, and `listen = "...:0"` learns it here."""
    family = socket.AF_INET6 if ":" in settings.listen_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.listen_host, settings.listen_port))
    return sock, int(sock.getsockname()[1])


@dataclass
class Worker:
    config: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    started: list[float] = field(default_factory=list)

    def start(self) -> None:
        """Start the worker and wait until it listens; WorkerFailed if it does not."""
        now = time.monotonic()
        self.started = [at for at in self.started if now - at < 60] + [now]
        if len(self.started) > RESTARTS_PER_MINUTE:
            raise WorkerFailed(f"a worker died {len(self.started) - 1} times within a minute")
        ready_read, ready_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "zones",
                    "serve",
                    "--config",
                    str(self.config),
                    "--as-worker",
                    str(self.port),
                    "--ready-fd",
                    str(ready_write),
                ],
                pass_fds=(ready_write,),
            )
            os.close(ready_write)
            ready_write = -1
            readable, _, _ = select.select([ready_read], [], [], READY_WITHIN)
            if not readable or not os.read(ready_read, 1):
                self.stop(kill=True)
                raise WorkerFailed("a worker did not start (its own messages say why)")
        finally:
            os.close(ready_read)
            if ready_write >= 0:
                os.close(ready_write)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, kill: bool = False) -> None:
        if self.alive:
            assert self.process is not None
            self.process.kill() if kill else self.process.terminate()


def supervise(settings: Settings, config: Path) -> int:
    """Run the zone as `settings.zone.workers` workers until SIGINT or SIGTERM."""
    asyncio.run(prepare(settings))
    share_metrics(settings)
    reserved, port = reserve_port(settings)
    settings = settings.with_listen_port(port)
    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: stopping.append(number))
    workers = [Worker(config, port) for _ in range(settings.zone.workers)]
    try:
        for worker in workers:
            worker.start()
        print(f"zones: {settings.zone.name} listening on {settings.url}", flush=True)
        log.info("%s serves with %d workers", settings.zone.name, len(workers))
        while not stopping:
            time.sleep(0.2)
            for worker in workers:
                if not worker.alive and not stopping:
                    log.warning("a worker of %s ended; starting another", settings.zone.name)
                    worker.start()
        return 0
    except WorkerFailed as exc:
        print(f"zones: {settings.zone.name}: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_all(workers)
        reserved.close()


def share_metrics(settings: Settings) -> None:
    """Give the workers one empty directory for their metrics (prometheus-client's
    multiprocess mode), so that a scrape at any worker counts all of them."""
    directory = settings.base_dir / f"{settings.zone.name}.metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROCESS_DIR_VARIABLE] = str(directory)  # the workers inherit it


def stop_all(workers: list[Worker]) -> None:
    for worker in workers:
        worker.stop()
    deadline = time.monotonic() + STOP_WITHIN
    for worker in workers:
        if worker.process is None:
            continue
        try:
            worker.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            worker.stop(kill=True)
            worker.process.wait()
