"""Public keys of the other zones whose tokens this zone trusts, fetched from their JWKS.

Keys are cached per issuer for at most `max_age` seconds (so a key the issuer
withdrew stops verifying), and fetched again early when a token names a key id
the cache does not hold (an issuer that rotated its key), then at most once per
`refetch_interval`, so a flood of forged key ids cannot become a flood of fetches.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import jwt

from zones.errors import Unauthorized

log = logging.getLogger("zones.auth")


class JwksCache:
    """Maps (issuer, key id) to a verification key, fetching `{issuer}/.well-known/jwks.json`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        timeout: float,
        refetch_interval: float = 5.0,
        max_age: float = 300.0,
    ) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        self._fetched_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._epochs: dict[str, int] = {}

    def epoch(self, issuer: str) -> int:
        """Changes every time the issuer's keys are fetched anew (see TokenVerifier's cache)."""
        return self._epochs.get(issuer, 0)

    async def key_for(self, issuer: str, kid: str) -> jwt.PyJWK:
        lock = self._locks.setdefault(issuer, asyncio.Lock())
        if lock.locked():
            # A fetch is under way (its start already counts as the last fetch, so this
            # request may not start another): wait for the keys it brings.
            async with lock:
                pass
        if self._wants_fetch(issuer, kid):
            async with lock:
                if self._wants_fetch(issuer, kid):
                    await self._refresh(issuer)
        key = self._keys.get(issuer, {}).get(kid)
        if key is None:
            raise Unauthorized(f"token key {kid!r} is not published by issuer {issuer}")
        return key

    def _wants_fetch(self, issuer: str, kid: str) -> bool:
        held = self._keys.get(issuer)
        if held is None:
            return self._may_fetch(issuer)
        stale = kid not in held or self._too_old(issuer)
        return stale and self._may_fetch(issuer)

    async def _refresh(self, issuer: str) -> None:
        try:
            self._keys[issuer] = await self._fetch(issuer)
            self._epochs[issuer] = self.epoch(issuer) + 1
        except Unauthorized:
            if issuer not in self._keys:
                raise
            # The issuer is down: keep verifying with the keys it last published.

    def _too_old(self, issuer: str) -> bool:
        fetched = self._fetched_at.get(issuer)
        return fetched is None or time.monotonic() - fetched > self._max_age

    def _may_fetch(self, issuer: str) -> bool:
        last = self._fetched_at.get(issuer)
        return last is None or time.monotonic() - last >= self._refetch_interval

    async def _fetch(self, issuer: str) -> dict[str, jwt.PyJWK]:
        self._fetched_at[issuer] = time.monotonic()
        url = f"{issuer}/.well-known/jwks.json"
        try:
            async with self._session.get(
                url, timeout=self._timeout, allow_redirects=False
            ) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
            return {
                entry["kid"]: jwt.PyJWK(entry, algorithm="EdDSA")
                for entry in document["keys"]
                if entry.get("kid") and entry.get("kty") == "OKP"
            }
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot fetch the keys of issuer %s: %r", issuer, exc)
            raise Unauthorized(
                f"cannot verify token: keys of issuer {issuer} are unavailable"
            ) from exc
        except jwt.PyJWKError as exc:
            raise Unauthorized(f"issuer {issuer} publishes an unusable key: {exc}") from exc
