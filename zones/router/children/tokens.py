"""Tokens this zone holds at its children, reused until near expiry and renewed on 401."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from zones.auth.keys import SecretBox
from zones.node.database import utcnow
from zones.router.children.http import ChildClient, ChildToken
from zones.router.children.models import ChildZone

RENEW_BEFORE_EXPIRY = timedelta(seconds=60)


@dataclass(frozen=True)
class ChildCredentials:
    """How to log in to one child, as registered (the password still sealed)."""

    child_id: int
    api_url: str
    username: str
    password_encrypted: str

    @classmethod
    def of(cls, child: ChildZone) -> ChildCredentials:
        return cls(child.id, child.api_url, child.username, child.password_encrypted)


class ChildTokens:
    """One token per child, shared by every call this zone makes to it."""

    def __init__(self, child_client: ChildClient, box: SecretBox) -> None:
        self._child_client = child_client
        self._box = box
        self._held: dict[int, tuple[ChildCredentials, ChildToken]] = {}

    async def token_for(
        self, credentials: ChildCredentials, request_id: str, timeout: float | None = None
    ) -> str:
        held = self._held.get(credentials.child_id)
        if held is not None and held[0] == credentials:
            if held[1].expires_at - RENEW_BEFORE_EXPIRY > utcnow():
                return held[1].token
        token = await self._child_client.login(
            credentials.api_url,
            credentials.username,
            self._box.open(credentials.password_encrypted),
            request_id=request_id,
            timeout=timeout,
        )
        self._held[credentials.child_id] = (credentials, token)
        return token.token

    def forget(self, child_id: int) -> None:
        """Drop a token the child refused (it restarted with new keys, or the user changed)."""
        self._held.pop(child_id, None)
