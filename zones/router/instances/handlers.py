"""The `/instances` endpoints: a request entering here is served here or routed down the tree.

A create goes to one of this zone's own live hosts or to the child whose
capabilities fit (`creating`); when nothing fits or has room, it is kept here
with status ERROR and a fault saying why (nothing is dropped). Show, delete
and move find the zone that holds the instance (`finding`, `moving`); lists
merge every zone's (`listing`). Members see and delete only their own
client's instances; admins may list every client's with `all_clients=true`.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError

from zones.capabilities.matching import parse_requirements, parse_resources
from zones.errors import (
    BadRequest,
    ChildError,
    Conflict,
    Forbidden,
    NotFound,
    SubtreeUnavailable,
)
from zones.node.appkeys import SESSIONS, SETTINGS
from zones.node.fields import ACCOUNT_NAME_PATTERN, UUID_PATTERN
from zones.node.http.callers import Identity, Role
from zones.node.http.endpoints import (
    Call,
    EndpointTable,
    NamePattern,
    QueryParameter,
    json_response,
)
from zones.node.metrics.registry import METRICS
from zones.router.children.forwarding import (
    CLIENT_HEADER,
    FRESH_HEADER,
    MOVING_HEADER,
    TARGET_HEADER,
    from_a_parent,
    is_forwarded_create,
    parent_header,
    settled_keys,
)
from zones.router.children.http import SUMMARY_HEADER, UNREACHABLE_HEADER
from zones.router.children.registry import zone_names
from zones.router.index.answers import LOOKUP_HEADER, Here, News, news_for, news_header
from zones.router.instances import creating, finding, listing, local, moving
from zones.router.instances.appkeys import ROUTING_CACHE, WRITE_SUMMARY
from zones.router.instances.models import Instance as InstanceRow
from zones.router.instances.moving import Move
from zones.router.instances.new_instance import NewInstance
from zones.router.instances.route import checked_route
from zones.router.instances.schemas import (
    Instance,
    InstanceCreateEnvelope,
    InstanceEnvelope,
    Instances,
    MoveEnvelope,
)
from zones.router.instances.views import local_view

log = logging.getLogger("zones.instances")
endpoints = EndpointTable("instances")
ModelT = TypeVar("ModelT", bound=BaseModel)
USERS = [Role.MEMBER, Role.ADMIN]
INSTANCE_ID = "{id}"
INSTANCE_ID_RULE = {"id": NamePattern(UUID_PATTERN)}
LIST_PARAMETERS: dict[str, str | QueryParameter] = {
    "limit": QueryParameter("page size [100]", local.PAGE_LIMIT),
    "marker": "the id of the last instance of the previous page",
    "all_clients": QueryParameter(
        "true: every client's instances (admins, and parents' service accounts)",
        {"type": "string", "enum": ["true", "false"]},
    ),
    "after": "parents' form of the marker: <created_at>,<id>",
}


def visible_client(caller: Identity, all_clients: bool = False) -> str | None:
    """Whose instances the caller may see, show, move and delete: its own client's, or
    (admins asking) everyone's."""
    if all_clients and Role.ADMIN in caller.roles:
        return None
    return caller.client


def listed_client(caller: Identity, all_clients: bool) -> str | None:
    """Whose instances a list shows: as above, and also every client's for a parent's
    service account rebuilding its index (`zones reindex`): lists only, read-only."""
    if all_clients and Role.SERVICE in caller.roles:
        return None
    return visible_client(caller, all_clients)


def checked_body(call: Call[InstanceCreateEnvelope]) -> tuple[Any, dict[str, float]]:
    body = call.body.instance
    try:
        return parse_requirements(body.requirements), parse_resources(body.resources)
    except ValueError as exc:
        raise BadRequest(f"instance.{exc}") from exc


