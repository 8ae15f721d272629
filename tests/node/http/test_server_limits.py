"""What slow, stalled and vanished clients cost a zone: bounded header and body times, a cap
on connections, and one plain log line (never a traceback, never a 500) for their mistakes."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from tests.conftest import ZoneStarter
from tests.harness import RunningZone, eventually

LOGIN_HEAD = b"POST /auth/tokens HTTP/1.1\r\nHost: zone\r\nContent-Type: application/json\r\n"


async def connect(zone: RunningZone) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", zone.settings.listen_port)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the zone sent until it closed the connection (fails if it does not)."""
    return await asyncio.wait_for(reader.read(), timeout=seconds)


async def answer_within(reader: asyncio.StreamReader, seconds: float) -> tuple[bytes, bytes]:
    """The head and body of the zone's next answer (fails if none comes in time)."""
    async with asyncio.timeout(seconds):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return head, await reader.readexactly(length)


async def hang_up(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionError:
        pass


async def test_headers_slower_than_the_header_timeout_are_cut_off(zones: ZoneStarter) -> None:
    zone = await zones("alpha", zone={"header_timeout": 0.5})
    reader, writer = await connect(zone)
    started = time.monotonic()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: zone\r\n")  # and never the blank line
    for _ in range(3):  # still sending, one header at a time, slower than the clock allows
        await asyncio.sleep(0.2)
        if reader.at_eof():
            break
        writer.write(b"X-Slow: 1\r\n")
    assert await closed_within(reader, 5.0) == b""
    assert 0.4 <= time.monotonic() - started < 3.0
    await hang_up(writer)


async def test_a_connection_that_sends_nothing_is_closed_too(zones: ZoneStarter) -> None:
    zone = await zones("alpha", zone={"header_timeout": 0.3})
    reader, writer = await connect(zone)
    assert await closed_within(reader, 5.0) == b""
    await hang_up(writer)


async def test_a_body_slower_than_the_body_timeout_is_a_408(zones: ZoneStarter) -> None:
    zone = await zones("alpha", zone={"body_timeout": 0.5})
    reader, writer = await connect(zone)
    writer.write(LOGIN_HEAD + b"Content-Length: 100\r\n\r\n" + b'{"username": ')
    head, body = await answer_within(reader, 5.0)
    assert head.startswith(b"HTTP/1.1 408 "), head
    assert b"Connection: close" in head
    assert json.loads(body)["detail"] == "body: not received within zone.body_timeout (0.5 s)"
    await hang_up(writer)


async def test_a_client_gone_mid_body_is_one_line_without_a_traceback(
    zones: ZoneStarter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    zone = await zones("alpha")
    reader, writer = await connect(zone)
    writer.write(LOGIN_HEAD + b"Content-Length: 100\r\n\r\n" + b'{"username": ')
    await writer.drain()
    await hang_up(writer)

    def access_lines() -> list[logging.LogRecord]:
        return [record for record in caplog.records if record.name == "zones.access"]

    async def logged() -> bool:
        return bool(access_lines())

    await eventually(logged)
    (line,) = access_lines()
    assert line.getMessage() == "POST /auth/tokens 499"
    assert [record for record in caplog.records if record.exc_info] == []
    assert not any(" 500" in record.getMessage() for record in caplog.records)


async def test_a_request_line_over_8_kib_is_a_400_and_one_line(
    zones: ZoneStarter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    zone = await zones("alpha")
    reader, writer = await connect(zone)
    writer.write(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: zone\r\n\r\n")
    answer = await closed_within(reader, 5.0)
    assert answer.startswith(b"HTTP/1.0 400 ") or answer.startswith(b"HTTP/1.1 400 "), answer
    await hang_up(writer)
    assert [record for record in caplog.records if record.exc_info] == []
    refused = [r.getMessage() for r in caplog.records if r.name == "zones.http"]
    assert len(refused) == 1 and refused[0].startswith("refused a malformed request: 400")


async def test_connections_over_the_cap_are_refused_at_once_with_a_503(
    zones: ZoneStarter,
) -> None:
    zone = await zones("alpha", zone={"max_connections": 2})
    held = [await connect(zone) for _ in range(2)]
    reader, writer = await connect(zone)
    head, body = await answer_within(reader, 5.0)
    assert head.startswith(b"HTTP/1.1 503 "), head
    assert "zone.max_connections = 2" in json.loads(body)["detail"]
    assert await closed_within(reader, 5.0) == b""
    await hang_up(writer)
    for _, held_writer in held:
        await hang_up(held_writer)

    async def served_again() -> bool:
        reader, writer = await connect(zone)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: zone\r\nConnection: close\r\n\r\n")
        answer = await closed_within(reader, 5.0)
        await hang_up(writer)
        return answer.startswith(b"HTTP/1.1 200 ")

    await eventually(served_again)
