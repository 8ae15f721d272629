"""Field types shared by the configuration and the request models.

Each is an `Annotated` pydantic type, so the rule is written once and shows up
the same way in validation errors and in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

ZONE_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
ACCOUNT_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"

ZoneName = Annotated[str, StringConstraints(pattern=ZONE_NAME_PATTERN)]
AccountName = Annotated[str, StringConstraints(pattern=ACCOUNT_NAME_PATTERN)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


def normalize_http_url(value: str) -> str:
    """Accept an absolute http(s) URL with a host and no query; drop a trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; give username and password separately")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or a fragment")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    return value.rstrip("/")


HttpUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(normalize_http_url),
    Field(json_schema_extra={"format": "uri", "pattern": "^https?://"}),
]
