"""The `/instances` endpoints at the zone that holds them.

A create is placed on one of this zone's own live hosts; when none satisfies
it or has room, it is kept here with status ERROR and a fault saying why
(nothing is dropped). Members see and delete only their own client's
instances; admins may list every client's with `all_clients=true`.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from zones.auth.roles import Identity, Role
from zones.capabilities.matching import parse_requirements, parse_resources
from zones.errors import BadRequest
from zones.node.appkeys import SESSIONS, SETTINGS
from zones.node.database import utcnow
from zones.node.endpoints import Call, EndpointTable, json_response
from zones.node.fields import UUID_PATTERN
from zones.router import instances
from zones.router.instance_models import Instance as InstanceRow
from zones.router.instance_schemas import (
    Fault,
    Instance,
    InstanceCreateEnvelope,
    InstanceEnvelope,
    Instances,
)
from zones.router.placement import place_on_own_hosts

endpoints = EndpointTable("instances")
USERS = [Role.MEMBER, Role.ADMIN]
INSTANCE_ID = "{id}"
LIST_PARAMETERS = {
    "limit": "page size, 1 to 1000 [100]",
    "marker": "the id of the last instance of the previous page",
    "all_clients": "true: every client's instances (admins only)",
}


def instance_view(row: InstanceRow) -> Instance:
    return Instance(
        id=row.id,
        name=row.name,
        client=row.client,
        status=row.status,
        zone=row.zone,
        host=row.host,
        path=row.path,
        requirements=row.requirements,
        resources=row.resources,
        created_at=row.created_at,
        fault=Fault(message=row.fault) if row.fault else None,
    )


def visible_client(caller: Identity, all_clients: bool = False) -> str | None:
    """Whose instances the caller may see: its own client's, or (admins asking) everyone's."""
    if all_clients and Role.ADMIN in caller.roles:
        return None
    return caller.client


def checked_body(call: Call[InstanceCreateEnvelope]) -> tuple[Any, dict[str, float]]:
    body = call.body.instance
    try:
        return parse_requirements(body.requirements), parse_resources(body.resources)
    except ValueError as exc:
        raise BadRequest(f"instance.{exc}") from exc


@endpoints.route(
    "POST",
    "/instances",
    summary="Create an instance: placed on a host that fits, or kept with a fault",
    roles=USERS,
    body=InstanceCreateEnvelope,
    response=InstanceEnvelope,
    status=201,
)
async def create_instance(call: Call[InstanceCreateEnvelope]) -> web.StreamResponse:
    conditions, resources = checked_body(call)
    body, caller, settings = call.body.instance, call.caller, call.app[SETTINGS]
    instance_id = body.id or str(uuid.uuid4())
    fingerprint = instances.request_hash(body.name, body.requirements, body.resources)
    try:
        async with call.app[SESSIONS].begin() as session:
            existing = await session.get(InstanceRow, instance_id)
            if existing is not None:
                row = instances.same_request(existing, caller.client, fingerprint)
            else:
                placed = await place_on_own_hosts(
                    session, conditions, resources, settings.zone.capabilities
                )
                row = InstanceRow(
                    id=instance_id,
                    name=body.name,
                    client=caller.client,
                    status="ACTIVE" if placed.host else "ERROR",
                    zone=settings.zone.name,
                    host=placed.host,
                    path=[settings.zone.name],
                    requirements=body.requirements,
                    resources=resources,
                    fault=placed.fault,
                    request_hash=fingerprint,
                    created_at=utcnow(),
                )
                session.add(row)
    except IntegrityError:
        # A concurrent retry with the same id won the insert: answer what it made.
        async with call.app[SESSIONS].begin() as session:
            existing = await session.get(InstanceRow, instance_id)
            if existing is None:
                raise
            row = instances.same_request(existing, caller.client, fingerprint)
    return json_response(InstanceEnvelope(instance=instance_view(row)), status=201)


@endpoints.route(
    "GET",
    "/instances",
    summary="The caller's client's instances, in creation order, a page at a time",
    roles=USERS,
    response=Instances,
    query=LIST_PARAMETERS,
)
async def list_instances(call: Call[None]) -> web.StreamResponse:
    query = call.request.query
    all_clients = query.get("all_clients", "false")
    if all_clients not in ("true", "false"):
        raise BadRequest(f"all_clients: must be true or false, got {all_clients[:50]!r}")
    client = visible_client(call.caller, all_clients == "true")
    limit = instances.page_limit(query.get("limit"))
    async with call.app[SESSIONS].begin() as session:
        marker = query.get("marker")
        after = None if marker is None else await instances.marker_position(session, marker, client)
        rows = await instances.page(session, client, after, limit + 1)
    more = len(rows) > limit
    shown = rows[:limit]
    answer = Instances(
        instances=[instance_view(row) for row in shown],
        next_marker=shown[-1].id if more else None,
        unreachable_zones=[],
    )
    return json_response(answer)


@endpoints.route(
    "GET",
    f"/instances/{INSTANCE_ID}",
    summary="One instance",
    roles=USERS,
    response=InstanceEnvelope,
)
async def show_instance(call: Call[None]) -> web.StreamResponse:
    instance_id = call.path_name("id", UUID_PATTERN)
    async with call.app[SESSIONS].begin() as session:
        row = await instances.find_visible(session, instance_id, visible_client(call.caller, True))
    if row is None:
        raise instances.not_found(instance_id)
    return json_response(InstanceEnvelope(instance=instance_view(row)))


@endpoints.route(
    "DELETE",
    f"/instances/{INSTANCE_ID}",
    summary="Delete an instance and free what it held",
    roles=USERS,
    status=204,
)
async def delete_instance(call: Call[None]) -> web.StreamResponse:
    instance_id = call.path_name("id", UUID_PATTERN)
    async with call.app[SESSIONS].begin() as session:
        row = await instances.find_visible(session, instance_id, visible_client(call.caller, True))
        if row is None:
            raise instances.not_found(instance_id)
        await instances.remove(session, row)
    return web.Response(status=204)
