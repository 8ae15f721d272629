"""`Prefer: wait=N` (RFC 7240): how long a caller lets a watch be held.

`wait` must be a non-negative number of seconds; more than `MAX_WAIT` is held
for `MAX_WAIT` (the answer's `Preference-Applied` says how long). Anything
else in `wait` is refused with 400 naming `Prefer`; other preferences are
ignored, as RFC 7240 asks.
"""

from __future__ import annotations

import math

from zones.errors import BadRequest

MAX_WAIT = 60.0
PREFERENCE_APPLIED = "Preference-Applied"


def wait_asked(prefer: str | None) -> float | None:
    """The seconds `Prefer` asks a watch to be held (at most MAX_WAIT), or None when it asks
    for none."""
    if not prefer:
        return None
    for preference in prefer.split(","):
        name, _, value = preference.split(";")[0].partition("=")
        if name.strip().lower() != "wait":
            continue
        raw = value.strip().strip('"')
        try:
            seconds = float(raw)
        except ValueError:
            raise BadRequest(
                f"Prefer: wait must be a number of seconds, not {raw[:40]!r}"
            ) from None
        if not math.isfinite(seconds) or seconds < 0:
            raise BadRequest(f"Prefer: wait must be a number of seconds from 0 to {MAX_WAIT:g}")
        return min(seconds, MAX_WAIT)
    return None


def applied(wait: float) -> str:
    """The `Preference-Applied` value for a watch held up to `wait` seconds."""
    return f"wait={wait:g}"
