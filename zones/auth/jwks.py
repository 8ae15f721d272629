"""Public keys of the other zones whose tokens this zone trusts, fetched from their JWKS.

Keys are cached per issuer and fetched again only when a token names a key id
the cache does not hold (an issuer that rotated its key), and then at most once
per `refetch_interval`, so a flood of forged key ids cannot turn into a flood of
fetches.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import jwt

from zones.errors import Unauthorized


class JwksCache:
    """Maps (issuer, key id) to a verification key, fetching `{issuer}/.well-known/jwks.json`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        timeout: float,
        refetch_interval: float = 5.0,
    ) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._refetch_interval = refetch_interval
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        self._fetched_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def key_for(self, issuer: str, kid: str) -> jwt.PyJWK:
        key = self._keys.get(issuer, {}).get(kid)
        if key is not None:
            return key
        lock = self._locks.setdefault(issuer, asyncio.Lock())
        async with lock:
            key = self._keys.get(issuer, {}).get(kid)
            if key is None and self._may_fetch(issuer):
                self._keys[issuer] = await self._fetch(issuer)
                key = self._keys[issuer].get(kid)
        if key is None:
            raise Unauthorized(f"token key {kid!r} is not published by issuer {issuer}")
        return key

    def _may_fetch(self, issuer: str) -> bool:
        last = self._fetched_at.get(issuer)
        return last is None or time.monotonic() - last >= self._refetch_interval

    async def _fetch(self, issuer: str) -> dict[str, jwt.PyJWK]:
        self._fetched_at[issuer] = time.monotonic()
        url = f"{issuer}/.well-known/jwks.json"
        try:
            async with self._session.get(url, timeout=self._timeout) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
            return {
                entry["kid"]: jwt.PyJWK(entry, algorithm="EdDSA")
                for entry in document["keys"]
                if entry.get("kid") and entry.get("kty") == "OKP"
            }
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            raise Unauthorized(
                f"cannot verify token: keys of issuer {issuer} are unavailable ({exc!r})"
            ) from exc
        except jwt.PyJWKError as exc:
            raise Unauthorized(f"issuer {issuer} publishes an unusable key: {exc}") from exc
