"""Typed capability values: a number is always a float, a bool never a number (CONTRACT.md 4)."""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given

from tests.capabilities.strategies import FAST, SOURCE
from zones.capabilities.aggregate import (
    KeyAggregate,
    aggregate,
    aggregate_to_json,
)
from zones.capabilities.values import (
    MAX_CAPABILITIES,
    MAX_STRING_LENGTH,
    CapabilityValue,
    check_key,
    parse_capabilities,
    parse_value,
    summarize,
    type_of,
)

# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [True, False])
def test_bool_stays_bool(raw: bool) -> None:
    value = parse_value("flag", raw)
    assert value is raw
    assert type_of(value) == "bool"
    assert summarize({"flag": value}) == {"flag": {"type": "bool", "values": [raw]}}


@pytest.mark.parametrize("raw", [8, 8.0, 0, -3, 2.5, 10**15])
def test_number_becomes_float(raw: float) -> None:
    value = parse_value("gpu_count", raw)
    assert type(value) is float
    assert value == raw
    assert type_of(value) == "float"


def test_int_and_float_are_one_value() -> None:
    as_int = parse_capabilities({"gpu_count": 8})
    as_float = parse_capabilities({"gpu_count": 8.0})
    assert as_int == as_float == {"gpu_count": 8.0}
    assert type(as_int["gpu_count"]) is float
    assert aggregate([as_int, as_float]) == {"gpu_count": KeyAggregate(low=8.0, high=8.0)}


@pytest.mark.parametrize("raw", ["na", "", "8", "true", "1.0", "x" * MAX_STRING_LENGTH])
def test_string_kept_as_is(raw: str) -> None:
    value = parse_value("region", raw)
    assert value == raw
    assert type(value) is str
    assert type_of(value) == "string"


@pytest.mark.parametrize(
    "raw",
    [
        math.nan,
        math.inf,
        -math.inf,
        [],
        ["na"],
        {},
        {"eq": "na"},
        None,
        (1, 2),
        b"na",
        object(),
    ],
)
def test_refused_values_name_the_key(raw: object) -> None:
    with pytest.raises(ValueError, match="'gpu_count'"):
        parse_value("gpu_count", raw)
    with pytest.raises(ValueError, match="'gpu_count'"):
        parse_capabilities({"region": "na", "gpu_count": raw})


def test_huge_integer_is_refused_with_value_error() -> None:
    # JSON decodes `1000...0` (401 digits) to an int that float() cannot hold; the docstring
    # promises ValueError for any decoded value it refuses.
    huge = json.loads("1" + "0" * 400)
    with pytest.raises(ValueError, match="'gpu_count'"):
        parse_value("gpu_count", huge)
    with pytest.raises(ValueError, match="'gpu_count'"):
        parse_capabilities({"gpu_count": huge})


def test_over_long_string_refused() -> None:
    assert parse_value("name", "x" * MAX_STRING_LENGTH) == "x" * MAX_STRING_LENGTH
    with pytest.raises(ValueError, match="'name'"):
        parse_value("name", "x" * (MAX_STRING_LENGTH + 1))


@pytest.mark.parametrize("key", ["a", "gpu_count", "x9", "a_", "a" * 64, "z" + "0" * 63])
def test_valid_keys(key: str) -> None:
    assert check_key(key) == key
    assert parse_capabilities({key: 1}) == {key: 1.0}


@pytest.mark.parametrize(
    "key",
    [
        "",
        "A",
        "Gpu",
        "gpuCount",
        "9gpu",
        "_gpu",
        "gpu-count",
        "gpu count",
        "gpu.count",
        "gpü",
        "a" * 65,
        " gpu",
        "gpu ",
        5,
        None,
        ("gpu",),
    ],
)
def test_invalid_keys(key: object) -> None:
    with pytest.raises(ValueError, match="capability key"):
        check_key(key)
    with pytest.raises(ValueError, match=re.escape(f"capability key {key!r}")):
        parse_capabilities({"region": "na", key: 1})


@pytest.mark.parametrize("key", ["gpu\n", "a" * 64 + "\n"])
def test_key_with_trailing_newline_refused(key: str) -> None:
    # KEY_PATTERN ends in `$`, which also matches just before a final newline.
    with pytest.raises(ValueError, match="capability key"):
        check_key(key)


def test_at_most_256_capabilities() -> None:
    exactly = {f"k{index}": float(index) for index in range(MAX_CAPABILITIES)}
    assert len(parse_capabilities(exactly)) == MAX_CAPABILITIES
    too_many = {f"k{index}": float(index) for index in range(MAX_CAPABILITIES + 1)}
    with pytest.raises(ValueError, match=str(MAX_CAPABILITIES)):
        parse_capabilities(too_many)


def test_summarize_one_source() -> None:
    capabilities = parse_capabilities({"region": "na", "gpu_count": 2, "windows": False})
    assert summarize(capabilities) == {
        "gpu_count": {"type": "float", "min": 2.0, "max": 2.0},
        "region": {"type": "string", "values": ["na"]},
        "windows": {"type": "bool", "values": [False]},
    }
    assert list(summarize(capabilities)) == ["gpu_count", "region", "windows"]


@given(SOURCE)
@FAST
def test_summarize_is_the_aggregate_of_one_source(source: dict[str, CapabilityValue]) -> None:
    assert summarize(source) == aggregate_to_json(aggregate([source]))
