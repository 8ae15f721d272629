"""Reading a request body into its pydantic model, with errors that name the field."""

from __future__ import annotations

import json
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from zones.errors import BadRequest
from zones.node.http.server import read_body

ModelT = TypeVar("ModelT", bound=BaseModel)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise BadRequest("body: a JSON object is required")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise BadRequest("body: not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"body: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:
        raise BadRequest(f"body: malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("body: JSON nested too deeply") from exc
    if not isinstance(data, dict):
        raise BadRequest(f"body: must be a JSON object, not {type(data).__name__}")
    return data


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        errors.append({"field": field, "message": message})
    return errors


def validate_model(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    """Validate strictly (no "1" for 1, no 1 for true); the 400 detail names each bad field."""
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        errors = field_errors(exc)
        detail = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
        raise BadRequest(detail, errors=errors) from exc


async def read_model(request: web.Request, model: type[ModelT]) -> ModelT:
    return validate_model(model, parse_json_object(await read_body(request)))
