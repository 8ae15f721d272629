"""The auth endpoints: publish the public keys, manage users (logging in is served by
zones.router.lookup.handlers, since its answer names the client's endpoint)."""

from __future__ import annotations

from aiohttp import web

from zones.auth import users
from zones.auth.appkeys import SIGNING_KEY
from zones.auth.models import User as UserRow
from zones.auth.passwords import hash_password
from zones.auth.schemas import Jwks, User, UserCreateEnvelope, UserEnvelope, Users
from zones.node.appkeys import SESSIONS
from zones.node.fields import ACCOUNT_NAME_PATTERN
from zones.node.http.callers import Role
from zones.node.http.endpoints import Call, EndpointTable, json_response

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
