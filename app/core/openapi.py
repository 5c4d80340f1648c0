"""The OpenAPI document: the error responses and headers every operation documents, derived
from what the route can do, and the post-processing that completes FastAPI's output (shared
models and headers, the glossary's descriptions and examples)."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from app.core.errors import PROBLEM_JSON
from app.core.glossary import document


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description="Where the error is: `body`, `query`, `path` or `header`, then the field.",
        examples=[["body", "title"]],
    )
    msg: str = Field(description="What is wrong with it.", examples=["Field required"])


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(
        description="A URN naming the kind of error, stable for clients to test.",
        examples=["urn:gpo:problem:not-found"],
    )
    title: str = Field(description="The HTTP status' reason phrase.", examples=["Not Found"])
    status: int = Field(description="The HTTP status code, repeated.", examples=[404])
    detail: str = Field(
        description="What went wrong with this request, for people.",
        examples=["No such problem."],
    )
    request_id: str | None = Field(
        description="The request's `X-Request-ID`, to find it in the server's log.",
        examples=["5f0c7f4e9a2b4f1d8c3e6a7b9d0e1f2a"],
    )
    errors: list[FieldError] | None = Field(
        default=None, description="For 422: every field at fault.", examples=[None]
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
# The response headers the API sends, described once and referenced where they are sent.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: the one the client sent in `X-Request-ID`, or one "
        "made for it. Every log line about the request carries it.",
        "schema": {"type": "string"},
        "example": "5f0c7f4e9a2b4f1d8c3e6a7b9d0e1f2a",
    },
    "ETag": {
        "description": "The resource's `version` as a strong entity tag; send it back in "
        "`If-Match` to change the resource only if nobody else did.",
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
        "example": '"3"',
    },
    "Location": {
        "description": "The URL of the resource created. A comment, a review or a "
        "measurement has none of its own: then where it is listed (the problem's comments, "
        "its timeline, the indicator).",
        "required": True,
        "schema": {"type": "string", "format": "uri-reference"},
        "example": "/api/v1/problems/5d1a7c3e-2b4f-4c6a-9e8d-7f6a5b4c3d2e",
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same `Idempotency-Key`, replayed without running the operation again.",
        "schema": {"type": "string", "enum": ["true"]},
        "example": "true",
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with: `Bearer`.",
        "schema": {"type": "string"},
        "example": "Bearer",
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
        "example": 30,
    },
}
_ERROR_HEADERS = {401: "WWW-Authenticate", 429: "Retry-After"}


def header_refs(*names: str) -> dict[str, dict[str, str]]:
    """A response's `headers`, each a reference to its description in `HEADERS`."""
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        if status in _ERROR_HEADERS:
            response["headers"] = header_refs(_ERROR_HEADERS[status])
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


# Marks the dependency that reads the bearer token itself: the operations that depend on it
# declare the scheme, as FastAPI declares it for a `SecurityBase` dependency.
READS_BEARER = "reads_bearer_token"


def _reads_bearer(dependant: Dependant) -> bool:
    return getattr(dependant.call, READS_BEARER, False) or any(
        _reads_bearer(sub) for sub in dependant.dependencies
    )


def document_bearer(schema: dict[str, Any], routes: list[Any], scheme: SecurityBase) -> None:
    """`security` on every operation whose route reads the bearer token, and the scheme."""
    name = scheme.scheme_name
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        if _reads_bearer(route.dependant):
            for method in route.methods or ():
                schema["paths"][route.path_format][method.lower()]["security"] = [{name: []}]
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[name] = scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)


def install_openapi(
    app: FastAPI,
    *,
    description: str,
    bearer: SecurityBase,
    extra_models: tuple[type[BaseModel], ...] = (),
) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = copy.deepcopy(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    openapi_version="3.1.0",
                    description=description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                )
            )
            document_bearer(schema, app.routes, bearer)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            models: list[type[BaseModel]] = [FieldError, ProblemDetails, *extra_models]
            _, definitions = models_json_schema(
                [(model, "serialization") for model in models],
                ref_template="#/components/schemas/{model}",
            )
            components.update(definitions["$defs"])
            # FastAPI's own 422 shape: never sent, every route renders its errors its own way.
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
                _drop_responses_referring_to(schema, f"#/components/schemas/{name}")
            schema["components"]["headers"] = HEADERS
            _document_request_id(schema)
            document(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for path in schema.get("paths", {}).values() for operation in path.values()]


def _drop_responses_referring_to(schema: dict[str, Any], ref: str) -> None:
    marker = f"'$ref': '{ref}'"
    for operation in _operations(schema):
        responses = operation["responses"]
        for status in [status for status, response in responses.items() if marker in str(response)]:
            del responses[status]


def _document_request_id(schema: dict[str, Any]) -> None:
    """Every answer carries `X-Request-ID` (the request-context middleware sets it)."""
    for operation in _operations(schema):
        for response in operation["responses"].values():
            response.setdefault("headers", {}).update(header_refs("X-Request-ID"))
