"""Checked values out of a topology file's TOML tables, each error naming where it is."""

from __future__ import annotations

import re
from typing import Any

from zones.errors import ConfigError
from zones.node.fields import ACCOUNT_NAME_PATTERN


class TopologyError(ConfigError):
    """A topology that cannot be brought up; the message names the zone or the line."""


def only_keys(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise TopologyError(f"{where}: unknown key {unknown[0]!r}")


def table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TopologyError(f"{where}: must be a table")
    return value


def list_of(where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TopologyError(f"{where}: must be a list")
    return value


def text(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TopologyError(f"{where}: must be a non-empty string")
    return value


def number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TopologyError(f"{where}: must be a number of at least 0")
    return float(value)


def port(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise TopologyError(f"{where}: must be a port number from 1 to 65535")
    return value


def account(where: str, value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(ACCOUNT_NAME_PATTERN, value):
        raise TopologyError(f"{where}: must match {ACCOUNT_NAME_PATTERN}")
    return value
