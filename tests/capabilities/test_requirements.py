"""Reading requirements and resources, static capabilities, and whether resources fit."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from zones.capabilities.aggregate import FreeAmount, free_of_hosts
from zones.capabilities.matching import (
    MAX_IN_VALUES,
    OPERATORS,
    Condition,
    Operator,
    fits_host,
    may_fit_zone,
    parse_requirements,
    parse_resources,
    split_static,
)
from zones.capabilities.values import CapabilityValue


def condition(requirement: dict[str, Any]) -> Condition:
    (parsed,) = parse_requirements(requirement)
    return parsed


# --- parse_requirements ---------------------------------------------------------------------


def test_plain_value_means_eq() -> None:
    assert parse_requirements({"region": "na"}) == [Condition("region", "eq", ("na",))]
    assert parse_requirements({"gpu": 2}) == [Condition("gpu", "eq", (2.0,))]
    assert parse_requirements({"windows": False}) == [Condition("windows", "eq", (False,))]
    parsed = parse_requirements({"gpu": 2})[0].operands[0]
    assert type(parsed) is float
    assert parse_requirements({"flag": True})[0].operands[0] is True


@pytest.mark.parametrize("op", [op for op in OPERATORS if op != "in"])
def test_each_operator_parses(op: Operator) -> None:
    assert parse_requirements({"gpu_count": {op: 1}}) == [Condition("gpu_count", op, (1.0,))]


def test_in_parses_to_several_operands() -> None:
    assert parse_requirements({"os": {"in": ["linux", 2, True]}}) == [
        Condition("os", "in", ("linux", 2.0, True))
    ]
    too_many = list(range(MAX_IN_VALUES))
    assert len(condition({"k": {"in": too_many}}).operands) == MAX_IN_VALUES


def test_eq_and_ne_take_any_type() -> None:
    assert condition({"k": {"eq": "x"}}) == Condition("k", "eq", ("x",))
    assert condition({"k": {"ne": True}}) == Condition("k", "ne", (True,))
    assert condition({"k": {"ne": 3}}) == Condition("k", "ne", (3.0,))


def test_requirements_keep_every_key_in_order() -> None:
    parsed = parse_requirements(
        json.loads('{"region": "na", "gpu_count": {"ge": 1}, "os": {"in": ["linux"]}}')
    )
    assert [item.key for item in parsed] == ["region", "gpu_count", "os"]
    assert [item.op for item in parsed] == ["eq", "ge", "in"]
    assert parse_requirements({}) == []


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"gpu_count": {"gte": 1}}, "gpu_count"),
        ({"gpu_count": {"EQ": 1}}, "gpu_count"),
        ({"gpu_count": {"": 1}}, "gpu_count"),
        ({"gpu_count": {"ge": 1, "le": 4}}, "gpu_count"),
        ({"gpu_count": {}}, "gpu_count"),
        ({"gpu_count": {"lt": "4"}}, "gpu_count"),
        ({"gpu_count": {"le": True}}, "gpu_count"),
        ({"gpu_count": {"gt": None}}, "gpu_count"),
        ({"gpu_count": {"ge": [1]}}, "gpu_count"),
        ({"gpu_count": {"ge": math.nan}}, "gpu_count"),
        ({"gpu_count": {"eq": math.inf}}, "gpu_count"),
        ({"os": {"in": "linux"}}, "os"),
        ({"os": {"in": {"linux": True}}}, "os"),
        ({"os": {"in": []}}, "os"),
        ({"os": {"in": None}}, "os"),
        ({"os": {"in": list(range(MAX_IN_VALUES + 1))}}, "os"),
        ({"os": {"in": ["linux", ["windows"]]}}, "os"),
        ({"os": {"in": ["linux", None]}}, "os"),
        ({"os": {"eq": ["linux"]}}, "os"),
        ({"os": {"ne": None}}, "os"),
        ({"os": ["linux", "windows"]}, "os"),
        ({"os": None}, "os"),
        ({"os": "x" * 257}, "os"),
        ({"region": "na", "GPU": 1}, "GPU"),
        ({"region": "na", "9gpu": 1}, "9gpu"),
        ({"region": "na", "gpu-count": {"ge": 1}}, "gpu-count"),
        ({"region": "na", "": 1}, ""),
    ],
)
def test_bad_requirements_name_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_requirements(raw)
    assert str(caught.value).startswith(f"requirements.{key}: ")


def test_bad_requirement_names_the_given_field() -> None:
    with pytest.raises(ValueError) as caught:
        parse_requirements({"gpu": {"ge": "x"}}, field="instance.requirements")
    assert str(caught.value).startswith("instance.requirements.gpu: ")


def test_huge_integer_operand_is_a_value_error() -> None:
    # The docstring promises ValueError naming `field.key` for malformed requirements; a
    # 401-digit integer (which JSON decodes fine) cannot become a float.
    huge = json.loads("1" + "0" * 400)
    with pytest.raises(ValueError) as caught:
        parse_requirements({"gpu": {"ge": huge}})
    assert str(caught.value).startswith("requirements.gpu: ")


@pytest.mark.parametrize("raw", [[], ["region"], "region=na", None, 3, True])
def test_requirements_must_be_an_object(raw: object) -> None:
    with pytest.raises(ValueError, match=r"^requirements: must be an object"):
        parse_requirements(raw)


# --- split_static ---------------------------------------------------------------------------

STATIC: dict[str, CapabilityValue] = {"region": "na", "tier": 1.0, "secure": True}


@pytest.mark.parametrize(
    "requirements",
    [
        {"region": "na"},
        {"region": {"ne": "eu"}},
        {"region": {"in": ["eu", "na"]}},
        {"tier": {"ge": 1}},
        {"tier": {"lt": 2}},
        {"tier": 1},
        {"secure": True},
        {"secure": {"ne": 1}},
    ],
)
def test_split_static_drops_conditions_it_meets(requirements: dict[str, Any]) -> None:
    assert split_static(parse_requirements(requirements), STATIC) == []


@pytest.mark.parametrize(
    "requirements",
    [
        {"region": "eu"},
        {"region": {"ne": "na"}},
        {"region": {"in": ["eu", "ap"]}},
        {"region": {"gt": 0}},
        {"tier": {"ge": 2}},
        {"tier": {"gt": 1}},
        {"tier": "1"},
        {"tier": True},
        {"secure": 1},
        {"secure": False},
        # one contradiction among conditions that hold or stay rules the zone out
        {"gpu": {"ge": 1}, "region": "na", "tier": 5},
    ],
)
def test_split_static_rules_the_zone_out(requirements: dict[str, Any]) -> None:
    assert split_static(parse_requirements(requirements), STATIC) is None


def test_split_static_keeps_keys_it_does_not_define() -> None:
    conditions = parse_requirements(
        {"gpu": {"ge": 1}, "region": "na", "os": {"in": ["linux"]}, "tier": {"le": 1}}
    )
    assert split_static(conditions, STATIC) == [
        Condition("gpu", "ge", (1.0,)),
        Condition("os", "in", ("linux",)),
    ]
    assert split_static(conditions, {}) == conditions
    assert split_static([], STATIC) == []


# --- resources ------------------------------------------------------------------------------


def test_parse_resources() -> None:
    parsed = parse_resources({"ram_mb": 2048, "vcpus": 2, "gpu": 0, "disk_gb": 0.5})
    assert parsed == {"ram_mb": 2048.0, "vcpus": 2.0, "gpu": 0.0, "disk_gb": 0.5}
    assert all(type(value) is float for value in parsed.values())
    assert parse_resources({}) == {}


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"ram_mb": -1}, "ram_mb"),
        ({"ram_mb": -0.001}, "ram_mb"),
        ({"ram_mb": "2048"}, "ram_mb"),
        ({"ram_mb": True}, "ram_mb"),
        ({"ram_mb": False}, "ram_mb"),
        ({"ram_mb": math.nan}, "ram_mb"),
        ({"ram_mb": math.inf}, "ram_mb"),
        ({"ram_mb": None}, "ram_mb"),
        ({"ram_mb": [2048]}, "ram_mb"),
        ({"ram_mb": {"ge": 2048}}, "ram_mb"),
        ({"vcpus": 2, "RAM": 2048}, "RAM"),
        ({"vcpus": 2, "ram-mb": 2048}, "ram-mb"),
    ],
)
def test_bad_resources_name_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_resources(raw)
    assert str(caught.value).startswith(f"resources.{key}: ")


def test_huge_integer_resource_is_a_value_error() -> None:
    huge = json.loads("1" + "0" * 400)
    with pytest.raises(ValueError) as caught:
        parse_resources({"ram_mb": huge})
    assert str(caught.value).startswith("resources.ram_mb: ")


@pytest.mark.parametrize("raw", [[], "ram_mb=1", None, 3])
def test_resources_must_be_an_object(raw: object) -> None:
    with pytest.raises(ValueError, match=r"^resources: must be an object"):
        parse_resources(raw)


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({"ram_mb": 2048.0, "vcpus": 2.0}, True),
        ({"ram_mb": 4096.0, "vcpus": 4.0}, True),  # exactly what is free
        ({"ram_mb": 4096.5}, False),
        ({"vcpus": 5.0}, False),
        ({"gpu": 1.0}, False),  # a resource the host lacks has 0 free
        ({"gpu": 0.0}, True),
        ({"ram_mb": 0.0, "gpu": 0.0}, True),
        ({}, True),
    ],
)
def test_fits_host(resources: dict[str, float], expected: bool) -> None:
    assert fits_host(resources, {"ram_mb": 4096.0, "vcpus": 4.0, "disk": 0.0}) is expected


def test_fits_host_with_nothing_free() -> None:
    assert fits_host({"disk": 0.0}, {"disk": 0.0})
    assert not fits_host({"disk": 0.5}, {"disk": 0.0})
    assert fits_host({}, {})


def test_may_fit_zone_uses_the_largest_single_host() -> None:
    # Lots of memory in all, but no single host has 2048 free.
    free = free_of_hosts([{"ram_mb": 1024.0}] * 100 + [{"ram_mb": 1536.0, "vcpus": 8.0}])
    assert free["ram_mb"] == FreeAmount(max=1536.0, sum=103936.0)
    assert not may_fit_zone({"ram_mb": 2048.0}, free)
    assert may_fit_zone({"ram_mb": 1536.0}, free)
    assert may_fit_zone({"ram_mb": 1536.0, "vcpus": 8.0}, free)
    assert not may_fit_zone({"ram_mb": 1536.0, "vcpus": 8.5}, free)


@pytest.mark.parametrize(
    "free",
    [
        {},
        {"ram_mb": FreeAmount(max=0.0, sum=0.0)},
        {"vcpus": FreeAmount(max=4.0, sum=8.0)},
    ],
)
def test_zero_amounts_always_fit(free: dict[str, FreeAmount]) -> None:
    assert may_fit_zone({"ram_mb": 0.0, "gpu": 0.0}, free)
    assert may_fit_zone({}, free)
    assert not may_fit_zone({"gpu": 0.5}, free)
