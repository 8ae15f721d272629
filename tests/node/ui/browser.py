"""A headless Chromium for the page's tests, driven over the Chrome DevTools Protocol.

No dependency beyond aiohttp: Chromium is started with a debugging port it picks
itself (read back from `DevToolsActivePort` in its profile folder), and its one page
is driven over a websocket: navigate, evaluate JavaScript, take a screenshot.
Chromium runs in a process group of its own, killed whole when the browser is closed,
whatever happened in the test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-proxy-server",
    "--window-size=1280,900",
    "--remote-debugging-port=0",
)
START_TIMEOUT = 30.0
# What the page tells its console: uncaught errors, CSP refusals, failed loads.
REPORTS = {"Runtime.exceptionThrown", "Log.entryAdded"}


class BrowserError(AssertionError):
    """The browser, or the page in it, did not do what the test asked."""


def find_chromium() -> str | None:
    """The Chromium to drive: $ZONES_CHROMIUM, else the first of the usual names on PATH."""
    chosen = os.environ.get("ZONES_CHROMIUM")
    if chosen:
        return chosen
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


class Page:
    """The browser's one tab, spoken to over its DevTools websocket."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reports: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self.read_answers(), name="devtools reader")

    async def read_answers(self) -> None:
        async for message in self.socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            answer = json.loads(message.data)
            if answer.get("method") in REPORTS:
                self.reports.append(answer["params"])
            future = self.waiting.pop(answer.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(answer)
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(BrowserError("the browser closed its DevTools connection"))

    async def send(self, method: str, timeout: float = 15.0, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        await self.socket.send_json({"id": self.next_id, "method": method, "params": params})
        answer = await asyncio.wait_for(future, timeout)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} threw {thrown}")
        return result["result"].get("value")

    async def navigate(self, url: str) -> None:
        """Open `url` and wait for its document to have loaded."""
        await self.send("Page.navigate", url=url)
        await self.wait_for(f"location.href.startsWith({json.dumps(url.split('#')[0])})")
        await self.wait_for("document.readyState === 'complete'")

    async def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        """The expression's value once it is truthy; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while True:
            with contextlib.suppress(BrowserError):  # between documents, evaluation fails
                value = await self.evaluate(expression)
                if value:
                    return value
            if time.monotonic() > deadline:
                raise BrowserError(f"not true within {timeout} s: {expression} (last: {value!r})")
            await asyncio.sleep(0.05)

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


async def wait_for_port(profile: Path, process: asyncio.subprocess.Process) -> int:
    """The debugging port Chromium chose, from the first line of its DevToolsActivePort."""
    deadline = time.monotonic() + START_TIMEOUT
    active = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise BrowserError(f"chromium exited at start with status {process.returncode}")
        lines = active.read_text().splitlines() if active.exists() else []
        if len(lines) >= 2:  # written whole: the port, then the browser's websocket path
            return int(lines[0])
        await asyncio.sleep(0.05)
    raise BrowserError(f"chromium wrote no DevToolsActivePort within {START_TIMEOUT} s")


async def page_socket_url(http: aiohttp.ClientSession, port: int) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as answer:
            targets = await answer.json()
        pages = [target for target in targets if target.get("type") == "page"]
        if pages:
            return str(pages[0]["webSocketDebuggerUrl"])
        await asyncio.sleep(0.05)
    raise BrowserError("chromium opened no page")


def kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the browser and every process it started (its renderers, its zygote)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def chromium(executable: str, workdir: Path) -> AsyncIterator[Page]:
    """A headless Chromium with one blank page, killed (all of it) on the way out."""
    profile = workdir / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    with (workdir / "chromium.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            executable,
            *FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        port = await wait_for_port(profile, process)
        async with aiohttp.ClientSession() as http:
            url = await page_socket_url(http, port)
            async with http.ws_connect(url, max_msg_size=0) as socket:
                page = Page(socket)
                try:
                    await page.send("Page.enable")
                    await page.send("Runtime.enable")
                    await page.send("Log.enable")
                    yield page
                finally:
                    page.reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await page.reader
    finally:
        kill_group(process)
        await process.wait()
