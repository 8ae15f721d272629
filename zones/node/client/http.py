"""One zone's API as the client calls it: JSON in and out, problems made ClientErrors.

The standard library's urllib: a command makes a few calls one after another, so a
blocking client keeps each verb a plain function.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from zones.node.client.problems import ClientError, ProblemAnswer, Unreachable

TIMEOUT = 30.0
LOGIN_HINT = "run `zones login URL --username NAME`"


@dataclass(frozen=True)
class Api:
    """A zone's base URL, the token to send, and the descendant to reach through it."""

    url: str
    token: str | None = None
    zone: str | None = None  # sent as ?zone=NAME: the zone forwards the call down to it
    timeout: float = TIMEOUT
    hints_login: bool = True  # a 401 says to run `zones login` (not when logging in)

    def with_token(self, token: str) -> Api:
        return replace(self, token=token)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        """The answer's JSON (None when empty); ProblemAnswer for an error, Unreachable when
        nothing answers."""
        request = urllib.request.Request(
            self._address(path, query),
            data=None if body is None else json.dumps(body).encode(),
            headers=self._headers(body is not None),
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as refused:
            raw = refused.read()
            refused.close()
            raise self._problem(refused.code, refused.reason, raw) from None
        except urllib.error.URLError as exc:
            raise Unreachable(self.url, _why(exc.reason)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(self.url, _why(exc)) from None
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError:
            raise ClientError(f"{self.url} answered {path} with something not JSON") from None

    def _address(self, path: str, query: Mapping[str, str] | None) -> str:
        parameters = dict(query or {})
        if self.zone is not None:
            parameters["zone"] = self.zone
        encoded = urllib.parse.urlencode(parameters)
        return f"{self.url.rstrip('/')}{path}{'?' + encoded if encoded else ''}"

    def _headers(self, has_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if has_body:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _problem(self, status: int, reason: str, raw: bytes) -> ProblemAnswer:
        try:
            problem = json.loads(raw)
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            text = raw.decode(errors="replace").strip()[:200]
            problem = {"title": reason or f"HTTP {status}", "detail": text or None}
        return ProblemAnswer(status, problem, self._hint(status))

    def _hint(self, status: int) -> str:
        """What to do about a 401, for a verb that sends the profile's token."""
        if status != 401 or not self.hints_login:
            return ""
        return f"log in again: {LOGIN_HINT}" if self.token else LOGIN_HINT


def segment(text: str) -> str:
    """`text` as one path segment, whatever it holds (a `/` cannot reach another route)."""
    return urllib.parse.quote(text, safe="")


def _why(reason: object) -> str:
    """An OS-level failure in words a person reads."""
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, http.client.RemoteDisconnected):
        return "the connection closed without an answer"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)
