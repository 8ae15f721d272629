"""The `/quotas/{client}` endpoints: set, show and remove a client's quota at this zone.

Admins set and remove quotas; a member may read its own client's (its limits
and usage are the client's own business), admins any client's. A client with
no quota here reads as all limits null (no limit), with its usage.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from zones.errors import Forbidden, NotFound
from zones.node.appkeys import SESSIONS, SETTINGS
from zones.node.database import AsyncSession, utcnow
from zones.node.fields import ACCOUNT_NAME_PATTERN
from zones.node.http.callers import Role
from zones.node.http.endpoints import Call, EndpointTable, NamePattern, json_response
from zones.router.index.answers import Here
from zones.router.quotas.kept import quota_of_row
from zones.router.quotas.models import QuotaRow
from zones.router.quotas.rule import Quota, usage_here
from zones.router.quotas.schemas import QuotaEnvelope, QuotaSetEnvelope, QuotaView, UsageView

endpoints = EndpointTable("quotas")
CLIENT_PATH = "/quotas/{client}"
CLIENT_RULE = {"client": NamePattern(ACCOUNT_NAME_PATTERN)}


def here_of(call: Call[Any]) -> Here:
    settings = call.app[SETTINGS]
    return Here(settings.zone.name, settings.url)


async def quota_view(session: AsyncSession, quota: Quota, here: Here) -> QuotaEnvelope:
    usage = await usage_here(session, quota.client, here)
    limits = quota.limit_document()
    return QuotaEnvelope(
        quota=QuotaView(
            client=quota.client,
            instances=limits["instances"],
            resources=limits["resources"],
            usage=UsageView(**usage.document()),
        )
    )


@endpoints.route(
    "PUT",
    CLIENT_PATH,
    summary="Set a client's quota at this zone: for everything entering here and below",
    roles=[Role.ADMIN],
    body=QuotaSetEnvelope,
    response=QuotaEnvelope,
    path_rules=CLIENT_RULE,
)
async def set_quota(call: Call[QuotaSetEnvelope]) -> web.StreamResponse:
    client = call.path_name("client", ACCOUNT_NAME_PATTERN)
    limits = call.body.quota
    resources = {key: float(amount) for key, amount in limits.resources.items()}
    async with call.app[SESSIONS].begin() as session:
        row = await session.get(QuotaRow, client)
        if row is None:
            row = QuotaRow(client=client)
            session.add(row)
        row.instances, row.resources, row.changed_at = limits.instances, resources, utcnow()
        await session.flush()
        answer = await quota_view(session, quota_of_row(row), here_of(call))
    return json_response(answer)


@endpoints.route(
    "GET",
    CLIENT_PATH,
    summary="A client's quota at this zone, with its usage in this subtree",
    roles=[Role.MEMBER, Role.ADMIN],
    response=QuotaEnvelope,
    path_rules=CLIENT_RULE,
)
async def show_quota(call: Call[None]) -> web.StreamResponse:
    client = call.path_name("client", ACCOUNT_NAME_PATTERN)
    caller = call.caller
    if Role.ADMIN not in caller.roles and caller.client != client:
        raise Forbidden(f"user {caller.username!r} may read only client {caller.client!r}'s quota")
    async with call.app[SESSIONS].begin() as session:
        row = await session.get(QuotaRow, client)
        quota = Quota(client) if row is None else quota_of_row(row)  # none set: no limits
        answer = await quota_view(session, quota, here_of(call))
    return json_response(answer)


@endpoints.route(
    "DELETE",
    CLIENT_PATH,
    summary="Remove a client's quota at this zone",
    roles=[Role.ADMIN],
    status=204,
    path_rules=CLIENT_RULE,
)
async def delete_quota(call: Call[None]) -> web.StreamResponse:
    client = call.path_name("client", ACCOUNT_NAME_PATTERN)
    async with call.app[SESSIONS].begin() as session:
        row = await session.get(QuotaRow, client)
        if row is None:
            raise NotFound(f"client {client!r} has no quota at zone {here_of(call).name}")
        await session.delete(row)
    return web.Response(status=204)
