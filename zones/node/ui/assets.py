"""The page's files, read once from the package's `static/` folder, each with its ETag."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

STATIC_FOLDER = "static"


@dataclass(frozen=True)
class Asset:
    """One file of the page: its bytes, its media type and a validator of its content."""

    body: bytes
    content_type: str
    etag: str


@cache
def asset(name: str, content_type: str) -> Asset:
    """The file `static/<name>` of this package (read from the installed package data)."""
    body = resources.files(__package__).joinpath(STATIC_FOLDER, name).read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body=body, content_type=content_type, etag=etag)
