"""The OpenAPI 3.1 document, generated from the endpoint tables and their pydantic models.

Every route the app serves is declared in an `EndpointTable`, and the request
models here are the very ones that validate bodies, so the description cannot
drift from what the server accepts. Each operation lists every status it can
answer and no other: its success, the errors its declaration implies (401 and
403 with roles; 400, 408 and 413 with a body; 400 with path or query parameters;
503 where the database is read), the errors its handler declares, and those of
`?zone=NAME`, which every path takes (zones.router.reaching.relay).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import zones
from zones.errors import (
    BadRequest,
    ChildError,
    ChildTimeout,
    Forbidden,
    LoopDetected,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
    Unavailable,
    ZonesError,
)
from zones.node.fields import ZONE_NAME_PATTERN
from zones.node.http.endpoints import Endpoint, QueryParameter
from zones.node.http.schemas import Problem

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_DESCRIPTIONS = {
    400: "Malformed or invalid input; the detail names the field",
    401: "Missing, bad or expired credentials",
    403: "The caller's role may not do this",
    404: "No such thing, or no zone of that name below",
    408: "The body did not arrive within the zone's body timeout",
    409: "Conflict with what is stored",
    413: "Body over the size limit",
    502: "A child could not be reached or answered with an error",
    503: "Not now: the database cannot be reached, or what should answer is down; ask again",
    504: "A child did not answer in time",
    508: "The request came back to a zone it had crossed",
}
# `?zone=NAME` is served by the relay before any endpoint: it is on every path.
ZONE_PARAMETER = "zone"
REACHING_ERRORS: tuple[type[ZonesError], ...] = (
    BadRequest,
    NotFound,
    ChildError,
    ChildTimeout,
    LoopDetected,
)


def build_openapi(endpoints: Iterable[Endpoint], server_url: str) -> dict[str, Any]:
    endpoints = list(endpoints)
    schemas = _component_schemas(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(openapi_path(endpoint.path), {})[endpoint.method.lower()] = _operation(
            endpoint
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "zones", "version": zones.__version__},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "authToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
            },
        },
    }


def openapi_path(route_path: str) -> str:
    """`/zones/{id:regex}` as OpenAPI writes it: `/zones/{id}`."""
    return re.sub(r"{(\w+):[^}]*}", r"{\1}", route_path)


def error_statuses(endpoint: Endpoint) -> set[int]:
    """Every error status `endpoint` can answer, by its declaration and `?zone=`."""
    raised: set[type[ZonesError]] = {*REACHING_ERRORS, *endpoint.errors}
    if endpoint.roles is not None:
        # A role check verifies a token; what follows reads the database.
        raised |= {Unauthorized, Forbidden, Unavailable}
    if endpoint.body is not None:
        raised |= {BadRequest, RequestTimeout, PayloadTooLarge, Unavailable}
    if endpoint.path_rules or endpoint.query:
        raised.add(BadRequest)
    return {error.status for error in raised}


def _component_schemas(endpoints: list[Endpoint]) -> dict[str, Any]:
    models: set[type[BaseModel]] = {Problem}
    for endpoint in endpoints:
        models.update(model for model in (endpoint.body, endpoint.response) if model)
    inputs: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (model, "validation") for model in sorted(models, key=lambda m: m.__name__)
    ]
    _, top = models_json_schema(inputs, ref_template=REF_TEMPLATE)
    return dict(top.get("$defs", {}))


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": endpoint.handler.__name__,
        "tags": [endpoint.tag],
        "parameters": _parameters(endpoint),
        "responses": _responses(endpoint),
    }
    if endpoint.roles is not None:
        operation["security"] = [{"bearer": []}, {"authToken": []}]
        operation["description"] = "Roles: " + ", ".join(sorted(endpoint.roles))
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(endpoint.body)}},
        }
    return operation


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": rule.schema()}
        for name, rule in endpoint.path_rules.items()
    ]
    parameters += [_query_parameter(name, spec) for name, spec in endpoint.query.items()]
    parameters.append(
        {
            "name": ZONE_PARAMETER,
            "in": "query",
            "required": False,
            "description": "serve this at the zone of that name in this zone's subtree",
            "schema": {"type": "string", "pattern": ZONE_NAME_PATTERN},
        }
    )
    return parameters


def _query_parameter(name: str, spec: str | QueryParameter) -> dict[str, Any]:
    if isinstance(spec, str):
        spec = QueryParameter(spec)
    parameter = {
        "name": name,
        "in": "query",
        "required": spec.required,
        "description": spec.description,
        "schema": dict(spec.schema),
    }
    if name == "filters":  # stands for free-form parameters, each one condition
        parameter |= {
            "schema": {"type": "object", "additionalProperties": {"type": "string"}},
            "style": "form",
            "explode": True,
        }
    return parameter


def _responses(endpoint: Endpoint) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "Success"}
    if endpoint.response is not None:
        success["content"] = {endpoint.content_type: {"schema": _ref(endpoint.response)}}
    elif endpoint.status != 204:
        shape = "object" if endpoint.content_type == "application/json" else "string"
        success["content"] = {endpoint.content_type: {"schema": {"type": shape}}}
    responses: dict[str, Any] = {str(endpoint.status): success}
    responses |= {str(status): {"description": text} for status, text in endpoint.answers.items()}
    problem = {"application/problem+json": {"schema": _ref(Problem)}}
    for status in sorted(error_statuses(endpoint)):
        responses[str(status)] = {"description": ERROR_DESCRIPTIONS[status], "content": problem}
    return responses
