"""Reserved keys, who may use reserved room, and rooms as children report them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from zones.capabilities.aggregate import FreeAmount, KeyAggregate
from zones.capabilities.hosts.registry import LiveHost
from zones.capabilities.reserved import (
    MAX_RESERVED,
    Room,
    may_use,
    names_reserved,
    parse_reserved,
    reserved_from_json,
)
from zones.errors import ConfigError
from zones.node.config import validate_settings
from zones.router.instances.cache import child_aggregate
from zones.router.instances.placement import hosts_in_order


def test_reserved_keys_are_sorted_and_kept_once() -> None:
    assert parse_reserved(["gpu_count", "fpga", "gpu_count"]) == ("fpga", "gpu_count")
    assert parse_reserved([]) == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("gpu", "must be a list"),
        (["GPU"], "must match"),
        ([1], "must match"),
        ([f"k{i}" for i in range(MAX_RESERVED + 1)], f"at most {MAX_RESERVED}"),
    ],
)
def test_bad_reserved_keys_are_refused(raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_reserved(raw)


@pytest.mark.parametrize(
    ("reserved", "named", "allowed"),
    [
        ((), frozenset(), True),
        (("gpu_count",), frozenset(), False),
        (("gpu_count",), frozenset({"os"}), False),
        (("gpu_count",), frozenset({"os", "gpu_count"}), True),
        (("fpga", "gpu_count"), frozenset({"gpu_count"}), False),  # every key must be named
        (("fpga", "gpu_count"), frozenset({"gpu_count", "fpga"}), True),
    ],
)
def test_reserved_room_is_for_work_that_names_every_key(
    reserved: tuple[str, ...], named: frozenset[str], allowed: bool
) -> None:
    assert may_use(reserved, named) is allowed


def test_a_create_naming_a_reserved_key_is_matched_against_all_the_room() -> None:
    assert names_reserved(frozenset({"gpu_count", "os"}), frozenset({"gpu_count"}))
    assert not names_reserved(frozenset({"os"}), frozenset({"gpu_count"}))
    assert not names_reserved(frozenset(), frozenset())


def test_rooms_merge_and_read_back_what_they_wrote() -> None:
    left = Room({"os": KeyAggregate(values=frozenset({"linux"}))}, {"ram_mb": FreeAmount(4, 4)}, 1)
    right = Room({"os": KeyAggregate(values=frozenset({"bsd"}))}, {"ram_mb": FreeAmount(8, 8)}, 2)
    merged = left.merge(right)
    assert merged.hosts == 3
    assert merged.free == {"ram_mb": FreeAmount(8, 12)}
    assert Room.from_json(merged.to_json()) == merged
    for bad in ([], {"hosts": -1}, {"hosts": True}, {"free": {"ram_mb": {"max": 2, "sum": 1}}}):
        with pytest.raises(ValueError):
            Room.from_json(bad)
    with pytest.raises(ValueError):
        reserved_from_json(["Bad"])


INFO: dict[str, Any] = {
    "capabilities": {"os": {"type": "string", "values": ["linux"]}},
    "free": {"ram_mb": {"max": 65536.0, "sum": 69632.0}},
    "hosts": 2,
    "instances": 0,
}


def test_a_child_without_open_room_an_older_zone_has_all_of_its_room_open() -> None:
    older = child_aggregate(1, INFO)
    assert older.reserved == frozenset()
    assert older.open_room == Room(older.capabilities, older.free, 2)
    newer = child_aggregate(
        2,
        {
            **INFO,
            "open": {"capabilities": INFO["capabilities"], "free": {}, "hosts": 1},
            "reserved": ["gpu_count"],
        },
    )
    assert newer.reserved == frozenset({"gpu_count"})
    assert (newer.open_room.hosts, newer.open_room.free) == (1, {})


def host(name: str, free_ram: float) -> LiveHost:
    return LiveHost(name, {}, {"ram_mb": 8192.0}, {"ram_mb": 8192.0 - free_ram}, datetime.now(UTC))


def test_spread_tries_the_most_headroom_first_and_pack_the_least() -> None:
    hosts = [host("a", 2048), host("b", 8192), host("c", 4096), host("d", 4096)]
    wanted = {"ram_mb": 1024.0}
    assert [h.name for h in hosts_in_order(hosts, wanted, "spread")] == ["b", "c", "d", "a"]
    assert [h.name for h in hosts_in_order(hosts, wanted, "pack")] == ["a", "c", "d", "b"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"zone": {"name": "z", "reserved": ["GPU"]}}, "zone.reserved"),
        ({"zone": {"name": "z", "reserved": "gpu"}}, "zone.reserved"),
        ({"zone": {"name": "z", "reserved": [f"k{i}" for i in range(33)]}}, "zone.reserved"),
        ({"zone": {"name": "z"}, "router": {"strategy": "random"}}, "router.strategy"),
        ({"zone": {"name": "z"}, "router": {"strategy": 1}}, "router.strategy"),
    ],
)
def test_bad_reserved_keys_or_strategy_in_the_config_name_the_key(
    raw: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError, match=field):
        validate_settings(raw)


def test_the_config_defaults_reserve_nothing_and_spread() -> None:
    settings = validate_settings({"zone": {"name": "z"}})
    assert (settings.zone.reserved, settings.router.strategy) == ((), "spread")
    packed = validate_settings(
        {"zone": {"name": "z", "reserved": ["gpu", "fpga"]}, "router": {"strategy": "pack"}}
    )
    assert (packed.zone.reserved, packed.router.strategy) == (("fpga", "gpu"), "pack")
