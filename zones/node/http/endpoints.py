"""Declared endpoints: one table that both serves the routes and describes them in OpenAPI.

Each feature module fills an `EndpointTable` with decorated handlers. The
declaration says who may call (roles), the rule of each path parameter, which
pydantic model the body must satisfy, which model the answer follows and which
errors the handler itself may raise. The wrapper checks credentials, then
roles, then the path parameters, then reads the body, so the order of refusals
is always 401, 403, 400; the same declaration feeds `zones.node.http.openapi`,
so the description cannot drift from what the server accepts.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel

from zones.errors import BadRequest, Unauthorized, ZonesError
from zones.node.http.body import read_model
from zones.node.http.callers import AUTHENTICATOR, Identity, Role, require_roles
from zones.node.http.request_ids import request_id_of

BodyT = TypeVar("BodyT")
# The id column holds less; a longer number is refused before it is looked up.
MAX_ID_DIGITS = 30


class PathRule(Protocol):
    """What one path parameter must be: the check the server makes, the schema it shows."""

    def check(self, name: str, text: str) -> None:
        """Raise BadRequest naming `name` when `text` breaks the rule."""

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the parameter in `/openapi.json`."""


@dataclass(frozen=True)
class NamePattern:
    """A path segment that must match a regular expression (a name, a UUID)."""

    pattern: str

    def check(self, name: str, text: str) -> None:
        if not re.fullmatch(self.pattern, text):
            raise BadRequest(f"{name}: {text[:300]!r} does not match {self.pattern}")

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": self.pattern}


@dataclass(frozen=True)
class PositiveId:
    """A path segment that must be a positive integer of at most `MAX_ID_DIGITS` digits."""

    def check(self, name: str, text: str) -> None:
        if not re.fullmatch(rf"[0-9]{{1,{MAX_ID_DIGITS}}}", text) or int(text) == 0:
            raise BadRequest(f"{name}: must be a positive integer, got {text[:100]!r}")

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "maximum": 10**MAX_ID_DIGITS - 1}


POSITIVE_ID = PositiveId()


@dataclass(frozen=True)
class QueryParameter:
    """A query parameter as documented: what it means, its JSON schema, whether it is required
    (the handler reads and checks it; a bare description stands for an optional string)."""

    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


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
        POSITIVE_ID.check(name, text)
        return int(text)

    def path_name(self, name: str, pattern: str) -> str:
        """A name from the path; 400 naming the parameter when it breaks `pattern`."""
        text = self.request.match_info[name]
        NamePattern(pattern).check(name, text)
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
    path_rules: Mapping[str, PathRule] = field(default_factory=dict)
    query: Mapping[str, str | QueryParameter] = field(default_factory=dict)
    # Errors the handler raises beyond those its declaration implies (see openapi.py).
    errors: tuple[type[ZonesError], ...] = ()
    # Other answers than `status` that are not errors (304 to a revalidation), described.
    answers: Mapping[int, str] = field(default_factory=dict)
    content_type: str = "application/json"

    async def serve(self, request: web.Request) -> web.StreamResponse:
        identity = None
        if self.roles is not None:
            identity = await request.app[AUTHENTICATOR].identify(request.headers)
            require_roles(identity, self.roles)
        for name, rule in self.path_rules.items():
            rule.check(name, request.match_info[name])
        body = await read_model(request, self.body) if self.body is not None else None
        return await self.handler(Call(request=request, identity=identity, body=body))


def path_parameter_names(route_path: str) -> list[str]:
    """The parameters of `/zones/{id:regex}/detail`: `["id"]`."""
    return re.findall(r"{(\w+)(?::[^}]*)?}", route_path)


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
        path_rules: Mapping[str, PathRule] | None = None,
        query: Mapping[str, str | QueryParameter] | None = None,
        errors: Iterable[type[ZonesError]] = (),
        answers: Mapping[int, str] | None = None,
        content_type: str = "application/json",
    ) -> Callable[[EndpointHandler], EndpointHandler]:
        rules = dict(path_rules or {})
        if sorted(rules) != sorted(path_parameter_names(path)):
            raise ValueError(f"{method} {path}: give a rule for each path parameter, no other")

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
                    path_rules=rules,
                    query=dict(query or {}),
                    errors=tuple(errors),
                    answers=dict(answers or {}),
                    content_type=content_type,
                )
            )
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, endpoint.serve)


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(text=model.model_dump_json(), status=status)
