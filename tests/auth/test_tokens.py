"""Tokens: logging in, the JWKS, and every way a forged or foreign token must be refused.

Refusals are checked on `GET /users` (admin only), with the token sent both as
`Authorization: Bearer` and as `X-Auth-Token`. Checks that never reach the
database (body validation, token verification) run on one SQLite zone; logging
in, the JWKS and a restart run on both backends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from tests.conftest import ZoneStarter
from tests.harness import ADMIN_PASSWORD, Answer, Api, RunningZone, start_zone, zone_settings
from zones.auth.appkeys import SIGNING_KEY, TOKEN_ISSUER

MEMBER_PASSWORD = "member-pw"
DEFAULT_TOKEN_TTL = 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a token, read without checking anything."""
    header, claims, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(claims))


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HMAC-SHA256 JWT made by hand (PyJWT refuses to use a public key as HMAC secret)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def claims_for(zone: RunningZone, **changes: Any) -> dict[str, Any]:
    """Claims of a good admin token of `zone`; a change to None drops that claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": zone.url,
        "sub": "admin",
        "client": "admin",
        "roles": ["admin"],
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def signed(key: Ed25519PrivateKey, claims: dict[str, Any], kid: str | None) -> str:
    return jwt.encode(claims, key, algorithm="EdDSA", headers=None if kid is None else {"kid": kid})


def signed_by_zone(zone: RunningZone, kid: str | None = "", **changes: Any) -> str:
    """A token signed with the zone's real private key (kid "" means the zone's own kid)."""
    key = zone.app[SIGNING_KEY]
    return signed(key.private_key, claims_for(zone, **changes), key.kid if kid == "" else kid)


async def published_key(api: Api) -> bytes:
    """The zone's raw Ed25519 public key, as anyone can read it from the JWKS."""
    answer = await api.call("GET", "/.well-known/jwks.json")
    assert answer.status == 200, answer
    return b64url_decode(answer.body["keys"][0]["x"])


def assert_unauthorized(answer: Answer) -> dict[str, Any]:
    assert answer.status == 401, answer
    problem = answer.problem
    assert problem["status"] == 401
    assert problem["title"] == "Unauthorized"
    assert problem["type"]
    assert problem["detail"] and "Traceback" not in problem["detail"]
    return problem


async def refusals(api: Api, token: str) -> list[dict[str, Any]]:
    """Present `token` to an admin endpoint both ways; both must be 401 problems."""
    as_bearer = await api.call("GET", "/users", headers={"Authorization": f"Bearer {token}"})
    as_header = await api.call("GET", "/users", headers={"X-Auth-Token": token})
    return [assert_unauthorized(as_bearer), assert_unauthorized(as_header)]


@pytest.fixture
async def lone_zone(zones: ZoneStarter) -> RunningZone:
    """One zone on SQLite, for checks of token verification alone."""
    return await zones("alpha")


@pytest.fixture
async def lone_admin(http: aiohttp.ClientSession, lone_zone: RunningZone) -> Api:
    """The admin of `lone_zone` with a token from the zone's own issuer (no password hashing)."""
    issued = lone_zone.app[TOKEN_ISSUER].issue("admin", "admin", ["admin"])
    return Api(http, lone_zone.url, issued.token)


# --- logging in -----------------------------------------------------------------------------


