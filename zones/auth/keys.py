"""The zone's own secrets, made at first start and kept in files outside the database.

- `signing-key.pem`: the Ed25519 key this zone signs its tokens with. Kept so a
  restart does not invalidate tokens already issued.
- `storage.key`: the key that encrypts secrets at rest in the database (the
  passwords of children). A stolen database file alone does not reveal them.

Both files are created with mode 0600 and published atomically, so two
processes starting at once agree on one key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from zones.errors import ConfigError

SIGNING_KEY_FILE = "signing-key.pem"
STORAGE_KEY_FILE = "storage.key"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    """This zone's token signing key with its key id (the RFC 7638 thumbprint)."""

    private_key: Ed25519PrivateKey

    @cached_property
    def public_x(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return b64url(raw)

    @cached_property
    def kid(self) -> str:
        canonical = json.dumps(
            {"crv": "Ed25519", "kty": "OKP", "x": self.public_x}, separators=(",", ":")
        )
        return b64url(hashlib.sha256(canonical.encode("ascii")).digest())

    def public_jwk(self) -> dict[str, Any]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.public_x,
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }


class SecretUnreadable(ValueError):
    """A stored secret this zone's storage key cannot open (the key was replaced)."""


class SecretBox:
    """Encrypts small secrets (a child's password) for storage in the database."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise SecretUnreadable(
                "the stored password cannot be decrypted with this zone's storage key"
            ) from exc


def _publish_once(path: Path, content: bytes) -> None:
    """Write `content` to `path` unless it exists; the first writer wins, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def load_signing_key(secrets_dir: Path) -> SigningKey:
    path = secrets_dir / SIGNING_KEY_FILE
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _publish_once(path, pem)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ConfigError(f"zone.secrets_dir: {path} is not a readable private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"zone.secrets_dir: {path} does not hold an Ed25519 private key")
    return SigningKey(key)


def load_secret_box(secrets_dir: Path) -> SecretBox:
    path = secrets_dir / STORAGE_KEY_FILE
    if not path.exists():
        _publish_once(path, Fernet.generate_key())
    try:
        return SecretBox(path.read_bytes().strip())
    except ValueError as exc:
        raise ConfigError(f"zone.secrets_dir: {path} is not a storage key") from exc
