"""The `/instances` endpoints at the zone that holds them.

A create is placed on one of this zone's own live hosts; when none satisfies
it or has room, it is kept here with status ERROR and a fault saying why
(nothing is dropped). Members see and delete only their own client's
instances; admins may list every client's with `all_clients=true`.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError

from zones.auth.roles import Identity, Role
from zones.capabilities.matching import parse_requirements, parse_resources
from zones.errors import BadRequest, ChildError
from zones.node.appkeys import (
    FORWARDER,
    ROUTING_CACHE,
    SESSIONS,
    SETTINGS,
    TOKEN_VERIFIER,
    ZONE_UUID,
)
from zones.node.endpoints import Call, EndpointTable, json_response
from zones.node.fields import UUID_PATTERN
from zones.router import instances, listing, lookup, routing
from zones.router.forwarding import (
    check_service_token,
    is_forwarded_create,
    settled_keys,
    visited_path,
)
from zones.router.instance_models import Instance as InstanceRow
from zones.router.instance_schemas import (
    Instance,
    InstanceCreateEnvelope,
    InstanceEnvelope,
    Instances,
)
from zones.router.routing import NewInstance, Route

endpoints = EndpointTable("instances")
ModelT = TypeVar("ModelT", bound=BaseModel)
USERS = [Role.MEMBER, Role.ADMIN]
INSTANCE_ID = "{id}"
LIST_PARAMETERS = {
    "limit": "page size, 1 to 1000 [100]",
    "marker": "the id of the last instance of the previous page",
    "all_clients": "true: every client's instances (admins only)",
    "after": "parents' form of the marker: <created_at>,<id>",
}


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


def route_of(call: Call[Any]) -> Route:
    """This request's way through the tree; 508 when it has been here before."""
    return Route(
        request=call.request,
        request_id=call.request_id,
        visited=visited_path(call.request, call.app[ZONE_UUID]),
        settings=call.app[SETTINGS],
        sessions=call.app[SESSIONS],
        forwarder=call.app[FORWARDER],
        cache=call.app[ROUTING_CACHE],
    )


async def checked_route(call: Call[Any]) -> Route:
    route = route_of(call)
    await check_service_token(call.request, call.app[TOKEN_VERIFIER])
    return route


def answer_instance(instance: dict[str, Any], status: int = 200) -> web.StreamResponse:
    return json_response(InstanceEnvelope(instance=validated(Instance, instance)), status)


def validated(model: type[ModelT], document: dict[str, Any]) -> ModelT:
    """Check what zones below answered before passing it on: never a 500 for their garbage."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise ChildError("a zone below answered an instance in another shape") from exc


@endpoints.route(
    "POST",
    "/instances",
    summary="Create an instance: placed on a host that fits anywhere below, or kept with a fault",
    roles=USERS,
    body=InstanceCreateEnvelope,
    response=InstanceEnvelope,
    status=201,
)
async def create_instance(call: Call[InstanceCreateEnvelope]) -> web.StreamResponse:
    conditions, resources = checked_body(call)
    route = await checked_route(call)
    body = call.body.instance
    new = NewInstance(
        id=body.id or str(uuid.uuid4()),
        name=body.name,
        client=call.caller.client,
        requirements=body.requirements,
        resources=resources,
        conditions=conditions,
        fingerprint=instances.request_hash(body.name, body.requirements, resources),
        settled=settled_keys(call.request),
    )
    try:
        instance = await routing.create(route, new, is_forwarded_create(call.request))
    except IntegrityError:
        # A concurrent retry with the same id won the insert here: answer what it made.
        async with call.app[SESSIONS].begin() as session:
            existing = await session.get(InstanceRow, new.id)
            if existing is None:
                raise
            instance = routing.local_view(
                instances.same_request(existing, new.client, new.fingerprint)
            )
    return answer_instance(instance, status=201)


@endpoints.route(
    "GET",
    "/instances",
    summary="The caller's client's instances in this subtree, in creation order, by pages",
    roles=USERS,
    response=Instances,
    query=LIST_PARAMETERS,
)
async def list_instances(call: Call[None]) -> web.StreamResponse:
    route = await checked_route(call)
    query = call.request.query
    all_clients = query.get("all_clients", "false")
    if all_clients not in ("true", "false"):
        raise BadRequest(f"all_clients: must be true or false, got {all_clients[:50]!r}")
    client = visible_client(call.caller, all_clients == "true")
    limit = instances.page_limit(query.get("limit"))
    after = listing.parse_after(query.get("after"))
    if query.get("marker") is not None:
        after = await listing.resolve_marker(route, query["marker"], client)
    page = await listing.list_page(route, client, after, limit, client is None)
    return json_response(validated(Instances, page))


@endpoints.route(
    "GET",
    f"/instances/{INSTANCE_ID}",
    summary="One instance, wherever in this subtree it lives",
    roles=USERS,
    response=InstanceEnvelope,
)
async def show_instance(call: Call[None]) -> web.StreamResponse:
    instance_id = call.path_name("id", UUID_PATTERN)
    route = await checked_route(call)
    return answer_instance(
        await lookup.find(route, instance_id, visible_client(call.caller, all_clients=True))
    )


@endpoints.route(
    "DELETE",
    f"/instances/{INSTANCE_ID}",
    summary="Delete an instance wherever it lives, and free what it held",
    roles=USERS,
    status=204,
)
async def delete_instance(call: Call[None]) -> web.StreamResponse:
    instance_id = call.path_name("id", UUID_PATTERN)
    route = await checked_route(call)
    await lookup.delete(route, instance_id, visible_client(call.caller, all_clients=True))
    return web.Response(status=204)