async def test_login_answers_a_token_with_its_user_and_endpoint(
    http: aiohttp.ClientSession, zone: RunningZone
) -> None:
    before = datetime.now(UTC)
    answer = await Api(http, zone.url).call(
        "POST", "/auth/tokens", json_body={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert answer.status == 201, answer
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.body
    assert set(body) == {"token", "expires_at", "user", "endpoint"}
    assert body["user"] == {"name": "admin", "client": "admin", "roles": ["admin"]}
    assert body["endpoint"] == {"name": "alpha", "url": zone.url}

    assert body["expires_at"].endswith(("Z", "+00:00")), body["expires_at"]
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.utcoffset() == timedelta(0)
    assert expires_at > datetime.now(UTC)
    ttl = timedelta(seconds=DEFAULT_TOKEN_TTL)
    assert before + ttl - timedelta(seconds=2) <= expires_at <= datetime.now(UTC) + ttl

    _, claims = unverified(body["token"])
    assert claims["exp"] == int(expires_at.timestamp())
    assert (claims["iss"], claims["sub"]) == (zone.url, "admin")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer {token}"},
        {"Authorization": "bearer {token}"},
        {"X-Auth-Token": "{token}"},
    ],
    ids=["bearer", "bearer-lowercase", "x-auth-token"],
)
async def test_the_token_is_accepted_as_bearer_and_as_x_auth_token(
    http: aiohttp.ClientSession, lone_admin: Api, headers: dict[str, str]
) -> None:
    assert lone_admin.token is not None
    sent = {name: value.format(token=lone_admin.token) for name, value in headers.items()}
    answer = await Api(http, lone_admin.url).call("GET", "/users", headers=sent)
    assert answer.status == 200, answer
    assert [user["name"] for user in answer.body["users"]] == ["admin"]


