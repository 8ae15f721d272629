"""The auth endpoints: publish the public keys, manage users, revoke tokens and publish the
revocations (logging in is served by zones.router.lookup.handlers, since its answer names
the client's endpoint)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from zones.auth import users
from zones.auth.appkeys import REVOCATIONS, SIGNING_KEY
from zones.auth.models import User as UserRow
from zones.auth.passwords import hash_password
from zones.auth.revocations import subject_of
from zones.auth.schemas import (
    Jwks,
    Revocation,
    Revocations,
    RevokeRequest,
    User,
    UserCreateEnvelope,
    UserEnvelope,
    Users,
)
from zones.errors import BadRequest, Conflict, Forbidden, NotFound, Unavailable
from zones.node.appkeys import SESSIONS, SETTINGS
from zones.node.fields import ACCOUNT_NAME_PATTERN
from zones.node.http.callers import Role
from zones.node.http.endpoints import Call, EndpointTable, NamePattern, json_response
from zones.node.http.prefer import PREFERENCE_APPLIED, applied, wait_asked

endpoints = EndpointTable("auth")


def user_view(row: UserRow) -> User:
    return User(name=row.name, client=row.client, roles=row.roles, created_at=row.created_at)


@endpoints.route(
    "GET",
    "/.well-known/jwks.json",
    summary="The public keys this zone signs its tokens with",
    response=Jwks,
)
async def publish_keys(call: Call[None]) -> web.StreamResponse:
    return json_response(Jwks(keys=[call.app[SIGNING_KEY].public_jwk()]))


@endpoints.route(
    "POST",
    "/users",
    summary="Create a user of this zone",
    roles=[Role.ADMIN],
    body=UserCreateEnvelope,
    response=UserEnvelope,
    status=201,
    errors=[Conflict],
)
async def create_user(call: Call[UserCreateEnvelope]) -> web.StreamResponse:
    new = call.body.user
    password_hash = await hash_password(new.password)
    async with call.app[SESSIONS].begin() as session:
        row = await users.create_user(session, new.name, password_hash, new.client, new.roles)
    return json_response(UserEnvelope(user=user_view(row)), status=201)


@endpoints.route(
    "GET", "/users", summary="The users of this zone", roles=[Role.ADMIN], response=Users
)
async def list_users(call: Call[None]) -> web.StreamResponse:
    async with call.app[SESSIONS].begin() as session:
        rows = await users.list_users(session)
    return json_response(Users(users=[user_view(row) for row in rows]))


@endpoints.route(
    "DELETE",
    "/users/{name}",
    summary="Delete a user (not the last admin)",
    roles=[Role.ADMIN],
    status=204,
    path_rules={"name": NamePattern(ACCOUNT_NAME_PATTERN)},
    errors=[Conflict],
)
async def delete_user(call: Call[None]) -> web.StreamResponse:
    name = call.path_name("name", ACCOUNT_NAME_PATTERN)
    async with call.app[SESSIONS].begin() as session:
        await users.delete_user(session, name)
        # In the same transaction: its tokens stop working exactly when it is gone.
        await call.app[REVOCATIONS].revoke(session, subject_of(call.app[SETTINGS].url, name))
    return web.Response(status=204)


@endpoints.route(
    "POST",
    "/auth/tokens/revoke",
    summary="Revoke every token issued until now: the caller's own, or (admins) a user's",
    roles=[Role.ADMIN, Role.MEMBER, Role.SERVICE, Role.HOST],
    body=RevokeRequest,
    status=204,
    errors=[Forbidden, NotFound],
)
async def revoke_tokens(call: Call[RevokeRequest]) -> web.StreamResponse:
    name, named_by_admin = whose_tokens(call)
    own_issuer = call.app[SETTINGS].url
    async with call.app[SESSIONS].begin() as session:
        if named_by_admin and await users.find_user(session, name) is None:
            raise NotFound(f"user {name!r} does not exist")
        await call.app[REVOCATIONS].revoke(session, subject_of(own_issuer, name))
    return web.Response(status=204)


def whose_tokens(call: Call[RevokeRequest]) -> tuple[str, bool]:
    """The user of this zone whose tokens to revoke, and whether an admin named another one
    (whose existence is then checked; the caller's own is proven by its token)."""
    caller, own_issuer = call.caller, call.app[SETTINGS].url
    named = call.body.user
    if named is None or (named == caller.username and caller.issuer == own_issuer):
        if caller.issuer != own_issuer:
            raise Forbidden(
                f"this zone revokes the tokens it issued; revoke yours at {caller.issuer}"
            )
        return caller.username, False
    if Role.ADMIN not in caller.roles:
        raise Forbidden(f"user {caller.username!r} may revoke only its own tokens")
    return named, True


@endpoints.route(
    "GET",
    "/auth/revocations",
    summary="The revocations of tokens this zone issued; watchable with Prefer: wait=N",
    response=Revocations,
    query={
        "after": "an ISO 8601 time with a zone (the last answer's as_of): only revocations "
        "after it; omitted: all"
    },
    errors=[BadRequest, Unavailable],
)
async def list_revocations(call: Call[None]) -> web.StreamResponse:
    """Held, with `after` and `Prefer: wait=N`, until this zone revokes a token (a watch:
    zones.auth.revocation_watch), or answered at once."""
    after = after_parameter(call.request.query.get("after"))
    wait = wait_asked(call.request.headers.get("Prefer"))
    found, as_of = await call.app[REVOCATIONS].since(after, wait)
    listed = [Revocation(subject=subject, not_before=moment) for subject, moment in found]
    response = json_response(Revocations(revocations=listed, as_of=as_of))
    if wait is not None:
        response.headers[PREFERENCE_APPLIED] = applied(wait)
    return response


def after_parameter(raw: str | None) -> datetime | None:
    """`after=<ISO 8601 time with a zone>`, in UTC; None when not given."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise BadRequest(
            f"after: {raw[:80]!r} is not an ISO 8601 time with a zone, e.g. 2026-12-05T10:00:00Z"
        ) from exc
