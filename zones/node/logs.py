"""Logs as JSON lines: one object per line, nothing before it, so any log tool can read them.

    {"time": "2026-12-04T13:40:01.123+00:00", "level": "INFO", "logger": "zones.poller",
     "message": "child eu-dc1 is offline", "event": "child-state", "child": "eu-dc1", ...}

`event(logger, message, **fields)` logs one line with fields of its own beside
the message; any other `logging` call gives the same shape, its traceback (if
any) as the `exception` string.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FIELDS = "zones_fields"


def event(logger: logging.Logger, message: str, level: int = logging.INFO, **fields: Any) -> None:
    """One line with `fields` as members of its own, beside the message."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={FIELDS: fields})


class JsonLines(logging.Formatter):
    """Formats each record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, FIELDS, None) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: int = logging.INFO) -> None:
    """Every log line of this process as JSON on standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's own access log would say each request a second time, in another shape.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
