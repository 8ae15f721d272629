"""Declared endpoints: one table that both serves the routes and describes them in OpenAPI.

Each feature module fills an `EndpointTable` with decorated handlers. The
declaration says who may call (roles), which pydantic model the body must
satisfy and which model the answer follows. The wrapper checks credentials,
then roles, then reads the body, so the order of refusals is always
401, 403, 400; the same declaration feeds `zones.node.http.openapi`, so the
description cannot drift from what the server accepts.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel

from zones.errors import BadRequest, Unauthorized
from zones.node.http.body import read_model
from zones.node.http.callers import AUTHENTICATOR, Identity, Role, require_roles
from zones.node.http.request_ids import request_id_of

BodyT = TypeVar("BodyT")


@dataclass(frozen=True)
class Call(Generic[BodyT]):
    """One call of an endpoint: the request, the verified caller and the validated body."""

    request: web.Request
    identity: Identity | None
    body: BodyT

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def caller(self) -> Identity:
        """Who calls an endpoint that requires roles (there, always someone)."""
        if self.identity is None:
            raise Unauthorized("credentials required: send Authorization: Bearer <token>")
        return self.identity

    @property
    def request_id(self) -> str:
        """This request's id, to pass on to every child call it causes."""
        return request_id_of(self.request)

    def path_id(self, name: str = "id") -> int:
        """A numeric id from the path; 400 naming the parameter when it is not one."""
        text = self.request.match_info[name]
        if not re.fullmatch(r"[0-9]{1,30}", text) or int(text) == 0:
            raise BadRequest(f"{name}: must be a positive integer, got {text[:100]!r}")
        return int(text)

    def path_name(self, name: str, pattern: str) -> str:
        """A name from the path; 400 naming the parameter when it breaks `pattern`."""
        text = self.request.match_info[name]
        if not re.fullmatch(pattern, text):
            raise BadRequest(f"{name}: {text[:300]!r} does not match {pattern}")
        return text


EndpointHandler = Callable[[Call[Any]], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: EndpointHandler
    summary: str
    tag: str
    roles: frozenset[Role] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    path_types: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        identity = None
        if self.roles is not None:
            identity = await request.app[AUTHENTICATOR].identify(request.headers)
            require_roles(identity, self.roles)
        body = await read_model(request, self.body) if self.body is not None else None
        return await self.handler(Call(request=request, identity=identity, body=body))


class EndpointTable:
    """The endpoints of one feature, added to the app together."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        roles: Iterable[Role] | None = None,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        path_types: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> Callable[[EndpointHandler], EndpointHandler]:
        def register(handler: EndpointHandler) -> EndpointHandler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tag=self.tag,
                    roles=None if roles is None else frozenset(roles),
                    body=body,
                    response=response,
                    status=status,
                    path_types=path_types or {},
                    query=query or {},
                )
            )
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, endpoint.serve)


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(text=model.model_dump_json(), status=status)
