"""Aligned text columns for a terminal: what `zones up` and the `zones` client print."""

from __future__ import annotations

from collections.abc import Sequence


def aligned_lines(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A header of upper-case names and one line per row, each column as wide as its widest
    cell, two spaces between columns and none after the last."""
    widths = [max([len(name), *(len(row[at]) for row in rows)]) for at, name in enumerate(columns)]
    lines = [[name.upper() for name in columns], *rows]
    return [
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
