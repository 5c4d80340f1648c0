"""The error responses every operation documents, derived from what the route can do."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from app.core.errors import PROBLEM_JSON
from app.core.glossary import document


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description="Where the error is: `body`, `query`, `path` or `header`, then the field.",
        examples=[["body", "title"]],
    )
    msg: str = Field(examples=["Field required"])


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["urn:gpo:problem:not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No such problem."])
    request_id: str | None = Field(examples=["5f0c7f4e9a2b4f1d8c3e6a7b9d0e1f2a"])
    errors: list[FieldError] | None = Field(
        default=None, description="For 422: every field at fault."
    )


DESCRIPTIONS = {
    400: "The cursor is forged, or was made for another sort or other filters.",
    401: "Missing, invalid, expired or revoked token (`WWW-Authenticate: Bearer`).",
    403: "Authenticated, but not allowed to do this to a resource it may see.",
    404: "No such resource, or one the caller may not see.",
    409: "Refused by the state of the record (illegal transition, already done, "
    "Idempotency-Key in use).",
    412: "`If-Match` does not match the stored version; nothing was written.",
    413: "The body is over 1 MiB.",
    415: "The body is not JSON (`Content-Type: application/json`).",
    422: "A body field, query parameter or header is invalid; `errors` names each.",
    429: "Too many requests for this token; retry after `Retry-After` seconds.",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        responses[status] = response
    return responses


def default_statuses(
    *, methods: set[str], path: str, has_body: bool, paginated: bool, authenticated: bool
) -> list[int]:
    statuses = [422]
    if authenticated:
        statuses += [401, 403, 429]
    if "{" in path or methods & {"POST", "PATCH", "DELETE"}:
        statuses.append(404)
    if paginated:
        statuses.append(400)
    if methods & {"POST", "PATCH", "DELETE"}:
        statuses.append(409)
    if methods & {"PATCH", "DELETE"} or ("POST" in methods and "{" in path):
        statuses.append(412)
    if has_body:
        statuses += [413, 415]
    return sorted(statuses)


def install_openapi(
    app: FastAPI, *, description: str, extra_models: tuple[type[BaseModel], ...] = ()
) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version="3.1.0",
                description=description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            models: list[type[BaseModel]] = [FieldError, ProblemDetails, *extra_models]
            _, definitions = models_json_schema(
                [(model, "serialization") for model in models],
                ref_template="#/components/schemas/{model}",
            )
            components.update(definitions["$defs"])
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            document(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
