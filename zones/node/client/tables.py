"""What a command prints: aligned columns or key-value lines for people, the API's JSON for
scripts (`--json`). Plain text from the standard library: no colours, nothing to install."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from zones.node.columns import aligned_lines

EMPTY = "-"


@dataclass(frozen=True)
class Output:
    """Where a command writes, and whether it writes JSON."""

    out: TextIO
    err: TextIO
    as_json: bool = False

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def warn(self, text: str) -> None:
        print(f"zones: {text}", file=self.err)

    def json(self, document: Any) -> None:
        print(json.dumps(document, indent=2, sort_keys=False), file=self.out)

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        for line in table_lines(columns, rows):
            self.line(line)

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """One `key  value` line each, the keys aligned."""
        width = max((len(key) for key, _ in pairs), default=0)
        for key, value in pairs:
            self.line(f"{key.ljust(width)}  {cell(value)}")


def table_lines(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A header of upper-case names and one line per row, each column as wide as its widest."""
    return aligned_lines(columns, [[cell(value) for value in row] for row in rows])


def cell(value: Any) -> str:
    """A value as a person reads it: nothing as "-", lists joined, numbers without a
    needless ".0", anything nested as compact JSON."""
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def free_text(free: dict[str, Any] | None) -> str:
    """Free inventory as `ram_mb 251904 (max 63488)`: the subtree's sum, the most on one host."""
    if not free:
        return EMPTY
    parts = []
    for resource, figures in sorted(free.items()):
        if isinstance(figures, dict):
            parts.append(f"{resource} {cell(figures.get('sum'))} (max {cell(figures.get('max'))})")
    return ", ".join(parts) or EMPTY
