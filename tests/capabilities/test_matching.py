"""Requirements against single hosts (exact) and zone aggregates (may), CONTRACT.md 4."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zones.capabilities.aggregate import KeyAggregate, aggregate, free_of_hosts
from zones.capabilities.matching import (
    Condition,
    aggregate_may_satisfy,
    fits_host,
    host_satisfies,
    may_fit_zone,
    parse_requirements,
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


# --- properties -----------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "gpu", "os"])
VALUES: st.SearchStrategy[CapabilityValue] = st.one_of(
    st.sampled_from(["linux", "windows", "na", ""]),
    st.text(
        st.characters(min_codepoint=32, exclude_characters="\x7f", exclude_categories=["Cs"]),
        max_size=3,
    ),
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
