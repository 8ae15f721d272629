"""The auth endpoints: log in for a token, publish the public keys, manage users."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from zones.auth import client_index, users
from zones.auth.models import User as UserRow
from zones.auth.passwords import hash_password
from zones.auth.roles import Role
from zones.auth.schemas import (
    Endpoint,
    Jwks,
    LookupAnswer,
    LookupChange,
    LookupChanges,
    TokenAnswer,
    TokenRequest,
    TokenUser,
    User,
    UserCreateEnvelope,
    UserEnvelope,
    Users,
)
from zones.errors import BadRequest, Forbidden, NotFound, Unavailable
from zones.node.appkeys import SESSIONS, SETTINGS, SIGNING_KEY, TOKEN_ISSUER
from zones.node.database import utcnow
from zones.node.endpoints import Call, EndpointTable, json_response
from zones.node.fields import ACCOUNT_NAME_PATTERN
from zones.router.client_lookup import ask_children
from zones.router.instance_handlers import checked_route
from zones.router.instances import page_limit

endpoints = EndpointTable("auth")


def user_view(row: UserRow) -> User:
    return User(name=row.name, client=row.client, roles=row.roles, created_at=row.created_at)


@endpoints.route(
    "POST",
    "/auth/tokens",
    summary="Log in: trade a username and password for a token",
    body=TokenRequest,
    response=TokenAnswer,
    status=201,
)
async def issue_token(call: Call[TokenRequest]) -> web.StreamResponse:
    async with call.app[SESSIONS].begin() as session:
        found = await users.find_user(session, call.body.username)
    user = await users.check_password(found, call.body.password)
    issued = call.app[TOKEN_ISSUER].issue(user.name, user.client, user.roles)
    here = here_of(call)
    async with call.app[SESSIONS].begin() as session:
        lowest = await client_index.answer_for(session, user.client, here)
    answer = TokenAnswer(
        token=issued.token,
        expires_at=issued.expires_at,
        user=TokenUser(name=user.name, client=user.client, roles=user.roles),
        endpoint=Endpoint(**(lowest or here.answer())["zone"]),
    )
    return json_response(answer, status=201)


def here_of(call: Call[Any]) -> client_index.Here:
    settings = call.app[SETTINGS]
    return client_index.Here(settings.zone.name, settings.url)


def client_parameter(call: Call[None]) -> str:
    """The `client` asked about; a member may ask only about its own."""
    client = call.request.query.get("client")
    if client is None:
        raise BadRequest("client: required, e.g. /auth/lookup?client=acme")
    if not re.fullmatch(ACCOUNT_NAME_PATTERN, client):
        raise BadRequest(f"client: {client[:100]!r} does not match {ACCOUNT_NAME_PATTERN}")
    caller = call.caller
    if caller.roles.isdisjoint({Role.ADMIN, Role.SERVICE}) and client != caller.client:
        raise Forbidden(f"user {caller.username!r} may ask only about its own client")
    return client


@endpoints.route(
    "GET",
    "/auth/lookup",
    summary="The lowest zone in this subtree that manages a client (from the index, no fan-out)",
    roles=[Role.ADMIN, Role.SERVICE, Role.MEMBER],
    response=LookupAnswer,
    query={"client": "the client asked about (members: their own only)"},
)
async def lookup_client(call: Call[None]) -> web.StreamResponse:
    client = client_parameter(call)
    here = here_of(call)
    async with call.app[SESSIONS].begin() as session:
        read = await client_index.read_index(session, client, here)
    lowest = read.answer
    if read.rebuilding:
        lowest = await ask_children(await checked_route(call), client, here)
    if lowest is None:
        raise NotFound(f"no zone in this subtree manages client {client!r}")
    return json_response(LookupAnswer(client=client, **lowest))


@endpoints.route(
    "GET",
    "/auth/lookup/changes",
    summary="Each client's lookup answer here, for the clients whose index changed since",
    roles=[Role.ADMIN, Role.SERVICE],
    response=LookupChanges,
    query={
        "after": "<changed_at>,<client>: the last change of the previous page; omitted: all",
        "limit": "1 to 1000 [100]",
    },
)
async def lookup_changes(call: Call[None]) -> web.StreamResponse:
    after = change_position(call.request.query.get("after"))
    limit = page_limit(call.request.query.get("limit"))
    async with call.app[SESSIONS].begin() as session:
        if await client_index.rebuilding(session):
            raise Unavailable("this zone's client index is being rebuilt; ask again later")
        changes = await client_index.changes_since(session, after, here_of(call), limit)
    return json_response(
        LookupChanges(
            as_of=utcnow(),
            changes=[
                LookupChange(
                    client=news.client,
                    revision=news.revision,
                    zone=None if news.answer is None else Endpoint(**news.answer["zone"]),
                    path=[] if news.answer is None else news.answer["path"],
                    changed_at=changed_at,
                )
                for news, changed_at in changes
            ],
        )
    )


def change_position(raw: str | None) -> tuple[datetime, str] | None:
    """`after=<changed_at>,<client>`: where the previous page of changes ended."""
    if raw is None:
        return None
    moment_text, _, client = raw.rpartition(",")
    try:
        moment = datetime.fromisoformat(moment_text)
        # An empty client: from that moment on, that moment included.
        if moment.tzinfo is None or not (
            client == "" or re.fullmatch(ACCOUNT_NAME_PATTERN, client)
        ):
            raise ValueError("no time zone, or no client")
        return moment.astimezone(UTC), client
    except (ValueError, OverflowError) as exc:
        raise BadRequest(
            f"after: {raw[:80]!r} is not <ISO 8601 time with a zone>,<client>"
        ) from exc


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
)
async def delete_user(call: Call[None]) -> web.StreamResponse:
    name = call.path_name("name", ACCOUNT_NAME_PATTERN)
    async with call.app[SESSIONS].begin() as session:
        await users.delete_user(session, name)
    return web.Response(status=204)
