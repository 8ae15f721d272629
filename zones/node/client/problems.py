"""What goes wrong for a client, said in one line: a zone's problem document, or no zone."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Something the user must read: printed on one line to stderr; the command exits 1."""


class ProblemAnswer(ClientError):
    """A zone answered with an error: its status and the problem's title and detail."""

    def __init__(self, status: int, problem: dict[str, Any], hint: str = "") -> None:
        self.status = status
        self.problem = problem
        title = str(problem.get("title") or f"HTTP {status}")
        detail = problem.get("detail")
        line = f"{title}: {detail}" if detail else title
        super().__init__(f"{line} ({hint})" if hint else line)


class Unreachable(ClientError):
    """No answer at all from a URL: refused, unknown host, timed out."""

    def __init__(self, url: str, why: str) -> None:
        self.url = url
        super().__init__(f"cannot reach {url}: {why}")
