"""A topology's reserved hosts: `reserved` in `[[zone.hosts]]`, checked, and sent in the
heartbeats the host agent makes of them."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ZoneStarter
from tests.harness import ADMIN_PASSWORD, Api
from zones.node.launch.checks import TopologyError
from zones.node.launch.host_agent import ZoneHeartbeats
from zones.node.launch.state_dir import write_agent_spec
from zones.node.launch.topology import load_topology, parse_topology

DEMO = Path(__file__).parents[3] / "topologies" / "global.toml"


def one_zone(hosts: list[dict[str, object]]) -> dict[str, object]:
    return {"zone": [{"name": "huddle", "hosts": hosts}]}


def test_the_demo_keeps_its_gpu_hosts_for_work_that_asks_for_gpus() -> None:
    hosts = [host for zone in load_topology(DEMO).zones.values() for host in zone.hosts]
    gpu_hosts = {host.name for host in hosts if host.capabilities.get("gpu_count", 0.0) > 0}
    assert gpu_hosts == {"na-dc1-h2-gpu-1", "eu-dc1-h1-gpu-1", "asia-dc1-h2-gpu-1"}
    assert {host.name for host in hosts if host.reserved == ("gpu_count",)} == gpu_hosts
    assert all(host.reserved == () for host in hosts if host.name not in gpu_hosts)


@pytest.mark.parametrize(
    ("reserved", "message"),
    [
        (["fpga"], "hosts.reserved: fpga: not among the hosts' capabilities"),
        (["GPU"], "hosts: capability key 'GPU'"),
        ("gpu_count", "hosts: must be a list"),
    ],
)
def test_bad_reserved_keys_of_simulated_hosts_are_refused(reserved: object, message: str) -> None:
    group = {"names": ["g1"], "capabilities": {"gpu_count": 8}, "reserved": reserved}
    with pytest.raises(TopologyError, match=message):
        parse_topology(one_zone([group]))


async def test_the_host_agent_sends_the_reserved_keys_in_its_heartbeats(
    tmp_path: Path, http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    zone = await zones("huddle")
    topology = parse_topology(
        one_zone(
            [
                {"names": ["o1"], "capabilities": {"os": "linux"}},
                {"names": ["g1"], "capabilities": {"gpu_count": 8}, "reserved": ["gpu_count"]},
            ]
        )
    )
    spec = json.loads(write_agent_spec(tmp_path, topology, "unused").read_text())["zones"][0]
    spec.update(url=zone.url, username="admin", password=ADMIN_PASSWORD)
    await ZoneHeartbeats(http, spec, ttl=30.0).beat_all()

    listed = (await (await Api(http, zone.url).as_user()).call("GET", "/hosts")).body["hosts"]
    assert {host["name"]: host["reserved"] for host in listed} == {"g1": ["gpu_count"], "o1": []}