async def test_wrong_password_and_unknown_user_get_the_same_401(
    http: aiohttp.ClientSession, zone: RunningZone
) -> None:
    api = Api(http, zone.url)
    wrong_password = await api.call(
        "POST", "/auth/tokens", json_body={"username": "admin", "password": "not-it"}
    )
    unknown_user = await api.call(
        "POST", "/auth/tokens", json_body={"username": "nobody", "password": ADMIN_PASSWORD}
    )
    first, second = assert_unauthorized(wrong_password), assert_unauthorized(unknown_user)
    assert first == second
    assert "token" not in first


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ('{"username": "admin", "password": ', "body"),
        ("", "body"),
        ('["admin", "admin-pw"]', "body"),
        ('"admin:admin-pw"', "body"),
        ('{"password": "admin-pw"}', "username"),
        ('{"username": "admin"}', "password"),
        ('{"username": 5, "password": "admin-pw"}', "username"),
        ('{"username": "admin", "password": 5}', "password"),
        ('{"username": "", "password": "admin-pw"}', "username"),
        ('{"username": "admin", "password": ""}', "password"),
        ('{"username": "admin", "password": "admin-pw", "remember": true}', "remember"),
    ],
    ids=[
        "malformed-json",
        "empty-body",
        "list",
        "string",
        "missing-username",
        "missing-password",
        "username-number",
        "password-number",
        "username-empty",
        "password-empty",
        "extra-field",
    ],
)
async def test_bad_login_bodies_are_400_naming_the_field(
    http: aiohttp.ClientSession, lone_zone: RunningZone, data: str, field: str
) -> None:
    answer = await Api(http, lone_zone.url).call(
        "POST", "/auth/tokens", data=data, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400, answer
    problem = answer.problem
    assert (problem["status"], problem["title"]) == (400, "Bad Request")
    assert problem["type"]
    assert problem["detail"].startswith(f"{field}:") or f"; {field}:" in problem["detail"], problem
    assert "token" not in problem


# --- forged tokens --------------------------------------------------------------------------

Forger = Callable[[RunningZone, Api], Awaitable[str]]


def alg_none(alg: str) -> Forger:
    async def forge(zone: RunningZone, admin: Api) -> str:
        assert admin.token is not None
        header, claims = unverified(admin.token)
        return f"{segment({**header, 'alg': alg})}.{segment(claims)}."

    return forge


def hmac_with_public_key(secret_of: Callable[[bytes], bytes]) -> Forger:
    async def forge(zone: RunningZone, admin: Api) -> str:
        assert admin.token is not None
        header, claims = unverified(admin.token)
        secret = secret_of(await published_key(admin))
        return hs256({**header, "alg": "HS256"}, claims, secret)

    return forge


def pem_of(raw: bytes) -> bytes:
    return Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def member_promoted_to_admin(zone: RunningZone, admin: Api) -> str:
    created = await admin.call(
        "POST",
        "/users",
        json_body={"user": {"name": "mallory", "password": MEMBER_PASSWORD, "client": "acme"}},
    )
    assert created.status == 201, created
    member_token = await admin.login("mallory", MEMBER_PASSWORD)
    header, _, signature = member_token.split(".")
    promoted = {**unverified(member_token)[1], "roles": ["admin"]}
    return f"{header}.{segment(promoted)}.{signature}"


async def signature_stripped(zone: RunningZone, admin: Api) -> str:
    assert admin.token is not None
    return admin.token.rsplit(".", 1)[0] + "."


def by_zone_key(kid: str | None = "", **changes: Any) -> Forger:
    async def forge(zone: RunningZone, admin: Api) -> str:
        return signed_by_zone(zone, kid, **changes)

    return forge


async def other_key_same_kid(zone: RunningZone, admin: Api) -> str:
    return signed(Ed25519PrivateKey.generate(), claims_for(zone), zone.app[SIGNING_KEY].kid)


NOW = int(time.time())

FORGERIES: list[tuple[str, Forger]] = [
    ("alg-none", alg_none("none")),
    ("alg-NONE", alg_none("NONE")),
    ("hs256-secret-raw-public-key", hmac_with_public_key(lambda raw: raw)),
    ("hs256-secret-public-key-pem", hmac_with_public_key(pem_of)),
    ("hs256-secret-jwk-x", hmac_with_public_key(lambda raw: b64url(raw).encode())),
    ("member-payload-promoted-to-admin", member_promoted_to_admin),
    ("signature-stripped", signature_stripped),
    ("other-key-with-the-zone-kid", other_key_same_kid),
    ("not-yet-valid", by_zone_key(nbf=NOW + 3600)),
    ("no-exp", by_zone_key(exp=None)),
    ("untrusted-issuer-own-key", by_zone_key(iss="http://127.0.0.1:9")),
    ("unpublished-kid", by_zone_key(kid="no-such-key")),
    ("no-kid", by_zone_key(kid=None)),
    ("roles-not-a-list", by_zone_key(roles="admin")),
]


async def test_a_token_made_like_the_forgeries_but_honest_is_accepted(
    http: aiohttp.ClientSession, lone_zone: RunningZone
) -> None:
    """The control for the forgeries below: the same helper, nothing wrong, gets in."""
    answer = await Api(http, lone_zone.url).call("GET", "/users", token=signed_by_zone(lone_zone))
    assert answer.status == 200, answer


@pytest.mark.parametrize("forge", [forge for _, forge in FORGERIES], ids=[n for n, _ in FORGERIES])
async def test_forged_tokens_are_refused(
    http: aiohttp.ClientSession, lone_zone: RunningZone, lone_admin: Api, forge: Forger
) -> None:
    token = await forge(lone_zone, lone_admin)
    await refusals(Api(http, lone_zone.url), token)


async def test_an_expired_token_says_it_expired(
    http: aiohttp.ClientSession, lone_zone: RunningZone
) -> None:
    now = int(time.time())
    token = signed_by_zone(lone_zone, exp=now - 30, iat=now - 3630)
    for problem in await refusals(Api(http, lone_zone.url), token):
        assert "expired" in problem["detail"]


async def test_another_zones_token_is_refused_when_its_issuer_is_not_trusted(
    http: aiohttp.ClientSession, lone_zone: RunningZone, zones: ZoneStarter
) -> None:
    other = await zones("other")
    token = await Api(http, other.url).login()
    for problem in await refusals(Api(http, lone_zone.url), token):
        assert other.url in problem["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer a.b.c"},
        {"Authorization": "Bearer " + segment({"alg": "EdDSA"}) + "." + segment({}) + "."},
        {"Authorization": "Bearer " + segment([1]) + "." + segment({}) + "."},
        {"Authorization": "Bearer " + "x" * 2000},
        {"Authorization": "Bearer"},
        {
            "Authorization": "Basic "
            + base64.b64encode(b"admin:" + ADMIN_PASSWORD.encode()).decode()
        },
        {"Authorization": "Basic {token}"},
        {"Authorization": "Token {token}"},
        {"Authorization": "{token}"},
        {"Authorization": "Bearer {token} extra"},
        {"X-Auth-Token": "garbage"},
        {"Authorization": "Bearer garbage", "X-Auth-Token": "{token}"},
    ],
    ids=[
        "garbage",
        "three-junk-segments",
        "unsigned-no-claims",
        "header-not-an-object",
        "long-garbage",
        "bearer-without-token",
        "basic-with-the-admin-password",
        "basic-with-a-good-token",
        "unknown-scheme-with-a-good-token",
        "good-token-without-scheme",
        "good-token-with-trailing-junk",
        "x-auth-token-garbage",
        "bad-authorization-beside-good-x-auth-token",
    ],
)
async def test_malformed_credentials_are_401(
    http: aiohttp.ClientSession, lone_admin: Api, headers: dict[str, str]
) -> None:
    assert lone_admin.token is not None
    sent = {name: value.format(token=lone_admin.token) for name, value in headers.items()}
    answer = await Api(http, lone_admin.url).call("GET", "/users", headers=sent)
    assert_unauthorized(answer)


