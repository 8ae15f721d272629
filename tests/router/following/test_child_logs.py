"""Logs that speak: one line when a child changes state, failures of one child at most once a
minute, and every line of a running zone a JSON object."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import Api, ZoneProcess, write_config
from tests.router.tree import Tree


async def root_over_leaf(http: aiohttp.ClientSession, zones: ZoneStarter) -> Tree:
    tree = Tree(http)
    await tree.start(zones, "root")
    await tree.start(zones, "leaf")
    await tree.add_child("root", "leaf")
    await tree.poll("root")
    return tree


def events(caplog: pytest.LogCaptureFixture, kind: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if getattr(record, "zones_fields", {}).get(
        "event") == kind]  # fmt: skip


async def test_a_child_going_offline_and_back_is_one_line_each_naming_it(
    http: aiohttp.ClientSession, zones: ZoneStarter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="zones.poller")
    tree = await root_over_leaf(http, zones)
    port = tree.zones["leaf"].settings.listen_port
    await tree.zones["leaf"].stop()
    for _ in range(4):  # offline after the second (QUIET_POLLING), then still offline
        await tree.poll("root")
    (offline,) = events(caplog, "child-state")
    assert offline.zones_fields["child"] == "leaf"  # type: ignore[attr-defined]
    assert offline.zones_fields["state"] == "offline"  # type: ignore[attr-defined]
    assert "2 failed polls in a row" in offline.getMessage()
    assert "could not be reached" in offline.getMessage()
    await tree.start_again(zones, "leaf", port)
    await tree.poll("root")
    back = events(caplog, "child-state")[1:]
    assert [record.getMessage() for record in back] == [
        "child leaf is online (was offline): it answered"
    ]


async def test_thirty_failed_polls_in_a_row_are_one_line(
    http: aiohttp.ClientSession, zones: ZoneStarter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="zones.poller")
    tree = await root_over_leaf(http, zones)
    await tree.zones["leaf"].stop()
    for _ in range(30):
        await tree.poll("root")
    failures = events(caplog, "child-poll-failed")
    assert len(failures) == 1, [record.getMessage() for record in failures]
    assert failures[0].getMessage().startswith("polling child leaf failed (1 time")


async def test_a_running_zone_writes_json_lines_only(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    zone = ZoneProcess(write_config(tmp_path / "node.toml", "logged", None))
    url = await zone.start()
    try:
        answer = await Api(http, url).call("GET", "/healthz", headers={"X-Request-Id": "r-42"})
        assert answer.status == 200
    finally:
        await zone.terminate()
    lines = [json.loads(line) for line in zone.stderr_path.read_text().splitlines()]
    (request,) = [line for line in lines if line.get("request_id") == "r-42"]
    assert (request["method"], request["route"], request["status"]) == ("GET", "/healthz", 200)
    assert request["ms"] >= 0
    starts = [line for line in lines if line.get("event") == "zone-start"]
    assert [(line["zone"], line["url"]) for line in starts] == [("logged", url)]
    assert [line["event"] for line in lines if line.get("event") == "zone-stop"] == ["zone-stop"]
