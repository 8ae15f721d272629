"""The `/hosts` endpoints: heartbeats from hosts, and the live hosts for admins."""

from __future__ import annotations

from aiohttp import web

from zones.capabilities.hosts import registry
from zones.capabilities.hosts.appkeys import HOST_BOARD
from zones.capabilities.hosts.schemas import (
    HOST_NAME_PATTERN,
    HeartbeatEnvelope,
    Host,
    HostEnvelope,
    Hosts,
)
from zones.node.appkeys import SESSIONS
from zones.node.http.callers import Role
from zones.node.http.endpoints import Call, EndpointTable, NamePattern, json_response

endpoints = EndpointTable("hosts")
HOST_NAME = {"name": NamePattern(HOST_NAME_PATTERN)}


@endpoints.route(
    "PUT",
    "/hosts/{name}",
    summary="Heartbeat: a host reports its capabilities and inventory, live for ttl seconds",
    roles=[Role.ADMIN, Role.HOST],
    body=HeartbeatEnvelope,
    response=HostEnvelope,
    path_rules=HOST_NAME,
)
async def heartbeat(call: Call[HeartbeatEnvelope]) -> web.StreamResponse:
    name = call.path_name("name", HOST_NAME_PATTERN)
    beat, board = call.body.host, call.app[HOST_BOARD]
    reserved = tuple(beat.reserved)
    digest = registry.heartbeat_digest(
        beat.capabilities, beat.inventory, beat.ttl, call.caller, reserved
    )
    live = board.beat_in_memory(name, digest, beat.ttl)
    if live is None:
        async with call.app[SESSIONS].begin() as session:
            live = await registry.record_heartbeat(
                session, name, beat.capabilities, beat.inventory, beat.ttl, call.caller, reserved
            )
            board.heard(session, live)
    return json_response(HostEnvelope(host=Host(**registry.host_record(live))))


@endpoints.route(
    "GET", "/hosts", summary="The live hosts of this zone", roles=[Role.ADMIN], response=Hosts
)
async def list_hosts(call: Call[None]) -> web.StreamResponse:
    async with call.app[SESSIONS].begin() as session:  # the copy placement reads, as it is
        live = await call.app[HOST_BOARD].live(session)
    return json_response(Hosts(hosts=[Host(**registry.host_record(host)) for host in live]))


@endpoints.route(
    "DELETE",
    "/hosts/{name}",
    summary="Forget a host",
    roles=[Role.ADMIN],
    status=204,
    path_rules=HOST_NAME,
)
async def delete_host(call: Call[None]) -> web.StreamResponse:
    name = call.path_name("name", HOST_NAME_PATTERN)
    async with call.app[SESSIONS].begin() as session:
        await registry.remove_host(session, name)
        call.app[HOST_BOARD].removed(session, name)
    return web.Response(status=204)
