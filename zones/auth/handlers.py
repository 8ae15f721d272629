"""The auth endpoints: log in for a token, publish the public keys, manage users."""

from __future__ import annotations

from aiohttp import web

from zones.auth import users
from zones.auth.models import User as UserRow
from zones.auth.passwords import hash_password
from zones.auth.roles import Role
from zones.auth.schemas import (
    Endpoint,
    Jwks,
    TokenAnswer,
    TokenRequest,
    TokenUser,
    User,
    UserCreateEnvelope,
    UserEnvelope,
    Users,
)
from zones.node.appkeys import SESSIONS, SETTINGS, SIGNING_KEY, TOKEN_ISSUER
from zones.node.endpoints import Call, EndpointTable, json_response
from zones.node.fields import ACCOUNT_NAME_PATTERN

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
    settings = call.app[SETTINGS]
    answer = TokenAnswer(
        token=issued.token,
        expires_at=issued.expires_at,
        user=TokenUser(name=user.name, client=user.client, roles=user.roles),
        endpoint=Endpoint(name=settings.zone.name, url=settings.url),
    )
    return json_response(answer, status=201)


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
