"""`--require KEY=VALUE` and `--resource KEY=AMOUNT` as the API's requirements and resources.

    --require region=na            {"region": "na"}
    --require gpu_count=ge:1       {"gpu_count": {"ge": 1}}
    --require os=in:linux,bsd      {"os": {"in": ["linux", "bsd"]}}
    --require ssd=true             {"ssd": true}
    --require version='"8"'        {"version": "8"}: a JSON string, kept a string
    --resource ram_mb=2048         {"ram_mb": 2048}

A value is typed as JSON would type it: `true`/`false` are booleans, what reads as a
number is a number, and anything else is a string; a value in double quotes is the
JSON string it spells, which is how a string that looks like a number (or like
`ge:8`) is given. The operators are the API's: eq ne lt le gt ge in.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from typing import Any

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in")
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def key_and_value(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def requirement(text: str) -> tuple[str, Any]:
    """One `--require` (an argparse type): the key and what it asks."""
    key, value = key_and_value(text)
    operator, colon, operand = value.partition(":")
    if not colon or operator not in OPERATORS:
        return key, typed(value)
    if operator == "in":
        return key, {"in": [typed(item) for item in operand.split(",")]}
    return key, {operator: typed(operand)}


def resource(text: str) -> tuple[str, float | int]:
    """One `--resource` (an argparse type): the key and a number."""
    key, value = key_and_value(text)
    amount = typed(value)
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise argparse.ArgumentTypeError(f"{text!r}: the amount must be a number")
    return key, amount


def typed(value: str) -> Any:
    """A value as JSON would type it; a double-quoted value is the string it spells."""
    if value in ("true", "false"):
        return value == "true"
    if value.startswith('"'):
        try:
            spelled = json.loads(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value} is not a JSON string") from None
        if isinstance(spelled, str):
            return spelled
        raise argparse.ArgumentTypeError(f"{value} is not a JSON string")
    return number(value)


def number(value: str) -> Any:
    """The JSON number `value` spells (an int or a float), else `value` itself."""
    return json.loads(value) if JSON_NUMBER.fullmatch(value) else value


def as_mapping(pairs: Sequence[tuple[str, Any]] | None) -> dict[str, Any]:
    return dict(pairs or ())
