"""The node's own endpoints: health and the OpenAPI description of every endpoint."""

from __future__ import annotations

import os

from aiohttp import web

from zones.node.appkeys import LEADERSHIP, OPENAPI
from zones.node.http.endpoints import Call, EndpointTable, json_response
from zones.node.http.schemas import Health, WorkerHealth

endpoints = EndpointTable("node")


@endpoints.route("GET", "/healthz", summary="Is this zone up", response=Health)
async def healthz(call: Call[None]) -> web.StreamResponse:
    leadership = call.app.get(LEADERSHIP)
    follows = leadership is None or leadership.leading.is_set()  # one process: always
    return json_response(
        Health(status="ok", worker=WorkerHealth(pid=os.getpid(), follows_children=follows))
    )


@endpoints.route("GET", "/openapi.json", summary="The OpenAPI 3.1 description of this API")
async def openapi(call: Call[None]) -> web.StreamResponse:
    return web.json_response(call.app[OPENAPI])
