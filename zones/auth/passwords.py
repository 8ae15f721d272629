"""Password hashing: scrypt with a random salt per password, verified in constant time.

Hashing is deliberately slow, so it runs in a worker thread to keep the event
loop free. A login for an unknown user still pays for one hash, so response
times do not tell which user names exist.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
KEY_LENGTH = 32
SALT_LENGTH = 16

_DUMMY_HASH: str | None = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_LENGTH, maxmem=2**26
    )


def hash_password_sync(password: str) -> str:
    salt = secrets.token_bytes(SALT_LENGTH)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password_sync(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(derived, base64.b64decode(key))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hash_password_sync, password)


async def verify_password(password: str, stored: str | None) -> bool:
    """Check `password` against `stored`; with no stored hash, spend the same time and fail."""
    global _DUMMY_HASH
    if stored is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = await hash_password("not a password")
        await asyncio.to_thread(verify_password_sync, password, _DUMMY_HASH)
        return False
    return await asyncio.to_thread(verify_password_sync, password, stored)
