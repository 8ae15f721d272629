"""Field types shared by the configuration and the request models.

Each is an `Annotated` pydantic type, so the rule is written once and shows up
the same way in validation errors and in the OpenAPI document.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

ZONE_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
ACCOUNT_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def refuse_control_characters(value: str) -> str:
    """Text that is stored or looked up must be printable (PostgreSQL refuses NUL outright)."""
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValueError("must not contain control characters")
    return value


ZoneName = Annotated[str, StringConstraints(pattern=ZONE_NAME_PATTERN)]
ZoneUuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
PlainText255 = Annotated[
    str, StringConstraints(min_length=1, max_length=255), AfterValidator(refuse_control_characters)
]
AccountName = Annotated[str, StringConstraints(pattern=ACCOUNT_NAME_PATTERN)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


HOST_PATTERN = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\]")


NUMERIC_LOOKING = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def normalize_http_url(value: str) -> str:
    """Accept an absolute http(s) URL with a host and no query, in one canonical spelling.

    The scheme and host are lower-cased and a trailing slash dropped, so one
    zone is not registered twice under two spellings of its URL.
    """
    if any(character.isspace() or ord(character) < 32 for character in value):
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    host = parts.netloc.rpartition("@")[2].lower()
    host_only = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if not host_only or not HOST_PATTERN.fullmatch(host_only):
        raise ValueError("must name a valid host")
    if NUMERIC_LOOKING.fullmatch(host_only) and not _is_address(host_only):
        # 2130706433, 127.1, 0x7f.0.0.1: resolvers read them as addresses, clients may not.
        raise ValueError("must write an IPv4 address as four decimal numbers (127.0.0.1)")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; give username and password separately")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or a fragment")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    canonical = parts._replace(scheme=parts.scheme.lower(), netloc=host)
    return canonical.geturl().rstrip("/")


HttpUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(normalize_http_url),
    Field(json_schema_extra={"format": "uri", "pattern": "^https?://"}),
]


HOST_PATTERN_RULE = re.compile(
    r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
)


def check_allowed_child(value: str) -> str:
    """A CIDR (`127.0.0.0/8`, `::1/128`, a bare address) or a host pattern
    (`zones.example.com`, `*.dc.example.com`), in one canonical spelling."""
    text = value.strip().lower()
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    if not HOST_PATTERN_RULE.fullmatch(text):
        raise ValueError(
            f"{value[:100]!r} is neither a CIDR (127.0.0.0/8) nor a host pattern (*.example.com)"
        )
    return text


AllowedChild = Annotated[
    str, StringConstraints(max_length=255), AfterValidator(check_allowed_child)
]
