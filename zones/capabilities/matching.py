"""Requirements: which hosts and zones may serve a request, and whether resources fit.

A requirement maps a capability key to a value (`{"region": "na"}`, meaning
equal) or to one operator and its operand (`{"gpu_count": {"ge": 1}}`), with
operators `eq ne lt le gt ge in`. The order operators take numbers only; `in`
takes a non-empty list. A key a host lacks meets no condition, `ne` included.

Against a single host the answer is exact. Against a zone's aggregate it is
"may": each condition is checked on its own against the key's range and
values, so a zone that may satisfy could still hold no single host that does
(the zone then answers that nothing fits, and the parent tries elsewhere).
A zone's static capabilities hold for everything below it: `split_static`
drops the conditions they meet and rules the zone out when they contradict one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from zones.capabilities.aggregate import FreeAmount, KeyAggregate
from zones.capabilities.values import CapabilityValue, check_key, parse_value

Operator = Literal["eq", "ne", "lt", "le", "gt", "ge", "in"]
OPERATORS: tuple[Operator, ...] = ("eq", "ne", "lt", "le", "gt", "ge", "in")
ORDER_OPERATORS = ("lt", "le", "gt", "ge")
MAX_IN_VALUES = 256


@dataclass(frozen=True)
class Condition:
    """One requirement: `key op operand`; `in` has several operands, the others one."""

    key: str
    op: Operator
    operands: tuple[CapabilityValue, ...]

    def holds_for(self, value: CapabilityValue) -> bool:
        """Exact test against one value a host (or a zone's static capability) has."""
        if self.op in ("eq", "in"):
            return any(_same(value, operand) for operand in self.operands)
        operand = self.operands[0]
        if self.op == "ne":
            return not _same(value, operand)
        return _is_number(value) and _compare(self.op, float(value), float(operand))

    def may_hold_for(self, summary: KeyAggregate) -> bool:
        """Whether some source folded into `summary` may meet this condition."""
        if self.op in ("eq", "in"):
            return any(_may_equal(summary, operand) for operand in self.operands)
        operand = self.operands[0]
        if self.op == "ne":
            return _may_differ(summary, operand)
        if summary.low is None or summary.high is None:
            return False
        nearest = summary.low if self.op in ("lt", "le") else summary.high
        return _compare(self.op, nearest, float(operand))


def _is_number(value: object) -> bool:
    return isinstance(value, float) and not isinstance(value, bool)


def _same(left: object, right: object) -> bool:
    # True == 1.0 in Python; capabilities keep bools and numbers apart.
    return type(left) is type(right) and left == right


def _may_equal(summary: KeyAggregate, operand: CapabilityValue) -> bool:
    if isinstance(operand, float) and not isinstance(operand, bool):
        return (
            summary.low is not None
            and summary.high is not None
            and (summary.low <= operand <= summary.high)
        )
    return any(_same(value, operand) for value in summary.values)


def _may_differ(summary: KeyAggregate, operand: CapabilityValue) -> bool:
    if any(not _same(value, operand) for value in summary.values):
        return True
    if summary.low is None:
        return False
    return not (summary.low == summary.high and _same(summary.low, operand))


def _compare(op: str, value: float, operand: float) -> bool:
    if op == "lt":
        return value < operand
    if op == "le":
        return value <= operand
    if op == "gt":
        return value > operand
    return value >= operand


def parse_requirements(raw: Any, field: str = "requirements") -> list[Condition]:
    """Read requirements from decoded JSON; ValueError naming `field.key` when malformed."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{field}: must be an object")
    conditions = []
    for key, spec in raw.items():
        try:
            conditions.append(_parse_condition(check_key(key), spec))
        except ValueError as exc:
            raise ValueError(f"{field}.{key}: {exc}") from exc
    return conditions


def _parse_condition(key: str, spec: Any) -> Condition:
    if not isinstance(spec, Mapping):
        return Condition(key, "eq", (parse_value(key, spec),))
    if len(spec) != 1:
        raise ValueError(f"give exactly one operator of {', '.join(OPERATORS)}")
    op, operand = next(iter(spec.items()))
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    if op == "in":
        if not isinstance(operand, list) or not operand or len(operand) > MAX_IN_VALUES:
            raise ValueError(f"'in' takes a list of 1 to {MAX_IN_VALUES} values")
        return Condition(key, "in", tuple(parse_value(key, value) for value in operand))
    value = parse_value(key, operand)
    if op in ORDER_OPERATORS and not _is_number(value):
        raise ValueError(f"{op!r} compares numbers only")
    return Condition(key, cast(Operator, op), (value,))


def host_satisfies(
    conditions: list[Condition], capabilities: Mapping[str, CapabilityValue]
) -> bool:
    return all(
        condition.key in capabilities and condition.holds_for(capabilities[condition.key])
        for condition in conditions
    )


def aggregate_may_satisfy(conditions: list[Condition], summary: Mapping[str, KeyAggregate]) -> bool:
    return all(
        condition.key in summary and condition.may_hold_for(summary[condition.key])
        for condition in conditions
    )


def split_static(
    conditions: list[Condition], static: Mapping[str, CapabilityValue]
) -> list[Condition] | None:
    """The conditions left to ask below a zone, or None when its static capabilities rule it out."""
    remaining = []
    for condition in conditions:
        if condition.key not in static:
            remaining.append(condition)
        elif not condition.holds_for(static[condition.key]):
            return None
    return remaining


def parse_resources(raw: Any, field: str = "resources") -> dict[str, float]:
    """Amounts to take from a host's free inventory: non-negative finite numbers."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{field}: must be an object")
    amounts = {}
    for key, amount in raw.items():
        try:
            value = parse_value(check_key(key), amount)
        except ValueError as exc:
            raise ValueError(f"{field}.{key}: {exc}") from exc
        if not _is_number(value) or cast(float, value) < 0:
            raise ValueError(f"{field}.{key}: must be a number of at least 0")
        amounts[key] = cast(float, value)
    return amounts


def fits_host(resources: Mapping[str, float], free: Mapping[str, float]) -> bool:
    return all(free.get(key, 0.0) >= amount for key, amount in resources.items())


def may_fit_zone(resources: Mapping[str, float], free: Mapping[str, FreeAmount]) -> bool:
    """Whether one host below may have room: each amount against the largest free on one host."""
    return all(
        amount == 0 or (key in free and free[key].max >= amount)
        for key, amount in resources.items()
    )
