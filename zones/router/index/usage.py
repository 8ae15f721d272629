"""A client's usage in a zone's subtree, from the index alone: never by asking a child.

Usage is how many instances the client has and the sums of their `resources`.
A zone counts its own instances itself (`client_index.local_count`, and
`client_index.resources` for those placed: an instance kept in ERROR with a
fault counts as an instance, since it is a record the client holds, but holds
no room, so its resources do not count); for each child it keeps the usage
the child last reported with its index news (`client_children.usage`, ordered
by the same revision as the child's answer). A child that is down still
counts as it last reported: a quota cannot be escaped through a zone that
cannot be asked. Where this zone leads more instances to a child than the
child has reported (a create whose answer was lost), its own count of them
is taken.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zones.capabilities.values import KEY_PATTERN

# Sums are kept to this many decimal places: adding and taking away fractions must come
# back to exactly what it was.
PLACES = 6


@dataclass(frozen=True)
class Usage:
    """Instances and resource sums of one client, somewhere in the tree."""

    instances: int = 0
    resources: Mapping[str, float] = field(default_factory=dict)

    def plus(self, other: Usage) -> Usage:
        return Usage(self.instances + other.instances, added(self.resources, other.resources))

    def document(self) -> dict[str, Any]:
        return {"instances": self.instances, "resources": dict(sorted(self.resources.items()))}


def added(
    kept: Mapping[str, float] | None, delta: Mapping[str, float], sign: int = 1
) -> dict[str, float]:
    """`kept` moved by `delta` (`sign` -1 takes it away); sums that come to 0 are dropped."""
    sums = dict(kept or {})
    for key, amount in delta.items():
        total = round(sums.get(key, 0.0) + sign * float(amount), PLACES)
        if total > 0:
            sums[key] = total
        else:
            sums.pop(key, None)
    return sums


class UsageDocument(BaseModel):
    """Usage as zones send it to each other (news, `/auth/lookup/changes`)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    instances: int = Field(ge=0)
    resources: dict[str, float] = Field(max_length=256)


def usage_of_document(document: UsageDocument | None) -> Usage | None:
    """The usage a child sent, when every resource name and amount is one a zone keeps."""
    if document is None:
        return None
    for key, amount in document.resources.items():
        if not KEY_PATTERN.fullmatch(key) or not math.isfinite(amount) or amount < 0:
            return None
    return Usage(document.instances, dict(document.resources))


def kept_usage(raw: Any) -> Usage | None:
    """A `client_children.usage` value as stored (None: the child never reported one)."""
    if not isinstance(raw, dict):
        return None
    try:
        return usage_of_document(UsageDocument.model_validate(raw, strict=False))
    except ValueError:
        return None


def child_usage(count: int, reported: Any) -> Usage:
    """One child's part: what it reported, with at least the instances this zone leads there."""
    usage = kept_usage(reported) or Usage()
    return Usage(max(count or 0, usage.instances), usage.resources)


def subtree_usage(
    local_count: int | None, local_resources: Any, children: Iterable[tuple[int, Any]]
) -> Usage:
    """This zone's own instances and each child's part, as the index rows hold them."""
    total = Usage(local_count or 0, dict(local_resources or {}))
    for count, reported in children:
        total = total.plus(child_usage(count, reported))
    return total
