"""Typed capability values: string, number (float) or bool, and their aggregate form.

A capability is a key-value pair that says what a zone or host offers. Values
keep their type end to end: a number is always a float (so `8` and `8.0` are
one value), a bool is never a number, and a string is never coerced.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal

CapabilityValue = str | float | bool
CapabilityType = Literal["string", "float", "bool"]

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_STRING_LENGTH = 256
MAX_CAPABILITIES = 256


def check_key(key: object) -> str:
    """Return `key` when it is a valid capability key, else raise ValueError saying why."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise ValueError(
            f"capability key {key!r} must match {KEY_PATTERN.pattern} "
            "(lower-case letters, digits and underscores, starting with a letter)"
        )
    return key


def parse_value(key: str, raw: object) -> CapabilityValue:
    """Turn a decoded JSON or TOML value into a typed capability value, or raise ValueError."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        try:
            number = float(raw)
        except OverflowError as exc:
            raise ValueError(f"capability {key!r} is too large a number") from exc
        if not math.isfinite(number):
            raise ValueError(f"capability {key!r} must be a finite number")
        return number + 0.0  # folds -0.0 into 0.0, so equal values print alike
    if isinstance(raw, str):
        if len(raw) > MAX_STRING_LENGTH:
            raise ValueError(f"capability {key!r} is longer than {MAX_STRING_LENGTH} characters")
        if any(ord(character) < 32 or ord(character) == 127 for character in raw):
            raise ValueError(f"capability {key!r} must not contain control characters")
        if not raw.isascii() and not _encodable(raw):
            raise ValueError(f"capability {key!r} is not valid Unicode text (a lone surrogate)")
        return raw
    raise ValueError(f"capability {key!r} must be a string, a number or a bool")


def parse_capabilities(raw: Mapping[Any, Any]) -> dict[str, CapabilityValue]:
    """Validate a whole mapping of capabilities; the error names the offending key."""
    if len(raw) > MAX_CAPABILITIES:
        raise ValueError(f"at most {MAX_CAPABILITIES} capabilities are allowed")
    return {check_key(key): parse_value(key, value) for key, value in raw.items()}


def _encodable(text: str) -> bool:
    """Whether `text` can be stored: JSON's escapes can spell lone surrogates, which no
    database encoding holds."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def type_of(value: CapabilityValue) -> CapabilityType:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "float"
    return "string"


def summarize(capabilities: Mapping[str, CapabilityValue]) -> dict[str, dict[str, Any]]:
    """The aggregate form of one source's capabilities, as `/zones/info` shows them."""
    summary: dict[str, dict[str, Any]] = {}
    for key, value in sorted(capabilities.items()):
        kind = type_of(value)
        if kind == "float":
            summary[key] = {"type": kind, "min": value, "max": value}
        else:
            summary[key] = {"type": kind, "values": [value]}
    return summary
