"""Which zone a client should talk to: logging in, `/auth/lookup` and its changes.

Logging in (`POST /auth/tokens`) lives here rather than in zones.auth because
its answer names the client's endpoint: the lowest zone that manages the
user's client, read from the client index. The lookup is answered from the
index without asking any child, except while `zones reindex` rebuilds it
(zones.router.lookup.asking). `/auth/lookup/changes` is how parents learn the
changes made by requests that entered below them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from zones.auth import users
from zones.auth.appkeys import TOKEN_ISSUER
from zones.errors import BadRequest, Forbidden, NotFound, Unauthorized, Unavailable
from zones.node.appkeys import SESSIONS, SETTINGS
from zones.node.database import utcnow
from zones.node.fields import ACCOUNT_NAME_PATTERN
from zones.node.http.callers import Role
from zones.node.http.endpoints import Call, EndpointTable, QueryParameter, json_response
from zones.node.identity import serialize_on_zone
from zones.router.index import answers
from zones.router.index.appkeys import KEPT_ANSWERS
from zones.router.instances.local import PAGE_LIMIT, page_limit
from zones.router.instances.route import checked_route
from zones.router.lookup.asking import ask_children
from zones.router.lookup.schemas import (
    Endpoint,
    LookupAnswer,
    LookupChange,
    LookupChanges,
    TokenAnswer,
    TokenRequest,
    TokenUser,
)
from zones.router.quotas.schemas import UsageView

endpoints = EndpointTable("auth")


@endpoints.route(
    "POST",
    "/auth/tokens",
    summary="Log in: trade a username and password for a token",
    body=TokenRequest,
    response=TokenAnswer,
    status=201,
    errors=[Unauthorized],
)
async def issue_token(call: Call[TokenRequest]) -> web.StreamResponse:
    async with call.app[SESSIONS].begin() as session:
        found = await users.find_user(session, call.body.username)
    user = await users.check_password(found, call.body.password)
    async with call.app[SESSIONS].begin() as session:
        # Issued in the zone's turn, the user read again: a delete of the user (which
        # revokes in its own turn) comes either first, and this login fails, or after,
        # and revokes this token too.
        await serialize_on_zone(session)
        if await users.find_user(session, user.name) is None:
            raise Unauthorized("wrong username or password")
        issued = call.app[TOKEN_ISSUER].issue(user.name, user.client, user.roles)
    here = here_of(call)
    async with call.app[SESSIONS].begin() as session:
        lowest = await answers.answer_for(session, user.client, here)
    answer = TokenAnswer(
        token=issued.token,
        expires_at=issued.expires_at,
        user=TokenUser(name=user.name, client=user.client, roles=user.roles),
        endpoint=Endpoint(**(lowest or here.answer())["zone"]),
    )
    return json_response(answer, status=201)


def here_of(call: Call[Any]) -> answers.Here:
    settings = call.app[SETTINGS]
    return answers.Here(settings.zone.name, settings.url)


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
    query={
        "client": QueryParameter(
            "the client asked about (members: their own only)",
            {"type": "string", "pattern": ACCOUNT_NAME_PATTERN},
            required=True,
        )
    },
)
async def lookup_client(call: Call[None]) -> web.StreamResponse:
    client = client_parameter(call)
    here = here_of(call)
    read = await call.app[KEPT_ANSWERS].read(client, here)
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
        "limit": QueryParameter("page size [100]", PAGE_LIMIT),
    },
)
async def lookup_changes(call: Call[None]) -> web.StreamResponse:
    after = change_position(call.request.query.get("after"))
    limit = page_limit(call.request.query.get("limit"))
    async with call.app[SESSIONS].begin() as session:
        if await answers.rebuilding(session):
            raise Unavailable("this zone's client index is being rebuilt; ask again later")
        changes = await answers.changes_since(session, after, here_of(call), limit)
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
                    usage=None if news.usage is None else UsageView(**news.usage.document()),
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