def moving_copy_of(call: Call[Any]) -> tuple[str, datetime | None]:
    """Whose instance a create makes, and since when: the caller's, now; or, for the new copy
    of a moving instance (a parent's MOVING_HEADER), the instance's own client and time."""
    raw = parent_header(call.request, MOVING_HEADER)
    if raw is None:
        return call.caller.client, None
    client, _, created = raw.partition(",")
    try:
        created_at = datetime.fromisoformat(created)
    except ValueError as exc:
        raise BadRequest(f"{MOVING_HEADER}: {raw[:100]!r} is not <client>,<created_at>") from exc
    if created_at.tzinfo is None or not re.fullmatch(ACCOUNT_NAME_PATTERN, client):
        raise BadRequest(f"{MOVING_HEADER}: {raw[:100]!r} is not <client>,<created_at>")
    if client != call.caller.client and Role.ADMIN not in call.caller.roles:
        raise Forbidden(f"user {call.caller.username!r} may not move client {client!r}'s instances")
    return client, created_at


def answer_instance(instance: dict[str, Any], status: int = 200) -> web.StreamResponse:
    return json_response(InstanceEnvelope(instance=validated(Instance, instance)), status)


async def news_headers(call: Call[Any], client: str, told: News | None = None) -> dict[str, str]:
    """To a parent, this zone's client index answer after a change (zones.router.index):
    `told`, read by the change's last write, or read now. Nothing for other callers."""
    if not from_a_parent(call.request):
        return {}
    news = told
    if news is None:
        settings = call.app[SETTINGS]
        async with call.app[SESSIONS].begin() as session:
            news = await news_for(session, client, Here(settings.zone.name, settings.url))
    return {LOOKUP_HEADER: news_header(news)}


async def with_news(
    call: Call[Any], response: web.StreamResponse, client: str, told: News | None = None
) -> web.StreamResponse:
    """A write's answer: to a parent, with this zone's client index answer and its info as
    it is now (the parent's view of this zone is then current before it answers)."""
    response.headers.update(await news_headers(call, client, told))
    if from_a_parent(call.request):
        try:
            summary = await call.app[WRITE_SUMMARY]()
        except Exception:
            # The write is committed: its answer must get through (a parent that saw a 500
            # would try elsewhere). The parent's watch brings the info instead.
            log.exception("cannot build the summary for a write's answer; sent without it")
            summary = None
        if summary is not None:
            response.headers[SUMMARY_HEADER] = summary
    return response


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
    errors=[Conflict],
)
async def create_instance(call: Call[InstanceCreateEnvelope]) -> web.StreamResponse:
    conditions, resources = checked_body(call)
    route = await checked_route(call)
    body = call.body.instance
    client, created_at = moving_copy_of(call)
    new = NewInstance(
        id=body.id or str(uuid.uuid4()),
        name=body.name,
        client=client,
        requirements=body.requirements,
        resources=resources,
        conditions=conditions,
        fingerprint=local.request_hash(body.name, body.requirements, resources),
        settled=settled_keys(call.request),
        created_at=created_at,
        target=parent_header(call.request, TARGET_HEADER),
        # An id made here, or one a parent made, is new everywhere (a move's copy never is).
        fresh=created_at is None
        and (body.id is None or parent_header(call.request, FRESH_HEADER) == "1"),
    )
    placements = call.app[METRICS].placements
    try:
        instance = await creating.create(route, new, is_forwarded_create(call.request))
    except SubtreeUnavailable:
        placements.labels("unavailable").inc()
        raise
    except IntegrityError:
        # A concurrent retry with the same id won the insert here: answer what it made.
        async with call.app[SESSIONS].begin() as session:
            existing = await session.get(InstanceRow, new.id)
            if existing is None:
                raise
            instance = local_view(local.same_request(existing, new.client, new.fingerprint))
    placements.labels(placement_of(instance, route.name)).inc()
    # A create's last write is its own row or mapping: what it read is current. (A move
    # writes again after that, so a move reads anew.)
    told = route.told.get(new.client)
    return await with_news(call, answer_instance(instance, status=201), new.client, told)


