"""Typed capability values, their aggregates and free inventory (CONTRACT.md section 4).

Rules under test come from the docstrings of `zones.capabilities.values` and
`zones.capabilities.aggregate`: a number is always a float and a bool never a
number; numbers aggregate to min/max, strings and bools to the sorted set of
values, disagreeing types to a "mixed" aggregate that keeps both; merging is
associative and commutative; free inventory aggregates to max and sum.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.capabilities.strategies import FAST, KEYS, SOURCE, VALUES
from zones.capabilities.aggregate import (
    Aggregate,
    FreeAmount,
    FreeSummary,
    KeyAggregate,
    aggregate,
    aggregate_from_json,
    aggregate_to_json,
    free_from_json,
    free_of_hosts,
    free_to_json,
    merge,
    merge_free,
)
from zones.capabilities.values import (
    MAX_STRING_LENGTH,
    CapabilityValue,
    type_of,
)

SOURCES = st.lists(SOURCE, max_size=6)


AGGREGATES = SOURCES.map(aggregate)


KEY_AGGREGATES = st.lists(VALUES, min_size=1, max_size=5).map(
    lambda values: reduce(KeyAggregate.merge, [KeyAggregate.of(value) for value in values])
)


HOST_FREE = st.dictionaries(KEYS, st.integers(min_value=0, max_value=10**9).map(float), max_size=4)


HOSTS_FREE = st.lists(HOST_FREE, max_size=6)


def fold(parts: Sequence[Mapping[str, KeyAggregate]]) -> Aggregate:
    return reduce(merge, parts, {})


def fold_free(parts: Sequence[Mapping[str, FreeAmount]]) -> FreeSummary:
    return reduce(merge_free, parts, {})


def through_json(document: Any) -> Any:
    """What the other side of an HTTP call decodes."""
    return json.loads(json.dumps(document))


# --- aggregation ----------------------------------------------------------------------------


def test_key_aggregate_of_each_type() -> None:
    assert KeyAggregate.of(2.0) == KeyAggregate(low=2.0, high=2.0)
    assert KeyAggregate.of(2.0).type == "float"
    assert KeyAggregate.of("na") == KeyAggregate(values=frozenset(["na"]))
    assert KeyAggregate.of("na").type == "string"
    assert KeyAggregate.of(True) == KeyAggregate(values=frozenset([True]))
    assert KeyAggregate.of(True).type == "bool"
    # A bool is never a number, even though True == 1.0 in Python.
    assert KeyAggregate.of(True).low is None


def test_numbers_aggregate_to_min_and_max() -> None:
    result = aggregate([{"gpu_count": 2.0}, {"gpu_count": 0.0}, {"gpu_count": 8.0}])
    assert aggregate_to_json(result) == {"gpu_count": {"type": "float", "min": 0.0, "max": 8.0}}


def test_strings_aggregate_to_sorted_values() -> None:
    result = aggregate([{"os": "windows"}, {"os": "linux"}, {"os": "windows"}, {"os": "bsd"}])
    assert aggregate_to_json(result) == {
        "os": {"type": "string", "values": ["bsd", "linux", "windows"]}
    }


def test_bools_aggregate_to_sorted_values() -> None:
    result = aggregate([{"windows": True}, {"windows": False}, {"windows": True}])
    shown = aggregate_to_json(result)
    assert shown == {"windows": {"type": "bool", "values": [False, True]}}
    assert json.dumps(shown) == '{"windows": {"type": "bool", "values": [false, true]}}'
    assert all(type(value) is bool for value in shown["windows"]["values"])


def test_mixed_string_and_number() -> None:
    result = aggregate([{"gpu": "none"}, {"gpu": 2.0}, {"gpu": 4.0}, {"gpu": "none"}])
    assert aggregate_to_json(result) == {
        "gpu": {"type": "mixed", "values": ["none"], "min": 2.0, "max": 4.0}
    }


def test_mixed_bool_and_number_keeps_them_apart() -> None:
    result = aggregate([{"gpu": True}, {"gpu": 1.0}])
    assert result["gpu"] == KeyAggregate(values=frozenset([True]), low=1.0, high=1.0)
    assert aggregate_to_json(result) == {
        "gpu": {"type": "mixed", "values": [True], "min": 1.0, "max": 1.0}
    }


def test_mixed_bool_and_string() -> None:
    result = aggregate([{"flag": "yes"}, {"flag": False}, {"flag": "no"}, {"flag": True}])
    shown = aggregate_to_json(result)["flag"]
    assert shown["type"] == "mixed"
    assert set(shown["values"]) == {"yes", "no", False, True}
    assert len(shown["values"]) == 4
    assert "min" not in shown and "max" not in shown


def test_mixed_string_and_bool_named_alike_are_two_values() -> None:
    result = aggregate([{"flag": "True"}, {"flag": True}])
    assert result["flag"].values == frozenset(["True", True])
    assert result["flag"].type == "mixed"


def test_aggregate_of_no_sources_is_empty() -> None:
    assert aggregate([]) == {}
    assert aggregate([{}, {}]) == {}
    assert aggregate_to_json(aggregate([])) == {}


def test_aggregate_keeps_keys_of_every_source() -> None:
    result = aggregate([{"region": "na"}, {"gpu_count": 1.0}, {"region": "eu", "gpu_count": 3.0}])
    assert aggregate_to_json(result) == {
        "gpu_count": {"type": "float", "min": 1.0, "max": 3.0},
        "region": {"type": "string", "values": ["eu", "na"]},
    }
    assert list(aggregate_to_json(result)) == ["gpu_count", "region"]


def test_merge_two_aggregates() -> None:
    left = aggregate([{"region": "na", "gpu_count": 1.0}, {"region": "na", "gpu_count": 4.0}])
    right = aggregate([{"region": "eu", "gpu_count": 2.0, "windows": True}])
    left_before, right_before = dict(left), dict(right)
    merged = merge(left, right)
    assert aggregate_to_json(merged) == {
        "gpu_count": {"type": "float", "min": 1.0, "max": 4.0},
        "region": {"type": "string", "values": ["eu", "na"]},
        "windows": {"type": "bool", "values": [True]},
    }
    assert left == left_before and right == right_before  # inputs are left alone
    assert merge(left, {}) == left
    assert merge({}, right) == right


def test_merge_widens_the_range_on_both_sides() -> None:
    merged = KeyAggregate(low=2.0, high=3.0).merge(KeyAggregate(low=-1.0, high=10.0))
    assert merged == KeyAggregate(low=-1.0, high=10.0)
    merged = KeyAggregate(low=2.0, high=3.0).merge(KeyAggregate(values=frozenset(["x"])))
    assert merged == KeyAggregate(values=frozenset(["x"]), low=2.0, high=3.0)
    assert merged.type == "mixed"


@pytest.mark.parametrize(
    "sources",
    [
        [{"k": 1.0}, {"k": 5.5}],
        [{"k": "b"}, {"k": "a"}],
        [{"k": True}, {"k": False}],
        [{"k": "x"}, {"k": -2.0}, {"k": 7.0}, {"k": True}],
        [{"k": -0.0}],
        [{"k": 1e300}, {"k": -1e-300}],
    ],
)
def test_to_json_from_json_round_trip(sources: list[dict[str, CapabilityValue]]) -> None:
    result = aggregate(sources)
    shown = through_json(aggregate_to_json(result))
    assert aggregate_from_json(shown) == result
    assert KeyAggregate.from_json("k", shown["k"]) == result["k"]
    assert aggregate_to_json(aggregate_from_json(shown)) == shown


def test_from_json_reads_the_contract_example() -> None:
    example = {
        "region": {"type": "string", "values": ["na"]},
        "os": {"type": "string", "values": ["linux", "windows"]},
        "gpu_count": {"type": "float", "min": 0, "max": 8},
        "can_run_windows": {"type": "bool", "values": [False, True]},
    }
    result = aggregate_from_json(example)
    assert result == {
        "region": KeyAggregate(values=frozenset(["na"])),
        "os": KeyAggregate(values=frozenset(["linux", "windows"])),
        "gpu_count": KeyAggregate(low=0.0, high=8.0),
        "can_run_windows": KeyAggregate(values=frozenset([False, True])),
    }
    assert type(result["gpu_count"].low) is float
    assert {key: value.type for key, value in result.items()} == {
        "region": "string",
        "os": "string",
        "gpu_count": "float",
        "can_run_windows": "bool",
    }


@pytest.mark.parametrize(
    "raw",
    [
        "na",
        ["na"],
        3,
        None,
        True,
        {"type": "string", "values": "na"},
        {"type": "string", "values": {"na": True}},
        {"type": "string", "values": None},
        {"type": "float", "values": [1.0]},
        {"type": "float", "values": [1]},
        {"type": "mixed", "values": ["x", 2.0]},
        {"type": "string", "values": [None]},
        {"type": "string", "values": [["na"]]},
        {"type": "string", "values": ["x" * (MAX_STRING_LENGTH + 1)]},
        {"type": "float", "min": 1.0},
        {"type": "float", "max": 1.0},
        {"type": "float", "min": None, "max": 1.0},
        {"type": "float", "min": 3.0, "max": 2.0},
        {},
        {"type": "string"},
        {"type": "string", "values": []},
        {"type": "float", "min": "0", "max": 8},
        {"type": "float", "min": 0, "max": "8"},
        {"type": "float", "min": True, "max": 8},
        {"type": "float", "min": [0], "max": 8},
        {"type": "float", "min": math.nan, "max": 8},
        {"type": "float", "min": 0, "max": math.inf},
    ],
)
def test_from_json_refuses_garbage(raw: object) -> None:
    with pytest.raises(ValueError, match="'gpu_count'"):
        KeyAggregate.from_json("gpu_count", raw)
    with pytest.raises(ValueError, match="'gpu_count'"):
        aggregate_from_json({"region": {"type": "string", "values": ["na"]}, "gpu_count": raw})


@pytest.mark.parametrize("raw", [[], "capabilities", None, 3, [("k", {"values": ["x"]})]])
def test_aggregate_from_json_refuses_non_object(raw: object) -> None:
    with pytest.raises(ValueError, match="capabilities must be an object"):
        aggregate_from_json(raw)


def test_from_json_min_equal_max_is_fine() -> None:
    assert KeyAggregate.from_json("k", {"type": "float", "min": 2, "max": 2}) == KeyAggregate(
        low=2.0, high=2.0
    )


# --- free inventory -------------------------------------------------------------------------


def test_free_of_hosts_is_max_and_sum() -> None:
    free = free_of_hosts([{"ram_mb": 1024.0, "vcpus": 4.0}, {"ram_mb": 4096.0}, {"vcpus": 2.0}])
    assert free == {
        "ram_mb": FreeAmount(max=4096.0, sum=5120.0),
        "vcpus": FreeAmount(max=4.0, sum=6.0),
    }
    assert free_to_json(free) == {
        "ram_mb": {"max": 4096.0, "sum": 5120.0},
        "vcpus": {"max": 4.0, "sum": 6.0},
    }
    assert list(free_to_json(free)) == ["ram_mb", "vcpus"]


def test_free_of_no_hosts_is_empty() -> None:
    assert free_of_hosts([]) == {}
    assert free_of_hosts([{}, {}]) == {}
    assert free_to_json({}) == {}


def test_merge_free() -> None:
    left = {"ram_mb": FreeAmount(max=1024.0, sum=3072.0)}
    right = {"ram_mb": FreeAmount(max=2048.0, sum=2048.0), "vcpus": FreeAmount(4.0, 4.0)}
    assert merge_free(left, right) == {
        "ram_mb": FreeAmount(max=2048.0, sum=5120.0),
        "vcpus": FreeAmount(max=4.0, sum=4.0),
    }
    assert left == {"ram_mb": FreeAmount(max=1024.0, sum=3072.0)}


def test_free_round_trip() -> None:
    free = free_of_hosts([{"ram_mb": 1024.0, "vcpus": 0.0}, {"ram_mb": 63488.0}])
    assert free_from_json(through_json(free_to_json(free))) == free


def test_free_from_json_reads_the_contract_example() -> None:
    example = {"ram_mb": {"max": 63488, "sum": 251904}, "vcpus": {"max": 30, "sum": 120}}
    assert free_from_json(example) == {
        "ram_mb": FreeAmount(max=63488.0, sum=251904.0),
        "vcpus": FreeAmount(max=30.0, sum=120.0),
    }


@pytest.mark.parametrize(
    "raw",
    [
        {"ram_mb": 1024},
        {"ram_mb": [1024, 1024]},
        {"ram_mb": {}},
        {"ram_mb": {"max": 1024}},
        {"ram_mb": {"sum": 1024}},
        {"ram_mb": {"max": "1024", "sum": 1024}},
        {"ram_mb": {"max": 1024, "sum": True}},
        {"ram_mb": {"max": math.nan, "sum": 1024}},
    ],
)
def test_free_from_json_refuses_garbage(raw: object) -> None:
    with pytest.raises(ValueError, match="'ram_mb'"):
        free_from_json(raw)


@pytest.mark.parametrize("raw", [[], "free", None, 3])
def test_free_from_json_refuses_non_object(raw: object) -> None:
    with pytest.raises(ValueError, match="free must be an object"):
        free_from_json(raw)


# --- properties -----------------------------------------------------------------------------


@given(SOURCES, st.data())
@FAST
def test_aggregate_is_the_fold_of_merge_in_any_order(
    sources: list[dict[str, CapabilityValue]], data: st.DataObject
) -> None:
    expected = aggregate(sources)
    shuffled = data.draw(st.permutations(sources))
    assert fold([aggregate([source]) for source in shuffled]) == expected
    assert aggregate(shuffled) == expected
    # The same shown form too: values are sorted, whatever the order they were met in.
    assert aggregate_to_json(aggregate(shuffled)) == aggregate_to_json(expected)
    # And split anywhere into two parts merged afterwards.
    cut = data.draw(st.integers(min_value=0, max_value=len(shuffled)))
    assert merge(aggregate(shuffled[:cut]), aggregate(shuffled[cut:])) == expected


@given(SOURCES)
@FAST
def test_aggregate_matches_a_direct_description(sources: list[dict[str, CapabilityValue]]) -> None:
    result = aggregate(sources)
    assert set(result) == {key for source in sources for key in source}
    for key, summary in result.items():
        seen = [source[key] for source in sources if key in source]
        numbers = [value for value in seen if type(value) is float]
        others = {value for value in seen if type(value) is not float}
        assert summary.values == others
        if numbers:
            assert (summary.low, summary.high) == (min(numbers), max(numbers))
        else:
            assert summary.low is None and summary.high is None
        kinds = {type_of(value) for value in seen}
        assert summary.type == (kinds.pop() if len(kinds) == 1 else "mixed")


@given(AGGREGATES, AGGREGATES, AGGREGATES)
@FAST
def test_merge_is_commutative_and_associative(
    first: Aggregate, second: Aggregate, third: Aggregate
) -> None:
    assert merge(first, second) == merge(second, first)
    assert merge(merge(first, second), third) == merge(first, merge(second, third))
    assert merge(first, {}) == first == merge({}, first)
    assert merge(first, first) == first


@given(KEY_AGGREGATES, KEY_AGGREGATES, KEY_AGGREGATES)
@FAST
def test_key_aggregate_merge_is_commutative_and_associative(
    first: KeyAggregate, second: KeyAggregate, third: KeyAggregate
) -> None:
    assert first.merge(second) == second.merge(first)
    assert first.merge(second).merge(third) == first.merge(second.merge(third))
    assert first.merge(first) == first


@given(AGGREGATES)
@FAST
def test_aggregate_json_round_trip_is_identity(result: Aggregate) -> None:
    shown = aggregate_to_json(result)
    again = aggregate_from_json(through_json(shown))
    assert again == result
    assert aggregate_to_json(again) == shown


@given(KEY_AGGREGATES)
@FAST
def test_key_aggregate_json_round_trip_is_identity(summary: KeyAggregate) -> None:
    assert KeyAggregate.from_json("k", through_json(summary.to_json())) == summary


@given(HOSTS_FREE, st.data())
@FAST
def test_free_of_hosts_is_the_fold_of_merge_free_in_any_order(
    hosts: list[dict[str, float]], data: st.DataObject
) -> None:
    expected = free_of_hosts(hosts)
    shuffled = data.draw(st.permutations(hosts))
    assert fold_free([free_of_hosts([host]) for host in shuffled]) == expected
    assert free_of_hosts(shuffled) == expected
    cut = data.draw(st.integers(min_value=0, max_value=len(shuffled)))
    assert merge_free(free_of_hosts(shuffled[:cut]), free_of_hosts(shuffled[cut:])) == expected
    for key, amount in expected.items():
        amounts = [host[key] for host in hosts if key in host]
        assert amount == FreeAmount(max=max(amounts), sum=sum(amounts))


@given(st.lists(HOSTS_FREE.map(free_of_hosts), min_size=3, max_size=3))
@FAST
def test_merge_free_is_commutative_and_associative(parts: list[FreeSummary]) -> None:
    first, second, third = parts
    assert merge_free(first, second) == merge_free(second, first)
    assert merge_free(merge_free(first, second), third) == merge_free(
        first, merge_free(second, third)
    )


@given(
    st.lists(
        st.dictionaries(KEYS, st.floats(min_value=0, max_value=1e12, allow_nan=False), max_size=4),
        max_size=6,
    ),
    st.data(),
)
@FAST
def test_free_of_hosts_any_order_with_inexact_floats(
    hosts: list[dict[str, float]], data: st.DataObject
) -> None:
    expected = free_of_hosts(hosts)
    shuffled = data.draw(st.permutations(hosts))
    got = fold_free([free_of_hosts([host]) for host in shuffled])
    assert set(got) == set(expected)
    for key, amount in expected.items():
        assert got[key].max == amount.max
        assert math.isclose(got[key].sum, amount.sum, rel_tol=1e-9, abs_tol=1e-9)


@given(HOSTS_FREE.map(free_of_hosts))
@FAST
def test_free_json_round_trip_is_identity(free: FreeSummary) -> None:
    assert free_from_json(through_json(free_to_json(free))) == free
