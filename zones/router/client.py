"""The child client: every call this zone makes to a child goes through here.

    global ──► na ──► na-dc1 ──► na-dc1-h1
      │         └───► na-dc2
      └──────► eu ──► eu-dc1

A parent reaches each child only through the child's public HTTP API, with
one pooled `aiohttp.ClientSession` per node. This module is the one boundary
where aiohttp's errors and timeouts become ours: `ChildUnreachable` (no
connection), `ChildTimeout` (no answer in time) and `ChildRefused` (the child
answered with an error, whose status it carries). Nothing else in the node
catches aiohttp exceptions.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from pydantic import ValidationError

from zones.errors import ChildError, ChildRefused, ChildTimeout, ChildUnreachable
from zones.router.schemas import ZoneInfo


class ChildClient:
    """Speaks to children over their public API, with a limit on every call."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def login(self, api_url: str, username: str, password: str) -> str:
        """Log in to a child with the credentials given at zone-add; return its token."""
        body = await self._call(
            "POST",
            f"{api_url}/auth/tokens",
            payload={"username": username, "password": password},
        )
        token = body.get("token")
        if not isinstance(token, str):
            raise ChildError(f"child at {api_url} answered a login without a token")
        return token

    async def fetch_info(self, api_url: str, token: str) -> ZoneInfo:
        """Read the child's `GET /zones/info`."""
        body = await self._call("GET", f"{api_url}/zones/info", token=token)
        try:
            return ZoneInfo.model_validate(body.get("zone"))
        except ValidationError as exc:
            raise ChildError(f"child at {api_url} answered /zones/info in another shape") from exc

    async def _call(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with self._session.request(
                method, url, json=payload, headers=headers, timeout=self._timeout
            ) as response:
                text = await response.text()
                status = response.status
        except TimeoutError as exc:
            raise ChildTimeout(f"{method} {url} did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise ChildUnreachable(f"{method} {url} could not be reached: {exc}") from exc
        if status >= 400:
            raise ChildRefused(
                f"{method} {url} answered {status}: {_problem_detail(text)}", child_status=status
            )
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise ChildError(f"{method} {url} answered something that is not JSON") from exc
        if not isinstance(body, dict):
            raise ChildError(f"{method} {url} answered JSON that is not an object")
        return body


def _problem_detail(text: str) -> str:
    """The `detail` of a child's problem+json, or the start of whatever it sent."""
    try:
        detail = json.loads(text).get("detail")
    except (ValueError, AttributeError):
        detail = None
    return detail if isinstance(detail, str) else text[:200]
