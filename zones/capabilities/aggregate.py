"""Aggregates: what many hosts and zones offer, folded into one summary per key.

Numbers aggregate to their `min` and `max`; strings and bools to the sorted
set of their `values`. A key whose sources disagree on its type (one host says
`gpu = "none"`, another `gpu = 2`) keeps both: its aggregate is `"mixed"`,
with the set of non-number values and the range of the numbers, so matching
never loses a source. Free inventory aggregates to `max` (the most any single
host has free) and `sum` (all of it together).

Merging is associative and commutative, so a parent gets the same aggregate
whatever order its hosts and children are folded in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from zones.capabilities.values import CapabilityValue, check_key, parse_value

Aggregate = dict[str, "KeyAggregate"]
FreeSummary = dict[str, "FreeAmount"]


def _value_order(value: str | bool) -> tuple[int, str]:
    return (0, str(value)) if isinstance(value, bool) else (1, value)


@dataclass(frozen=True)
class KeyAggregate:
    """Everything known of one capability key: its non-number values and its number range."""

    values: frozenset[str | bool] = frozenset()
    low: float | None = None
    high: float | None = None

    @classmethod
    def of(cls, value: CapabilityValue) -> KeyAggregate:
        if isinstance(value, float) and not isinstance(value, bool):
            return cls(low=value, high=value)
        return cls(values=frozenset([value]))

    @property
    def type(self) -> str:
        kinds = {"bool" if isinstance(value, bool) else "string" for value in self.values}
        if self.low is not None:
            kinds.add("float")
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def merge(self, other: KeyAggregate) -> KeyAggregate:
        return KeyAggregate(
            values=self.values | other.values,
            low=_pick(min, self.low, other.low),
            high=_pick(max, self.high, other.high),
        )

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"type": self.type}
        if self.values:
            shown["values"] = sorted(self.values, key=_value_order)
        if self.low is not None:
            shown["min"], shown["max"] = self.low, self.high
        return shown

    @classmethod
    def from_json(cls, key: str, raw: Any) -> KeyAggregate:
        """Read an aggregate a child sent; ValueError when it is not one."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"capability {key!r}: aggregate must be an object")
        values = raw.get("values", [])
        if not isinstance(values, list):
            raise ValueError(f"capability {key!r}: values must be a list")
        parsed = [parse_value(key, value) for value in values]
        if any(isinstance(value, float) for value in parsed):
            raise ValueError(f"capability {key!r}: numbers belong in min and max")
        low, high = raw.get("min"), raw.get("max")
        if (low is None) != (high is None):
            raise ValueError(f"capability {key!r}: min and max come together")
        if low is not None:
            low, high = _number(key, low), _number(key, high)
            if low > high:
                raise ValueError(f"capability {key!r}: min is above max")
        if not parsed and low is None:
            raise ValueError(f"capability {key!r}: aggregate is empty")
        read = cls(
            values=frozenset(v for v in parsed if not isinstance(v, float)), low=low, high=high
        )
        if raw.get("type") != read.type:
            raise ValueError(
                f"capability {key!r}: type {raw.get('type')!r} does not fit its values"
            )
        return read


def _number(key: str, raw: Any) -> float:
    value = parse_value(key, raw)
    if not isinstance(value, float):
        raise ValueError(f"capability {key!r}: min and max must be numbers")
    return value


def _pick(choose: Any, left: float | None, right: float | None) -> float | None:
    if left is None:
        return right
    if right is None:
        return left
    return float(choose(left, right))


def aggregate(sources: Iterable[Mapping[str, CapabilityValue]]) -> Aggregate:
    """Fold the capabilities of many hosts (or one zone's static ones) into an aggregate."""
    result: Aggregate = {}
    for capabilities in sources:
        result = merge(result, {key: KeyAggregate.of(v) for key, v in capabilities.items()})
    return result


class _Mergeable(Protocol):
    def merge(self: MergeableT, other: MergeableT, /) -> MergeableT: ...


MergeableT = TypeVar("MergeableT", bound=_Mergeable)


def merge_by_key(
    left: Mapping[str, MergeableT], right: Mapping[str, MergeableT]
) -> dict[str, MergeableT]:
    """Merge two keyed summaries; keys present on both sides merge their values."""
    merged = dict(left)
    for key, value in right.items():
        merged[key] = merged[key].merge(value) if key in merged else value
    return merged


def merge(left: Mapping[str, KeyAggregate], right: Mapping[str, KeyAggregate]) -> Aggregate:
    return merge_by_key(left, right)


def aggregate_to_json(aggregate_: Mapping[str, KeyAggregate]) -> dict[str, dict[str, Any]]:
    return {key: aggregate_[key].to_json() for key in sorted(aggregate_)}


def aggregate_from_json(raw: Any) -> Aggregate:
    if not isinstance(raw, Mapping):
        raise ValueError("capabilities must be an object")
    return {check_key(key): KeyAggregate.from_json(key, value) for key, value in raw.items()}


@dataclass(frozen=True)
class FreeAmount:
    """Free amount of one resource: the most on any single host, and the total."""

    max: float
    sum: float

    def merge(self, other: FreeAmount) -> FreeAmount:
        return FreeAmount(max=max(self.max, other.max), sum=self.sum + other.sum)


def free_of_hosts(hosts_free: Iterable[Mapping[str, float]]) -> FreeSummary:
    result: FreeSummary = {}
    for free in hosts_free:
        result = merge_free(result, {key: FreeAmount(v, v) for key, v in free.items()})
    return result


def merge_free(left: Mapping[str, FreeAmount], right: Mapping[str, FreeAmount]) -> FreeSummary:
    return merge_by_key(left, right)


def free_to_json(free: Mapping[str, FreeAmount]) -> dict[str, dict[str, float]]:
    return {key: {"max": free[key].max, "sum": free[key].sum} for key in sorted(free)}


def free_from_json(raw: Any) -> FreeSummary:
    if not isinstance(raw, Mapping):
        raise ValueError("free must be an object")
    result: FreeSummary = {}
    for key, amounts in raw.items():
        if not isinstance(amounts, Mapping):
            raise ValueError(f"free {key!r} must be an object with max and sum")
        amount = FreeAmount(
            max=_number(check_key(key), amounts.get("max")), sum=_number(key, amounts.get("sum"))
        )
        if amount.max > amount.sum:
            raise ValueError(f"free {key!r}: max is above sum")
        result[key] = amount
    return result
