"""The OpenAPI 3.1 document, generated from the endpoint tables and their pydantic models.

Every route the app serves is declared in an `EndpointTable`, and the request
models here are the very ones that validate bodies, so the description cannot
drift from what the server accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import zones
from zones.node.http.endpoints import Endpoint
from zones.node.http.schemas import Problem

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_STATUSES = {
    "400": "Malformed or invalid input; the detail names the field",
    "401": "Missing, bad or expired credentials",
    "403": "The caller's role may not do this",
    "404": "No such thing",
    "409": "Conflict with what is stored",
    "413": "Body over the size limit",
}


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
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": endpoint.path_types.get(name, "string")},
        }
        for name in re.findall(r"{(\w+)}", openapi_path(endpoint.path))
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": text,
            # "filters" stands for free-form parameters, each one condition.
            "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            if name == "filters"
            else {"type": "string"},
            **({"style": "form", "explode": True} if name == "filters" else {}),
        }
        for name, text in endpoint.query.items()
    ]
    return parameters


def _responses(endpoint: Endpoint) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "Success"}
    if endpoint.response is not None:
        success["content"] = {"application/json": {"schema": _ref(endpoint.response)}}
    responses = {str(endpoint.status): success}
    problem = {"application/problem+json": {"schema": _ref(Problem)}}
    for status, text in ERROR_STATUSES.items():
        if _may_answer(endpoint, status):
            responses[status] = {"description": text, "content": problem}
    return responses


def _may_answer(endpoint: Endpoint, status: str) -> bool:
    if status in ("401", "403"):
        return endpoint.roles is not None
    if status == "413":
        return endpoint.body is not None
    if status == "400":
        return endpoint.body is not None or "{" in endpoint.path
    if status == "404":
        return "{" in endpoint.path
    return endpoint.method in ("POST", "PUT")
