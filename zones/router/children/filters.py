"""`GET /zones?...`: children filtered by what they last reported, as one database query.

Syntax, one condition per query parameter, all of them required:

    ?os=linux                      a capability may equal the value
    ?gpu_count=ge:1                with an operator: eq ne lt le gt ge in
    ?os=in:linux,windows           `in` takes a comma-separated list
    ?ram_mb.free.max=ge:4096       free inventory: the most free on one host below the child
    ?ram_mb.free.sum=gt:0          free inventory: all of it below the child
    ?ram_mb.free_open.max=ge:4096  the same of the open room only, which no reserved key
    ?ram_mb.free_open.sum=gt:0     keeps (zones.capabilities.reserved): where a create that
                                   names no reserved key may go
    ?state=online                  the child's state (online, offline, disabled, unknown)

A value is read as whatever its text can be: `2` matches the number 2 and the
string "2"; `true` matches the bool and the string. As in placement, a
condition holds when the child *may* satisfy it: a number condition is checked
against the range of the key's values below the child.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, not_, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from zones.capabilities.values import KEY_PATTERN
from zones.errors import BadRequest
from zones.node.fields import refuse_control_characters
from zones.router.children.models import ChildCapability, ChildFree, ChildZone

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in")
FREE_PARAMETER = re.compile(r"^([a-z][a-z0-9_]{0,63})\.(free|free_open)\.(max|sum)$")
STATES = ("online", "offline", "disabled", "unknown")
RESERVED = frozenset({"limit", "marker", "zone"})  # zone: ?zone= reaches a descendant


def split_operator(parameter: str, text: str) -> tuple[str, str]:
    op, sep, operand = text.partition(":")
    if sep and op in OPERATORS:
        return op, operand
    return "eq", text


def as_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def filter_children(query: Select[ChildZone], parameters: Mapping[str, str]) -> Select[ChildZone]:
    """Add one WHERE condition per query parameter; 400 naming the parameter when malformed."""
    for parameter, text in parameters.items():
        if parameter in RESERVED:
            continue
        query = query.where(condition_for(parameter, text))
    return query


def condition_for(parameter: str, text: str) -> ColumnElement[bool]:
    try:
        refuse_control_characters(text)
    except ValueError as exc:
        raise BadRequest(f"{parameter}: {exc}") from exc
    if parameter == "state":
        return _state_condition(text)
    op, operand = split_operator(parameter, text)
    free = FREE_PARAMETER.fullmatch(parameter)
    if free:
        return _free_condition(
            parameter, free.group(1), (free.group(2), free.group(3)), op, operand
        )
    if not KEY_PATTERN.fullmatch(parameter):
        raise BadRequest(
            f"{parameter}: not a capability key, a <resource>.free.max|sum, "
            "a <resource>.free_open.max|sum or state"
        )
    operands = operand.split(",") if op == "in" else [operand]
    if op == "in":
        return or_(*(_capability_condition(parameter, "eq", part) for part in operands))
    return _capability_condition(parameter, op, operand)


def _state_condition(text: str) -> ColumnElement[bool]:
    if text not in STATES:
        raise BadRequest(f"state: must be one of {', '.join(STATES)}, got {text!r}")
    if text == "disabled":
        return ChildZone.enabled.is_(False)
    return and_(ChildZone.enabled.is_(True), ChildZone.state == text)


FREE_COLUMNS: dict[tuple[str, str], InstrumentedAttribute[Any]] = {
    ("free", "max"): ChildFree.max,
    ("free", "sum"): ChildFree.sum,
    ("free_open", "max"): ChildFree.open_max,  # null (no open room of it) matches nothing
    ("free_open", "sum"): ChildFree.open_sum,
}


def _free_condition(
    parameter: str, resource: str, column_name: tuple[str, str], op: str, operand: str
) -> ColumnElement[bool]:
    number = as_number(operand)
    if number is None or op in ("in", "ne"):
        raise BadRequest(f"{parameter}: give a number with eq, lt, le, gt or ge, like ge:4096")
    column = FREE_COLUMNS[column_name]
    return exists().where(
        ChildFree.child_id == ChildZone.id,
        ChildFree.resource == resource,
        _compare(column, op, number),
    )


def _compare(column: InstrumentedAttribute[Any], op: str, number: float) -> ColumnElement[bool]:
    comparisons = {
        "eq": column == number,
        "lt": column < number,
        "le": column <= number,
        "gt": column > number,
        "ge": column >= number,
    }
    return comparisons[op]


def _capability_condition(key: str, op: str, text: str) -> ColumnElement[bool]:
    number = as_number(text)
    if op in ("lt", "le", "gt", "ge"):
        if number is None:
            raise BadRequest(f"{key}: {op} compares numbers; give a number, like {op}:1")
        # Some value below the child may lie on the asked side of the number.
        nearest = ChildCapability.float_min if op in ("lt", "le") else ChildCapability.float_max
        return _row_exists(
            key, ChildCapability.value_type == "float", _compare(nearest, op, number)
        )
    texts = [ChildCapability.string_value == text]
    if op == "eq":
        numeric = (
            and_(ChildCapability.float_min <= number, ChildCapability.float_max >= number)
            if number is not None
            else false()
        )
        return _row_exists(
            key,
            or_(
                and_(ChildCapability.value_type == "string", *texts),
                and_(ChildCapability.value_type == "bool", *texts)
                if text in ("true", "false")
                else false(),
                and_(ChildCapability.value_type == "float", numeric),
            ),
        )
    # ne: some value below the child differs from the operand.
    single_equal = (
        and_(ChildCapability.float_min == number, ChildCapability.float_max == number)
        if number is not None
        else false()
    )
    return _row_exists(
        key,
        or_(
            and_(ChildCapability.value_type != "float", ChildCapability.string_value != text),
            and_(ChildCapability.value_type == "float", not_(single_equal)),
        ),
    )


def _row_exists(key: str, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(
        ChildCapability.child_id == ChildZone.id, ChildCapability.key == key, *conditions
    )


def children_query() -> Select[ChildZone]:
    return select(ChildZone).order_by(ChildZone.id)
