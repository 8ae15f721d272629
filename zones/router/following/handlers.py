"""The `/zones` endpoints: this zone's children (zone-add and friends) and `/zones/info`."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from zones.auth.appkeys import SECRET_BOX
from zones.auth.keys import SecretUnreadable
from zones.errors import Conflict
from zones.node.appkeys import SESSIONS, ZONE_UUID
from zones.node.database import utcnow
from zones.node.http.callers import Role
from zones.node.http.endpoints import (
    POSITIVE_ID,
    Call,
    EndpointTable,
    QueryParameter,
    json_response,
)
from zones.node.http.prefer import PREFERENCE_APPLIED, applied, wait_asked
from zones.router.children import registry
from zones.router.children.appkeys import CHILD_CLIENT
from zones.router.children.filters import STATES, children_query, filter_children
from zones.router.children.models import ChildZone
from zones.router.children.schemas import (
    Zone,
    ZoneCreateEnvelope,
    ZoneDetail,
    ZoneDetailEnvelope,
    ZoneEnvelope,
    ZoneInfo,
    ZoneInfoEnvelope,
    Zones,
    ZoneUpdateEnvelope,
)
from zones.router.following.appkeys import ZONE_INFO
from zones.router.following.info import etag_of
from zones.router.following.probe import ProbeResult, probe_child
from zones.router.following.rounds import replace_capability_rows
from zones.router.index.updates import forget_child, forget_child_answers

endpoints = EndpointTable("zones")
ID_PATH = {"id": POSITIVE_ID}
# `{id}` never matches "info" or "tree", so PUT /zones/info is a 405 and not "id: must be an
# integer".
ZONE_ID = "{id:(?!(?:info|tree)$)[^/]+}"
CREDENTIAL_FIELDS = ("api_url", "username", "password")
FILTER_PARAMETERS: dict[str, str | QueryParameter] = {
    "state": QueryParameter("the child's state", {"type": "string", "enum": list(STATES)}),
    "filters": (
        "any other parameter filters by what the child last reported: "
        "<capability>=value or <capability>=op:value (op: eq ne lt le gt ge in, in:a,b), "
        "<resource>.free.max=op:number (most free on one host), "
        "<resource>.free.sum=op:number (all free below the child)"
    ),
}


def zone_view(child: ChildZone) -> Zone:
    return Zone(**_zone_fields(child))


def _zone_fields(child: ChildZone) -> dict[str, Any]:
    return {
        "id": child.id,
        "name": child.name,
        "uuid": child.uuid,
        "api_url": child.api_url,
        "username": child.username,
        "enabled": child.enabled,
        "weight_offset": child.weight_offset,
        "state": child.display_state,
        "last_seen": child.last_seen,
        "last_error": child.last_error,
        "failures": child.failures,
        "poll_latency_ms": child.poll_latency_ms,
        "last_polled_at": child.last_polled_at,
    }


def zone_detail_view(child: ChildZone) -> ZoneDetail:
    fields = _zone_fields(child)
    if child.last_info is None:
        return ZoneDetail(**fields)
    info = ZoneInfo.model_validate(child.last_info)
    return ZoneDetail(
        **fields,
        capabilities=info.capabilities,
        free=info.free,
        hosts=info.hosts,
        instances=info.instances,
        children=info.children,
        generation=info.generation,
    )


def provisional_name(api_url: str) -> str:
    """A stand-in name made from the URL, for a child that has not told its own yet."""
    slug = re.sub(r"[^a-z0-9]+", "-", urlsplit(api_url).netloc.lower()).strip("-")[:40]
    digest = hashlib.sha256(api_url.encode("utf-8")).hexdigest()[:8]
    return f"unnamed-{slug}-{digest}"


def learnt_fields(probe: ProbeResult, own_uuid: str) -> dict[str, Any]:
    """What zone-add stores from its first contact with the child."""
    if probe.info is None:
        return {"state": "unknown", "last_error": probe.error, "clients_known_at": None}
    if probe.info.uuid == own_uuid:
        raise Conflict("zone.api_url: that is this zone itself; a zone cannot be its own child")
    if own_uuid in probe.info.descendants:
        raise Conflict(
            f"zone.api_url: this zone is already inside the subtree of {probe.info.name!r}; "
            "adding it as a child would close a loop"
        )
    return {
        "uuid": probe.info.uuid,
        "state": "online",
        "last_seen": utcnow(),
        "last_error": None,
        "last_info": probe.info.model_dump(mode="json"),
        # The probe's answer says when the child's client index changed, but its changes
        # were never fetched: the next poll fetches them all.
        "clients_known_at": None,
    }


def name_fields(given: str | None, probe: ProbeResult, api_url: str) -> dict[str, Any]:
    if given is not None:
        return {"name": given, "name_is_provisional": False}
    if probe.info is not None:
        return {"name": probe.info.name, "name_is_provisional": False}
    return {"name": provisional_name(api_url), "name_is_provisional": True}


@endpoints.route(
    "GET",
    "/zones/info",
    summary="This zone as its parents see it",
    roles=[Role.ADMIN, Role.SERVICE],
    response=ZoneInfoEnvelope,
    answers={304: "Not modified: still the info of the etag given in If-None-Match"},
)
async def zone_info(call: Call[None]) -> web.StreamResponse:
    """Held, with `If-None-Match` and `Prefer: wait=N`, until the info differs from that etag
    (a watch: zones.router.following.watcher), or answered at once."""
    headers = call.request.headers
    wait, known = wait_asked(headers.get("Prefer")), headers.get("If-None-Match")
    keeper = call.app[ZONE_INFO]
    if wait is not None and known is not None:
        info = await keeper.changed_from(known, wait)
    else:
        info = await keeper.current()
    etag = etag_of(info.generation)
    sent = {"ETag": etag}
    if wait is not None:
        sent[PREFERENCE_APPLIED] = applied(wait)
    if known == etag:
        return web.Response(status=304, headers=sent)
    response = json_response(ZoneInfoEnvelope(zone=info))
    response.headers.update(sent)
    return response


@endpoints.route(
    "GET",
    "/zones",
    summary="This zone's children, optionally filtered by what they last reported",
    roles=[Role.ADMIN],
    response=Zones,
    query=FILTER_PARAMETERS,
)
async def list_zones(call: Call[None]) -> web.StreamResponse:
    query = filter_children(children_query(), call.request.query)
    async with call.app[SESSIONS].begin() as session:
        rows = list(await session.scalars(query))
    return json_response(Zones(zones=[zone_view(row) for row in rows]))


@endpoints.route(
    "POST",
    "/zones",
    summary="zone-add: register a child zone",
    roles=[Role.ADMIN],
    body=ZoneCreateEnvelope,
    response=ZoneEnvelope,
    status=201,
    errors=[Conflict],
)
async def add_zone(call: Call[ZoneCreateEnvelope]) -> web.StreamResponse:
    new = call.body.zone
    await call.app[CHILD_CLIENT].check_allowed(new.api_url)
    probe = await probe_child(
        call.app[CHILD_CLIENT], new.api_url, new.username, new.password, call.request_id
    )
    values = {
        "api_url": new.api_url,
        "username": new.username,
        "password_encrypted": call.app[SECRET_BOX].seal(new.password),
        "enabled": new.enabled,
        "weight_offset": new.weight_offset,
        **name_fields(new.name, probe, new.api_url),
        **learnt_fields(probe, call.app[ZONE_UUID]),
    }
    async with call.app[SESSIONS].begin() as session:
        child = await registry.add_child(session, **values)
        if probe.info is not None:
            await replace_capability_rows(session, child.id, probe.info)
    return json_response(ZoneEnvelope(zone=zone_view(child)), status=201)


@endpoints.route(
    "GET",
    f"/zones/{ZONE_ID}",
    summary="One child",
    roles=[Role.ADMIN],
    response=ZoneEnvelope,
    path_rules=ID_PATH,
)
async def show_zone(call: Call[None]) -> web.StreamResponse:
    async with call.app[SESSIONS].begin() as session:
        child = await registry.get_child(session, call.path_id())
    return json_response(ZoneEnvelope(zone=zone_view(child)))


@endpoints.route(
    "GET",
    f"/zones/{ZONE_ID}/detail",
    summary="One child with what was last learnt from it",
    roles=[Role.ADMIN],
    response=ZoneDetailEnvelope,
    path_rules=ID_PATH,
)
async def show_zone_detail(call: Call[None]) -> web.StreamResponse:
    async with call.app[SESSIONS].begin() as session:
        child = await registry.get_child(session, call.path_id())
    return json_response(ZoneDetailEnvelope(zone=zone_detail_view(child)))


@endpoints.route(
    "PUT",
    f"/zones/{ZONE_ID}",
    summary="Change a child's url, credentials, name, enabled or weight_offset",
    roles=[Role.ADMIN],
    body=ZoneUpdateEnvelope,
    response=ZoneEnvelope,
    path_rules=ID_PATH,
    errors=[Conflict],
)
async def update_zone(call: Call[ZoneUpdateEnvelope]) -> web.StreamResponse:
    child_id = call.path_id()
    changes = call.body.zone.model_dump(exclude_unset=True)
    async with call.app[SESSIONS].begin() as session:
        child = await registry.get_child(session, child_id)
    values = {key: value for key, value in changes.items() if key != "password"}
    if changes.get("enabled") is True and not child.enabled:
        # Nothing was polled while it was disabled: what it said then is no longer known.
        values.update(state="unknown", failures=0)
    if "name" in changes:
        values["name_is_provisional"] = False
    if "password" in changes:
        values["password_encrypted"] = call.app[SECRET_BOX].seal(changes["password"])
    probe = None
    if any(field in changes for field in CREDENTIAL_FIELDS):
        probe, learnt = await reprobe(call, child, changes)
        values.update(learnt)
    async with call.app[SESSIONS].begin() as session:
        child = await registry.get_child(session, child_id)
        child = await registry.update_child(session, child, **values)
        if probe is not None and "last_info" in values:  # learnt anew, or forgotten
            await replace_capability_rows(session, child.id, probe.info)
        if "api_url" in changes:
            await forget_child_answers(session, child.id)
    return json_response(ZoneEnvelope(zone=zone_view(child)))


async def reprobe(
    call: Call[Any], child: ChildZone, changes: dict[str, Any]
) -> tuple[ProbeResult, dict[str, Any]]:
    """Contact the child again with its new URL or credentials; learn what changed."""
    api_url = changes.get("api_url", child.api_url)
    await call.app[CHILD_CLIENT].check_allowed(api_url)
    username = changes.get("username", child.username)
    try:
        password = changes.get("password") or call.app[SECRET_BOX].open(child.password_encrypted)
    except SecretUnreadable as exc:
        raise Conflict(f"zone.password: {exc}; send the password again with this change") from exc
    probe = await probe_child(call.app[CHILD_CLIENT], api_url, username, password, call.request_id)
    values = learnt_fields(probe, call.app[ZONE_UUID])
    if probe.info is None and api_url != child.api_url:
        # Whatever answered at the old URL may not be what will answer at the new one.
        values.update(uuid=None, last_info=None, last_seen=None)
    if child.name_is_provisional and "name" not in changes:
        values.update(name_fields(None, probe, api_url))
    return probe, values


@endpoints.route(
    "DELETE",
    f"/zones/{ZONE_ID}",
    summary="Remove a child",
    roles=[Role.ADMIN],
    status=204,
    path_rules=ID_PATH,
)
async def delete_zone(call: Call[None]) -> web.StreamResponse:
    async with call.app[SESSIONS].begin() as session:
        child = await registry.get_child(session, call.path_id())
        await forget_child(session, child.id)  # its entries go with it: parents must hear
        await registry.remove_child(session, child.id)
    return web.Response(status=204)
