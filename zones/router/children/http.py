"""The child client: every call this zone makes to a child goes through here.

    global ──► na ──► na-dc1 ──► na-dc1-h1
      │         └───► na-dc2
      └──────► eu ──► eu-dc1

A parent reaches each child only through the child's public HTTP API, with
one pooled `aiohttp.ClientSession` per node. This module is the one boundary
where aiohttp's errors and timeouts become ours: `ChildUnreachable` (no
connection: nothing was sent), `ChildAnswerLost` (the connection broke after
the request may have reached the child), `ChildTimeout` (no answer in time)
and `ChildRefused` (the child answered with an error, whose status it
carries). Nothing else in the router catches aiohttp exceptions (the JWKS
fetch of a trusted issuer, zones.auth.jwks, makes its own 401).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from pydantic import ValidationError
from yarl import URL

from zones.capabilities.aggregate import aggregate_from_json, free_from_json
from zones.capabilities.reserved import Room
from zones.errors import (
    ChildAnswerLost,
    ChildError,
    ChildRefused,
    ChildTimeout,
    ChildUnreachable,
)
from zones.node.http.request_ids import REQUEST_ID_HEADER
from zones.router.children.allowed import AllowedChildren, NotAllowed
from zones.router.children.schemas import ZoneInfo

MAX_ANSWER_BYTES = 8 * 1024 * 1024
LOOKUP_HEADER = "X-Zones-Lookup"  # a child's client index news (zones.router.index.answers)
# After a write a parent sent: the child's info as its parents keep it (generation, free,
# capabilities, counts), so the parent's view of it is current before the parent answers.
SUMMARY_HEADER = "X-Zones-Summary"
# The zones below that could not be asked, named by the zone that tried: "a,b".
UNREACHABLE_HEADER = "X-Zones-Unreachable"
BUDGET_HEADER = "X-Zones-Budget-Ms"  # how many more milliseconds the caller will wait


@dataclass(frozen=True)
class ChildToken:
    """A token a child issued to this zone, and when it stops working."""

    token: str
    expires_at: datetime


class ChildClient:
    """Speaks to children over their public API, with a time limit on every call."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        timeout: float,
        allowed: AllowedChildren | None = None,
    ) -> None:
        self._session = session
        self._timeout = timeout
        self._allowed = allowed

    async def check_allowed(self, api_url: str) -> None:
        """A 400 naming zone.api_url when `router.allowed_children` does not allow it."""
        if self._allowed is not None:
            await self._allowed.check_url(api_url)

    async def login(
        self,
        api_url: str,
        username: str,
        password: str,
        *,
        request_id: str,
        timeout: float | None = None,
    ) -> ChildToken:
        """Log in to a child with the credentials given at zone-add."""
        answer = await self._call(
            "POST",
            f"{api_url}/auth/tokens",
            payload={"username": username, "password": password},
            request_id=request_id,
            timeout=timeout,
        )
        body = _json_object(answer, f"POST {api_url}/auth/tokens")
        try:
            expires_at = datetime.fromisoformat(str(body.get("expires_at")))
        except ValueError as exc:
            raise ChildError(f"child at {api_url} answered a login without expires_at") from exc
        token = body.get("token")
        if not isinstance(token, str) or expires_at.tzinfo is None:
            raise ChildError(f"child at {api_url} answered a login in another shape")
        return ChildToken(token=token, expires_at=expires_at)

    async def fetch_info(
        self,
        api_url: str,
        token: str,
        *,
        request_id: str,
        etag: str | None = None,
        timeout: float | None = None,
    ) -> ZoneInfo | None:
        """Read the child's `GET /zones/info`; None when it answers 304 to `etag`."""
        info, _ = await self.watch_info(
            api_url, token, request_id=request_id, etag=etag, timeout=timeout
        )
        return info

    async def watch_info(
        self,
        api_url: str,
        token: str,
        *,
        request_id: str,
        etag: str | None = None,
        wait: float | None = None,
        timeout: float | None = None,
    ) -> tuple[ZoneInfo | None, bool]:
        """`GET /zones/info`, held by the child up to `wait` seconds while its info is still
        `etag` (a watch): the new info (None when unchanged), and whether the child held it
        (an older zone answers at once, and is then polled)."""
        headers = {"If-None-Match": etag} if etag else {}
        if wait is not None:
            headers["Prefer"] = f"wait={wait:g}"
        answer = await self._call(
            "GET",
            f"{api_url}/zones/info",
            token=token,
            headers=headers,
            request_id=request_id,
            timeout=(timeout or self._timeout) + (wait or 0.0),
        )
        held = wait is not None and answer.applied is not None and answer.applied.startswith("wait")
        if answer.status == 304:
            return None, held
        body = _json_object(answer, f"GET {api_url}/zones/info")
        try:
            info = ZoneInfo.model_validate(body.get("zone"))
            aggregate_from_json(info.capabilities)
            free_from_json(info.free)
            if info.open is not None:
                Room.from_json(info.open.model_dump())
        except (ValidationError, ValueError) as exc:
            raise ChildError(f"child at {api_url} answered /zones/info in another shape") from exc
        return info, held

    async def forward(
        self,
        api_url: str,
        method: str,
        path: str,
        *,
        caller_token: str,
        headers: dict[str, str],
        request_id: str,
        payload: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Pass a caller's request to a child: its status, decoded body (errors included),
        and the routing headers it answered with."""
        answer = await self._call(
            method,
            f"{api_url}{path}",
            token=caller_token,
            payload=payload,
            headers=headers,
            request_id=request_id,
            timeout=timeout,
            refuse_errors=False,
        )
        body = None
        if answer.text:
            try:
                body = json.loads(answer.text)
            except (ValueError, RecursionError) as exc:
                raise ChildError(
                    f"{method} {api_url}{path} answered something that is not JSON"
                ) from exc
        return Reply(answer.status, body, answer.lookup, answer.summary, answer.unreachable)

    async def read(
        self,
        api_url: str,
        path: str,
        token: str,
        *,
        request_id: str,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """`GET path` at a child as a JSON object; ChildRefused when it answers an error."""
        answer = await self._call(
            "GET",
            f"{api_url}{path}",
            token=token,
            headers=headers,
            request_id=request_id,
            timeout=timeout,
        )
        return _json_object(answer, f"GET {api_url}{path}")

    async def relay(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: bytes,
        timeout: float,
    ) -> Relayed:
        """Send a request as it came (its path and query as they were written, body bytes,
        headers chosen by the caller) and give back the answer as it is: whatever the
        status, content type and body."""
        status, answer_headers, raw = await self._exchange(
            method, URL(url, encoded=True), headers=headers, data=body or None, timeout=timeout
        )
        return Relayed(status, answer_headers, raw)

    async def _exchange(
        self,
        method: str,
        url: str | URL,
        *,
        headers: dict[str, str],
        timeout: float,
        payload: dict[str, Any] | None = None,
        data: bytes | None = None,
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
        """One HTTP exchange with a child, aiohttp's errors made ours."""
        limit = aiohttp.ClientTimeout(total=timeout)
        try:
            if self._allowed is not None:
                self._allowed.check_before_connecting(str(url))
            # Never followed: a child's redirect could name any address, past the checks.
            async with self._session.request(
                method,
                url,
                json=payload,
                data=data,
                headers=headers,
                timeout=limit,
                allow_redirects=False,
            ) as response:
                raw = await _read_capped(response, f"{method} {url}")
                return response.status, response.headers, raw
        except TimeoutError as exc:
            raise ChildTimeout(f"{method} {url} did not answer in time") from exc
        except NotAllowed as exc:
            raise ChildUnreachable(f"{method} {url} was not contacted: {exc}") from exc
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, NotAllowed):
                raise ChildUnreachable(f"{method} {url} was not contacted: {exc.os_error}") from exc
            raise ChildUnreachable(f"{method} {url} could not be reached: {exc}") from exc
        except aiohttp.ClientError as exc:
            # Connected, maybe sent, then lost: the child may have acted on it.
            raise ChildAnswerLost(f"{method} {url} lost its connection: {exc}") from exc

    async def _call(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        payload: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        request_id: str,
        timeout: float | None = None,
        refuse_errors: bool = True,
    ) -> _Answer:
        sent = {**(headers or {}), REQUEST_ID_HEADER: request_id}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        status, answered, raw = await self._exchange(
            method, url, headers=sent, timeout=timeout or self._timeout, payload=payload
        )
        try:
            answer = _Answer(
                status,
                raw.decode("utf-8"),
                answered.get(LOOKUP_HEADER),
                answered.get("Preference-Applied"),
                answered.get(SUMMARY_HEADER),
                names_in(answered.get(UNREACHABLE_HEADER)),
            )
        except UnicodeDecodeError as exc:
            raise ChildError(f"{method} {url} answered text that is not UTF-8") from exc
        if answer.status >= 400 and refuse_errors:
            raise ChildRefused(
                f"{method} {url} answered {answer.status}: {_problem_detail(answer.text)}",
                child_status=answer.status,
            )
        return answer


