"""Requirements and resources against hosts and zone aggregates (CONTRACT.md section 4).

Rules under test come from the docstring of `zones.capabilities.matching`: against one
host the answer is exact and type-strict, against an aggregate it is "may" and never
rules out a zone that holds a fitting host; a key a host lacks meets no condition, `ne`
included; a zone's static capabilities drop the conditions they meet and rule the zone
out when they contradict one; resources are non-negative amounts checked against a
host's free inventory or a zone's `free.max`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zones.capabilities.aggregate import FreeAmount, KeyAggregate, aggregate, free_of_hosts
from zones.capabilities.matching import (
    MAX_IN_VALUES,
    OPERATORS,
    Condition,
    Operator,
    aggregate_may_satisfy,
    fits_host,
    host_satisfies,
    may_fit_zone,
    parse_requirements,
    parse_resources,
    split_static,
)
from zones.capabilities.values import CapabilityValue

FAST = settings(max_examples=100, deadline=None, database=None)

HOST: dict[str, CapabilityValue] = {
    "gpu_count": 2.0,
    "region": "na",
    "windows": True,
    "version": "2",
}


def satisfies(requirements: dict[str, Any], capabilities: dict[str, CapabilityValue]) -> bool:
    return host_satisfies(parse_requirements(requirements), capabilities)


def may_satisfy(requirements: dict[str, Any], sources: list[dict[str, CapabilityValue]]) -> bool:
    return aggregate_may_satisfy(parse_requirements(requirements), aggregate(sources))


def condition(requirement: dict[str, Any]) -> Condition:
    (parsed,) = parse_requirements(requirement)
    return parsed


# --- single hosts: exact --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        # eq, plain or spelled out
        ({"region": "na"}, True),
        ({"region": "eu"}, False),
        ({"region": {"eq": "na"}}, True),
        ({"region": {"eq": "eu"}}, False),
        ({"gpu_count": 2}, True),
        ({"gpu_count": 2.0}, True),
        ({"gpu_count": {"eq": 3}}, False),
        ({"windows": True}, True),
        ({"windows": False}, False),
        # ne
        ({"region": {"ne": "eu"}}, True),
        ({"region": {"ne": "na"}}, False),
        ({"gpu_count": {"ne": 3}}, True),
        ({"gpu_count": {"ne": 2}}, False),
        ({"windows": {"ne": False}}, True),
        ({"windows": {"ne": True}}, False),
        # lt le gt ge, at and around the boundary
        ({"gpu_count": {"lt": 3}}, True),
        ({"gpu_count": {"lt": 2}}, False),
        ({"gpu_count": {"lt": 1.5}}, False),
        ({"gpu_count": {"le": 2}}, True),
        ({"gpu_count": {"le": 1.999}}, False),
        ({"gpu_count": {"gt": 1}}, True),
        ({"gpu_count": {"gt": 2}}, False),
        ({"gpu_count": {"gt": 2.5}}, False),
        ({"gpu_count": {"ge": 2}}, True),
        ({"gpu_count": {"ge": 2.001}}, False),
        ({"gpu_count": {"ge": -1e300}}, True),
        # in
        ({"region": {"in": ["eu", "na"]}}, True),
        ({"region": {"in": ["na"]}}, True),
        ({"region": {"in": ["eu", "ap"]}}, False),
        ({"gpu_count": {"in": [1, 2]}}, True),
        ({"gpu_count": {"in": [1, 3]}}, False),
        ({"windows": {"in": [False, True]}}, True),
        # several conditions: all must hold
        ({"region": "na", "gpu_count": {"ge": 1}, "windows": True}, True),
        ({"region": "na", "gpu_count": {"ge": 3}, "windows": True}, False),
        ({}, True),
    ],
)
def test_host_exact(requirements: dict[str, Any], expected: bool) -> None:
    assert satisfies(requirements, HOST) is expected


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        # a bool is never a number, whatever Python thinks of True == 1.0
        ({"windows": 1}, False),
        ({"windows": 1.0}, False),
        ({"windows": {"in": [1, 0]}}, False),
        ({"windows": {"ne": 1}}, True),
        ({"windows": {"ge": 1}}, False),
        ({"windows": {"le": 1}}, False),
        ({"windows": {"gt": 0}}, False),
        # a string is never a number
        ({"version": 2}, False),
        ({"version": "2"}, True),
        ({"version": {"in": [2, 3]}}, False),
        ({"version": {"ne": 2}}, True),
        ({"version": {"ge": 1}}, False),
        ({"version": {"lt": 3}}, False),
        ({"region": {"gt": 0}}, False),
        # a number is never a string nor a bool
        ({"gpu_count": "2"}, False),
        ({"gpu_count": "2.0"}, False),
        ({"gpu_count": {"in": ["2", True]}}, False),
        ({"gpu_count": {"ne": "2"}}, True),
        ({"gpu_count": True}, False),
        ({"gpu_count": {"ne": True}}, True),
    ],
)
def test_host_type_strict(requirements: dict[str, Any], expected: bool) -> None:
    assert satisfies(requirements, HOST) is expected


def test_false_is_not_zero() -> None:
    assert satisfies({"gpu_count": False}, {"gpu_count": 0.0}) is False
    assert satisfies({"gpu_count": 0}, {"gpu_count": False}) is False
    assert satisfies({"gpu_count": {"le": 0}}, {"gpu_count": False}) is False


@pytest.mark.parametrize(
    "spec",
    [
        "x",
        2,
        True,
        {"eq": "x"},
        {"ne": "x"},
        {"ne": 2},
        {"ne": True},
        {"lt": 2},
        {"le": 2},
        {"gt": 2},
        {"ge": 2},
        {"in": ["x", 2, True]},
    ],
)
def test_missing_key_meets_no_condition(spec: Any) -> None:
    assert satisfies({"absent": spec}, HOST) is False
    assert satisfies({"absent": spec}, {}) is False
    assert may_satisfy({"absent": spec}, [HOST, {"other": 1.0}]) is False
    assert may_satisfy({"absent": spec}, []) is False


# --- aggregates: may ------------------------------------------------------------------------

RANGE_2_8 = [{"gpu": 2.0}, {"gpu": 8.0}]
STRINGS = [{"os": "linux"}, {"os": "windows"}]
MIXED = [{"gpu": "none"}, {"gpu": 2.0}, {"gpu": 4.0}]


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        ({"gpu": 2}, True),
        ({"gpu": 8}, True),
        ({"gpu": 5}, True),
        ({"gpu": 5.5}, True),
        ({"gpu": 1.99}, False),
        ({"gpu": 8.01}, False),
        ({"gpu": {"in": [1, 9]}}, False),
        ({"gpu": {"in": [1, 5]}}, True),
        ({"gpu": {"lt": 2}}, False),
        ({"gpu": {"lt": 2.01}}, True),
        ({"gpu": {"le": 2}}, True),
        ({"gpu": {"le": 1.99}}, False),
        ({"gpu": {"gt": 8}}, False),
        ({"gpu": {"gt": 7.99}}, True),
        ({"gpu": {"ge": 8}}, True),
        ({"gpu": {"ge": 8.01}}, False),
        ({"gpu": {"ne": 2}}, True),
        ({"gpu": {"ne": 5}}, True),
        ({"gpu": "2"}, False),
        ({"gpu": True}, False),
        ({"gpu": {"ne": "2"}}, True),
    ],
)
def test_aggregate_number_range(requirements: dict[str, Any], expected: bool) -> None:
    assert may_satisfy(requirements, RANGE_2_8) is expected


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        ({"os": "linux"}, True),
        ({"os": "windows"}, True),
        ({"os": "bsd"}, False),
        ({"os": {"in": ["bsd", "windows"]}}, True),
        ({"os": {"in": ["bsd", "plan9"]}}, False),
        ({"os": {"ne": "linux"}}, True),
        ({"os": {"ne": "bsd"}}, True),
        ({"os": {"lt": 1}}, False),
        ({"os": {"ge": -1e300}}, False),
        ({"os": 1}, False),
        ({"os": True}, False),
    ],
)
def test_aggregate_string_set(requirements: dict[str, Any], expected: bool) -> None:
    assert may_satisfy(requirements, STRINGS) is expected


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        ({"gpu": "none"}, True),
        ({"gpu": 3}, True),
        ({"gpu": 5}, False),
        ({"gpu": "some"}, False),
        ({"gpu": {"in": ["some", 4]}}, True),
        ({"gpu": {"gt": 3}}, True),
        ({"gpu": {"gt": 4}}, False),
        ({"gpu": {"lt": 2}}, False),
        ({"gpu": {"le": 2}}, True),
        ({"gpu": {"ne": "none"}}, True),
        ({"gpu": {"ne": 2}}, True),
        ({"gpu": True}, False),
    ],
)
def test_aggregate_mixed(requirements: dict[str, Any], expected: bool) -> None:
    assert may_satisfy(requirements, MIXED) is expected


@pytest.mark.parametrize(
    ("sources", "operand", "expected"),
    [
        # a single value equal to the operand: no source may differ
        ([{"k": "na"}], "na", False),
        ([{"k": "na"}, {"k": "na"}], "na", False),
        ([{"k": 2.0}], 2, False),
        ([{"k": 2.0}, {"k": 2.0}], 2.0, False),
        ([{"k": True}], True, False),
        ([{"k": False}, {"k": False}], False, False),
        # a single value different from the operand
        ([{"k": "na"}], "eu", True),
        ([{"k": 2.0}], 3, True),
        ([{"k": 2.0}], "2", True),
        ([{"k": True}], 1, True),
        ([{"k": "True"}], True, True),
        # several values: some source differs from any operand
        ([{"k": "na"}, {"k": "eu"}], "na", True),
        ([{"k": 2.0}, {"k": 3.0}], 2, True),
        ([{"k": True}, {"k": False}], True, True),
        ([{"k": "na"}, {"k": 2.0}], "na", True),
        ([{"k": "na"}, {"k": 2.0}], 2, True),
        ([{"k": True}, {"k": 1.0}], True, True),
        ([{"k": True}, {"k": 1.0}], 1, True),
    ],
)
def test_aggregate_ne(
    sources: list[dict[str, CapabilityValue]], operand: CapabilityValue, expected: bool
) -> None:
    assert may_satisfy({"k": {"ne": operand}}, sources) is expected


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        ({"windows": True}, True),
        ({"windows": False}, False),
        ({"windows": 1}, False),
        ({"windows": {"in": [False, "yes"]}}, False),
        ({"windows": {"ne": False}}, True),
        ({"windows": {"ge": 1}}, False),
    ],
)
def test_aggregate_bool(requirements: dict[str, Any], expected: bool) -> None:
    assert may_satisfy(requirements, [{"windows": True}, {"windows": True}]) is expected


def test_aggregate_may_satisfy_without_any_host_that_does() -> None:
    # Each condition is checked on its own: the zone may satisfy, no host does.
    sources: list[dict[str, CapabilityValue]] = [
        {"gpu": 1.0, "os": "linux"},
        {"gpu": 8.0, "os": "windows"},
    ]
    requirements = {"gpu": {"ge": 4}, "os": "linux"}
    assert may_satisfy(requirements, sources) is True
    assert not any(satisfies(requirements, source) for source in sources)


def test_aggregate_read_from_json_matches_like_the_original() -> None:
    summary = {
        "gpu_count": KeyAggregate.from_json("gpu_count", {"type": "float", "min": 0, "max": 8}),
        "region": KeyAggregate.from_json("region", {"type": "string", "values": ["na"]}),
    }
    assert aggregate_may_satisfy(parse_requirements({"gpu_count": {"ge": 8}}), summary)
    assert not aggregate_may_satisfy(parse_requirements({"gpu_count": {"gt": 8}}), summary)
    assert not aggregate_may_satisfy(parse_requirements({"region": {"ne": "na"}}), summary)


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


# --- properties -----------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "gpu", "os"])
VALUES: st.SearchStrategy[CapabilityValue] = st.one_of(
    st.sampled_from(["linux", "windows", "na", ""]),
    st.text(st.characters(min_codepoint=32, exclude_characters="\x7f"), max_size=3),
    st.integers(min_value=-4, max_value=4).map(float),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
# Operands as JSON decodes them: ints as well as floats.
OPERANDS = st.one_of(VALUES, st.integers(min_value=-4, max_value=4))
NUMBERS = st.one_of(
    st.integers(min_value=-4, max_value=4),
    st.floats(allow_nan=False, allow_infinity=False),
)
SPEC = st.one_of(
    OPERANDS,
    st.builds(lambda op, value: {op: value}, st.sampled_from(["eq", "ne"]), OPERANDS),
    st.builds(lambda op, value: {op: value}, st.sampled_from(["lt", "le", "gt", "ge"]), NUMBERS),
    st.lists(OPERANDS, min_size=1, max_size=4).map(lambda values: {"in": values}),
)
REQUIREMENTS = st.dictionaries(KEYS, SPEC, max_size=3)
SOURCES = st.lists(st.dictionaries(KEYS, VALUES, max_size=4), max_size=6)
HOSTS_FREE = st.lists(
    st.dictionaries(KEYS, st.integers(min_value=0, max_value=64).map(float), max_size=4),
    min_size=1,
    max_size=6,
)
RESOURCES = st.dictionaries(KEYS, st.integers(min_value=0, max_value=64).map(float), max_size=3)


@given(SOURCES, REQUIREMENTS)
@FAST
def test_aggregate_never_rules_out_a_fitting_host(
    sources: list[dict[str, CapabilityValue]], requirements: dict[str, Any]
) -> None:
    conditions = parse_requirements(requirements)
    summary = aggregate(sources)
    for source in sources:
        for item in conditions:
            if item.key in source and item.holds_for(source[item.key]):
                assert item.may_hold_for(summary[item.key])
        if host_satisfies(conditions, source):
            assert aggregate_may_satisfy(conditions, summary)


@given(VALUES, SPEC)
@FAST
def test_may_is_exact_for_a_single_value(value: CapabilityValue, spec: Any) -> None:
    item = condition({"k": spec})
    assert item.may_hold_for(KeyAggregate.of(value)) is item.holds_for(value)


@given(SOURCES, REQUIREMENTS)
@FAST
def test_may_rules_out_when_no_source_has_a_value_that_may_match(
    sources: list[dict[str, CapabilityValue]], requirements: dict[str, Any]
) -> None:
    # For eq / in against strings and bools the aggregate keeps every value, so "may" is
    # exact per condition: it holds for the aggregate iff it holds for some source.
    summary = aggregate(sources)
    for item in parse_requirements(requirements):
        if item.op not in ("eq", "in") or item.key not in summary:
            continue
        if any(type(operand) is float for operand in item.operands):
            continue
        some_source = any(
            item.key in source and item.holds_for(source[item.key]) for source in sources
        )
        assert item.may_hold_for(summary[item.key]) is some_source


@given(SOURCES, REQUIREMENTS)
@FAST
def test_split_static_agrees_with_the_host(
    sources: list[dict[str, CapabilityValue]], requirements: dict[str, Any]
) -> None:
    # A host below a zone carries the zone's static capabilities: the zone's split answer
    # and the host's own exact answer agree.
    conditions = parse_requirements(requirements)
    static = sources[0] if sources else {}
    remaining = split_static(conditions, static)
    for source in sources:
        host = {**source, **static}
        if remaining is None:
            assert not host_satisfies(conditions, host)
        else:
            assert host_satisfies(conditions, host) is host_satisfies(remaining, host)


@given(HOSTS_FREE, RESOURCES)
@FAST
def test_zone_never_ruled_out_when_a_host_fits(
    hosts: list[dict[str, float]], resources: dict[str, float]
) -> None:
    if any(fits_host(resources, host) for host in hosts):
        assert may_fit_zone(resources, free_of_hosts(hosts))


@given(HOSTS_FREE, KEYS, st.integers(min_value=0, max_value=64).map(float))
@FAST
def test_may_fit_zone_is_exact_for_one_resource(
    hosts: list[dict[str, float]], key: str, amount: float
) -> None:
    resources = {key: amount}
    expected = any(fits_host(resources, host) for host in hosts)
    assert may_fit_zone(resources, free_of_hosts(hosts)) is expected
