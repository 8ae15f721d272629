"""Tokens: JWTs this zone signs with its Ed25519 key, and verification of any trusted zone's.

`TokenVerifier.verify` returns the caller's `Identity` for a good token and
raises `Unauthorized` for anything else: a malformed token, an algorithm other
than EdDSA (so `none` and every HMAC variant are refused before any key is
touched), a bad signature, an expired token, or an issuer this zone does not
trust, and a token revoked since it was issued (zones.auth.revocations), checked on
every request, verified lately or not. `TokenVerifier.identify` adds the rule for no
credentials at all: None (it is the `Authenticator` every declared endpoint asks).

Besides `iat` (whole seconds, as RFC 7519 readers expect), a token carries `iat_us`, its
issue time in microseconds since the epoch, so that a revocation and a token issued in
the same second compare exactly.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from zones.auth.jwks import JwksCache
from zones.auth.keys import SigningKey
from zones.auth.revocations import RevocationList, microseconds, subject_of
from zones.errors import Unauthorized
from zones.node.database import utcnow
from zones.node.http.callers import Identity

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "client", "roles"]
CLOCK_LEEWAY_SECONDS = 5
VERIFIED_TTL = 60.0
VERIFIED_CAPACITY = 10_000


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Verified:
    """A token verified lately: who it says calls, until when that holds without verifying
    it again, and what its revocation is looked up by."""

    identity: Identity
    until: float  # epoch seconds
    epoch: int  # of its issuer's keys when verified
    subject: str
    issued_at: int  # microseconds since the epoch

    @property
    def issuer(self) -> str:
        return self.identity.issuer


class TokenIssuer:
    """Signs tokens for this zone's users."""

    def __init__(self, key: SigningKey, issuer: str, ttl_seconds: float) -> None:
        self._key = key
        self._issuer = issuer
        self._ttl = timedelta(seconds=ttl_seconds)

    def issue(self, username: str, client: str, roles: list[str]) -> IssuedToken:
        now = utcnow()
        expires_at = now + self._ttl
        claims = {
            "iss": self._issuer,
            "sub": username,
            "client": client,
            "roles": sorted(roles),
            "iat": int(now.timestamp()),
            "iat_us": microseconds(now),
            "exp": int(expires_at.timestamp()),
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(
            claims, self._key.private_key, algorithm=ALGORITHM, headers={"kid": self._key.kid}
        )
        return IssuedToken(token=token, expires_at=expires_at.replace(microsecond=0))


class TokenVerifier:
    """Verifies tokens of this zone and of the issuers it trusts."""

    def __init__(
        self,
        own_issuer: str,
        own_key: SigningKey,
        trusted_issuers: frozenset[str],
        jwks: JwksCache,
        revocations: RevocationList,
    ) -> None:
        self._own_issuer = own_issuer
        self._own_key = own_key
        self._trusted = trusted_issuers
        self._jwks = jwks
        self._revocations = revocations
        self._verified: dict[str, Verified] = {}

    async def identify(self, headers: Mapping[str, str]) -> Identity | None:
        """None when the request carries no credentials; raises Unauthorized for bad ones."""
        token = token_from_headers(headers)
        if token is None:
            return None
        return await self.verify(token)

    async def verify(self, token: str) -> Identity:
        """The token's identity; a token verified lately is not verified again.

        Forwarded requests carry the same tokens down every level, so this spares
        each zone two signature checks per request. An entry lives until the
        token expires, at most VERIFIED_TTL seconds, and only while the issuer's
        keys have not been fetched anew (a rotated key stops working at once). Whether
        it is revoked is asked every time, from memory.
        """
        held = self._verified.get(token)
        now = time.time()
        if held is None or held.until <= now or held.epoch != self._jwks.epoch(held.issuer):
            held = await self._verify_signature(token, now)
            if len(self._verified) >= VERIFIED_CAPACITY:
                self._verified.clear()  # crude, bounded; a full cache is rare and refills fast
            self._verified[token] = held
        try:
            await self._revocations.check(held.issuer, held.subject, held.issued_at)
        except Unauthorized:
            self._verified.pop(token, None)
            raise
        return held.identity

    async def _verify_signature(self, token: str, now: float) -> Verified:
        header, unverified = _read_unverified(token)
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self._trusted:
            raise Unauthorized(f"token issuer {issuer!r} is not trusted by this zone")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("token header has no key id (kid)")
        key = await self._key_for(issuer, kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"token is invalid: {exc}") from exc
        identity = _identity_from_claims(claims)
        return Verified(
            identity=identity,
            until=min(float(claims["exp"]), now + VERIFIED_TTL),
            epoch=self._jwks.epoch(issuer),
            subject=subject_of(issuer, identity.username),
            issued_at=_issued_at(claims),
        )

    async def _key_for(self, issuer: str, kid: str) -> Any:
        if issuer == self._own_issuer:
            if kid != self._own_key.kid:
                raise Unauthorized(f"token key {kid!r} is not this zone's key")
            return self._own_key.private_key.public_key()
        return await self._jwks.key_for(issuer, kid)


def _issued_at(claims: Mapping[str, Any]) -> int:
    """When the token was issued, in microseconds: `iat_us`, or the start of its `iat` second
    (a token of an issuer that does not say `iat_us`)."""
    precise = claims.get("iat_us")
    if isinstance(precise, int) and not isinstance(precise, bool):
        return precise
    iat = claims["iat"]
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise Unauthorized("token claim iat is not a number")
    return int(iat) * 1_000_000


def _read_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"token algorithm {header.get('alg')!r} is refused; use EdDSA")
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"token is malformed: {exc}") from exc
    return header, claims


def _identity_from_claims(claims: Mapping[str, Any]) -> Identity:
    username, client, roles = claims["sub"], claims["client"], claims["roles"]
    if not (
        isinstance(username, str)
        and isinstance(client, str)
        and isinstance(roles, list)
        and all(isinstance(role, str) for role in roles)
    ):
        raise Unauthorized("token claims sub, client and roles have the wrong types")
    return Identity(username=username, client=client, roles=frozenset(roles), issuer=claims["iss"])


def token_from_headers(headers: Mapping[str, str]) -> str | None:
    """The token a request carries in `Authorization: Bearer` or `X-Auth-Token`, if any."""
    authorization = headers.get("Authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization header must be 'Bearer <token>'")
        return token.strip()
    token = headers.get("X-Auth-Token", "").strip()
    return token or None