async def _read_capped(response: aiohttp.ClientResponse, what: str) -> bytes:
    """The body, refusing to hold more than MAX_ANSWER_BYTES of whatever a child sends."""
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ChildError(f"{what} answered more than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class _Answer:
    status: int
    text: str
    lookup: str | None = None
    applied: str | None = None  # Preference-Applied
    summary: str | None = None
    unreachable: tuple[str, ...] = ()


@dataclass(frozen=True)
class Relayed:
    """A child's answer to a relayed request (`?zone=`), as it came."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class Reply:
    """A child's answer to a forwarded call, with the routing headers it sent back."""

    status: int
    body: Any
    lookup: str | None = None  # LOOKUP_HEADER, raw (zones.router.index.answers)
    summary: str | None = None  # SUMMARY_HEADER, raw (zones.router.instances.cache)
    unreachable: tuple[str, ...] = ()  # UNREACHABLE_HEADER
    # An earlier sending of the same call lost its connection: this answer may be to a
    # repeat (a DELETE's 404 may mean the first try deleted it). Set by the forwarder.
    after_lost: bool = False


def names_in(header: str | None) -> tuple[str, ...]:
    """The zone names of an UNREACHABLE_HEADER."""
    return names_listed([name.strip() for name in (header or "").split(",")])


def names_listed(value: Any) -> tuple[str, ...]:
    """Zone names a child sent as a list (`unreachable_zones`): the strings only, at most 100
    of them, each at most 200 characters; anything else names none."""
    if not isinstance(value, list):
        return ()
    return tuple(name[:200] for name in value if isinstance(name, str) and name)[:100]


def _json_object(answer: _Answer, what: str) -> dict[str, Any]:
    try:
        body = json.loads(answer.text)
    except (ValueError, RecursionError) as exc:
        raise ChildError(f"{what} answered something that is not usable JSON") from exc
    if not isinstance(body, dict):
        raise ChildError(f"{what} answered JSON that is not an object")
    return body


def _problem_detail(text: str) -> str:
    """The `detail` of a child's problem+json, or the start of whatever it sent."""
    try:
        detail = json.loads(text).get("detail")
    except (ValueError, AttributeError, RecursionError):
        detail = None
    return detail if isinstance(detail, str) else text[:200]