def placement_of(instance: dict[str, Any], here: str) -> str:
    """Where a create went, for zones_placements_total: local, child or error (kept here)."""
    if instance.get("status") == "ERROR":
        return "error"
    return "local" if instance.get("zone") == here else "child"


@endpoints.route(
    "POST",
    f"/instances/{INSTANCE_ID}/move",
    summary="Place an instance again (new requirements, or a zone for admins), keeping its id",
    roles=USERS,
    body=MoveEnvelope,
    response=InstanceEnvelope,
    path_rules=INSTANCE_ID_RULE,
    errors=[Conflict],
)
async def move_instance(call: Call[MoveEnvelope]) -> web.StreamResponse:
    instance_id = call.path_name("id", UUID_PATTERN)
    body = call.body.move
    if body.requirements is not None:
        try:
            parse_requirements(body.requirements)
        except ValueError as exc:
            raise BadRequest(f"move.{exc}") from exc
    if body.zone is not None and Role.ADMIN not in call.caller.roles:
        raise Forbidden("move.zone: only admins may name the zone an instance moves to")
    route = await checked_route(call)
    if body.zone is not None and not from_a_parent(call.request):
        await known_zone(call, body.zone)
    request = Move(instance_id, body.requirements, body.zone, settled_keys(call.request))
    client = visible_client(call.caller, all_clients=True)
    instance = await moving.move(route, request, client)
    return await with_news(call, answer_instance(instance), instance["client"])


async def known_zone(call: Call[Any], name: str) -> None:
    """A move's target must be this zone or one below it, as the last polls tell."""
    if name == call.app[SETTINGS].zone.name:
        return
    children = await call.app[ROUTING_CACHE].children()
    if not any(name in zone_names(child) for child in children):
        raise BadRequest(f"move.zone: no zone named {name!r} in this zone's subtree")


@endpoints.route(
    "GET",
    "/instances",
    summary="The caller's client's instances in this subtree, in creation order, by pages",
    roles=[*USERS, Role.SERVICE],
    response=Instances,
    query=LIST_PARAMETERS,
)
async def list_instances(call: Call[None]) -> web.StreamResponse:
    route = await checked_route(call)
    query = call.request.query
    all_clients = query.get("all_clients", "false")
    if all_clients not in ("true", "false"):
        raise BadRequest(f"all_clients: must be true or false, got {all_clients[:50]!r}")
    client = listed_client(call.caller, all_clients == "true")
    limit = local.page_limit(query.get("limit"))
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
    path_rules=INSTANCE_ID_RULE,
)
async def show_instance(call: Call[None]) -> web.StreamResponse:
    instance_id = call.path_name("id", UUID_PATTERN)
    route = await checked_route(call)
    instance = await finding.find(route, instance_id, visible_client(call.caller, all_clients=True))
    response = answer_instance(instance)
    if route.unreachable:  # shown from the last known copy: the holder could not be asked
        response.headers[UNREACHABLE_HEADER] = ",".join(sorted(route.unreachable))
    return response


@endpoints.route(
    "DELETE",
    f"/instances/{INSTANCE_ID}",
    summary="Delete an instance wherever it lives, and free what it held",
    roles=USERS,
    status=204,
    path_rules=INSTANCE_ID_RULE,
)
async def delete_instance(call: Call[None]) -> web.StreamResponse:
    instance_id = call.path_name("id", UUID_PATTERN)
    route = await checked_route(call)
    try:
        client = await finding.delete(
            route, instance_id, visible_client(call.caller, all_clients=True)
        )
    except NotFound as exc:
        # Gone already: the parent's mapping was stale. Its client index hears this zone's
        # answer for the client it named, so a stale answer does not outlive the mapping.
        named = parent_header(call.request, CLIENT_HEADER)
        if named is not None and re.fullmatch(ACCOUNT_NAME_PATTERN, named):
            exc.headers.update(await news_headers(call, named))
        raise
    return await with_news(call, web.Response(status=204), client)
