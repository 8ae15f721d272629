"""The typed keys of the auth layer: the zone's keys, its token issuer, its verifier and the
revocations it checks."""

from __future__ import annotations

from aiohttp import web

from zones.auth.keys import SecretBox, SigningKey
from zones.auth.revocations import RevocationList
from zones.auth.tokens import TokenIssuer, TokenVerifier

SIGNING_KEY = web.AppKey("signing_key", SigningKey)
SECRET_BOX = web.AppKey("secret_box", SecretBox)
TOKEN_ISSUER = web.AppKey("token_issuer", TokenIssuer)
TOKEN_VERIFIER = web.AppKey("token_verifier", TokenVerifier)
REVOCATIONS = web.AppKey("revocations", RevocationList)