# --- keys and trusted issuers ---------------------------------------------------------------


async def test_jwks_publishes_one_public_ed25519_key_that_verifies_tokens(
    http: aiohttp.ClientSession, zone: RunningZone
) -> None:
    api = Api(http, zone.url)
    answer = await api.call("GET", "/.well-known/jwks.json")
    assert answer.status == 200, answer
    assert answer.headers["Content-Type"].startswith("application/json")
    [key] = answer.body["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert key["kid"] and key["x"]
    assert not {"d", "p", "q", "k"} & set(key), key

    token = await api.login()
    header, _ = unverified(token)
    assert header["kid"] == key["kid"]
    public = jwt.PyJWK(key, algorithm="EdDSA")
    claims = jwt.decode(token, public, algorithms=["EdDSA"], issuer=zone.url)
    assert claims["sub"] == "admin"


async def test_a_zone_accepts_tokens_of_the_issuers_it_trusts_and_no_others(
    http: aiohttp.ClientSession, zones: ZoneStarter
) -> None:
    issuer = await zones("issuer")
    stranger = await zones("stranger")
    trusting = await zones("trusting", auth={"trusted_issuers": [issuer.url]})
    at_trusting = Api(http, trusting.url)

    issuer_token = await Api(http, issuer.url).login()
    accepted = await at_trusting.call("GET", "/users", token=issuer_token)
    assert accepted.status == 200, accepted
    assert [user["name"] for user in accepted.body["users"]] == ["admin"]

    stranger_token = await Api(http, stranger.url).login()
    for problem in await refusals(at_trusting, stranger_token):
        assert stranger.url in problem["detail"]

    issuer_key = issuer.app[SIGNING_KEY]
    unpublished_kid = signed(issuer_key.private_key, claims_for(issuer), "no-such-key")
    await refusals(at_trusting, unpublished_kid)

    stranger_key = stranger.app[SIGNING_KEY].private_key
    impostor = signed(stranger_key, claims_for(issuer), issuer_key.kid)
    await refusals(at_trusting, impostor)

    still = await at_trusting.call("GET", "/users", token=issuer_token)
    assert still.status == 200, still


async def test_a_restarted_zone_accepts_tokens_it_issued_before(
    http: aiohttp.ClientSession, tmp_path: Path, database_url: str
) -> None:
    first = await start_zone(zone_settings(tmp_path, "alpha", database_url))
    try:
        token = await Api(http, first.url).login()
        before = await Api(http, first.url).call("GET", "/.well-known/jwks.json")
    finally:
        await first.stop()

    port = first.settings.listen_port
    again = zone_settings(tmp_path, "alpha", database_url, zone={"listen": f"127.0.0.1:{port}"})
    second = await start_zone(again)
    try:
        assert second.url == first.url
        async with aiohttp.ClientSession() as fresh:
            api = Api(fresh, second.url)
            after = await api.call("GET", "/.well-known/jwks.json")
            answer = await api.call("GET", "/users", token=token)
    finally:
        await second.stop()
    assert after.body == before.body
    assert answer.status == 200, answer
    assert [user["name"] for user in answer.body["users"]] == ["admin"]
