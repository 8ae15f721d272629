"""Base classes of every request and answer model, and the models of the node's own endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class RequestModel(BaseModel):
    """A request body: unknown fields are refused and values are never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PatchModel(RequestModel):
    """A partial update: any subset of fields, at least one, none of them null."""

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data:
            raise ValueError("give at least one field to change")
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Only fields that were sent are validated, so an omitted field stays unset.
        if value is None:
            raise ValueError("must not be null; leave the field out to keep it")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The schema as validated: no field may be null, and at least one must be given."""
        schema = handler(core_schema)
        described = handler.resolve_ref_schema(schema)
        described["minProperties"] = 1
        for prop in described.get("properties", {}).values():
            _drop_null(prop)
        return schema


def _drop_null(prop: dict[str, Any]) -> None:
    """`{"anyOf": [X, {"type": "null"}], "default": null}` as it is validated: just X."""
    if prop.get("default", ...) is None:
        del prop["default"]
    choices = [choice for choice in prop.get("anyOf", []) if choice != {"type": "null"}]
    if "anyOf" in prop:
        del prop["anyOf"]
        if len(choices) == 1:
            prop.update(choices[0])
        else:
            prop["anyOf"] = choices


class ResponseModel(BaseModel):
    """An answer; extra fields may be added later without breaking clients."""

    model_config = ConfigDict(frozen=True)


class WorkerHealth(ResponseModel):
    """Which worker process answered, and whether it is the one following the children."""

    pid: int
    follows_children: bool


class Health(ResponseModel):
    status: str
    worker: WorkerHealth


class Problem(ResponseModel):
    """RFC 9457 problem details, the shape of every error."""

    type: str
    title: str
    status: int
    detail: str
