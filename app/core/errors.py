"""RFC 9457 problem details: the one shape every error of the API takes."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.requests import current_request_id

PROBLEM_JSON = "application/problem+json"
UNPARSEABLE_BODY = "There was an error parsing the body"
logger = logging.getLogger("app.errors")

Loc = Sequence[str | int]


class ApiError(Exception):
    """An error the client is told about; services raise these, never HTTP responses."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[tuple[Loc, str]] = (),
        headers: dict[str, str] | None = None,
        fr: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = [{"loc": list(loc), "msg": msg} for loc, msg in errors]
        self.headers = headers or {}
        # What the console tells a person, in French (the API's detail is English).
        self.fr = fr


class BadRequest(ApiError):
    status, slug, title = 400, "bad-request", "Bad Request"


class Unauthorized(ApiError):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="gpo"'})


class SeeOther(ApiError):
    """Not an error: the console sends a person elsewhere (to sign in, say)."""

    status, slug, title = 303, "see-other", "See Other"

    def __init__(self, location: str) -> None:
        super().__init__(f"See {location}", headers={"Location": location})
        self.location = location


class Forbidden(ApiError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(ApiError):
    status, slug, title = 404, "not-found", "Not Found"


class Conflict(ApiError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(ApiError):
    status, slug, title = 412, "precondition-failed", "Precondition Failed"


class PayloadTooLarge(ApiError):
    status, slug, title = 413, "payload-too-large", "Content Too Large"


class UnsupportedMediaType(ApiError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported Media Type"


class Invalid(ApiError):
    """A request field that is well-formed but wrong (unknown code, inconsistent values)."""

    status, slug, title = 422, "validation-error", "Unprocessable Content"

    def __init__(self, loc: Loc, msg: str, *, fr: str | None = None) -> None:
        super().__init__(msg, errors=[(loc, msg)], fr=fr)
        self.loc = list(loc)


def invalid_values(exc: ValidationError) -> Invalid:
    """A model a service built from the client's values refused them (Open311's form fields
    made into a report): the same 422 as a body that failed validation."""
    errors = [(list(error["loc"]), str(error["msg"])) for error in exc.errors()]
    invalid = Invalid(errors[0][0] if errors else [], errors[0][1] if errors else "invalid")
    invalid.errors = [{"loc": loc, "msg": msg} for loc, msg in errors]
    invalid.detail = "; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in errors)
    return invalid


class TooManyRequests(ApiError):
    status, slug, title = 429, "rate-limited", "Too Many Requests"


# How long a client should wait before retrying while the database is unreachable.
UNAVAILABLE_RETRY_AFTER = 5


class Unavailable(ApiError):
    """The database cannot be reached or does not answer in time: retry later."""

    status, slug, title = 503, "unavailable", "Service Unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The database is unavailable; retry in a few seconds.",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
            fr="La base de données ne répond pas : réessayez dans quelques secondes.",
        )


def problem_body(
    status: int,
    *,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:gpo:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": current_request_id(),
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    status: int,
    *,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(status, slug=slug, title=title, detail=detail, errors=errors)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def api_error_response(exc: ApiError) -> JSONResponse:
    errors = exc.errors if exc.errors or exc.status == 422 else None
    return problem_response(
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=errors,
        headers=exc.headers,
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        loc = [part for part in error.get("loc", ()) if isinstance(part, str | int)]
        msg = str(error.get("msg", "invalid value"))
        if error.get("type") == "json_invalid":
            loc, msg = ["body"], "Malformed JSON: " + str(error.get("ctx", {}).get("error", msg))
        errors.append({"loc": loc, "msg": msg})
    return errors


def _summary(errors: list[dict[str, Any]]) -> str:
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"]) or "request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


async def _on_api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return api_error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    return problem_response(
        422,
        slug="validation-error",
        title="Unprocessable Content",
        detail=_summary(errors),
        errors=errors,
    )


_KNOWN = {cls.status: cls for cls in ApiError.__subclasses__()}


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Errors raised by the framework itself (unknown route, method, body limit)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == UNPARSEABLE_BODY:
        # FastAPI's answer to a body that is not even text (bad UTF-8, say).
        return problem_response(
            422,
            slug="validation-error",
            title="Unprocessable Content",
            detail="body: the body could not be parsed as JSON",
            errors=[{"loc": ["body"], "msg": "the body could not be parsed as JSON"}],
        )
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
    known = _KNOWN.get(exc.status_code)
    title = known.title if known else HTTPStatus(exc.status_code).phrase
    slug = known.slug if known else title.lower().replace(" ", "-")
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404:
        detail = "No such resource."
    return problem_response(exc.status_code, slug=slug, title=title, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> set[str]:
    """The methods the OpenAPI document gives for this path (what the app serves)."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        request.app.state, "allowed_methods", None
    )
    if table is None:
        table = []
        for template, operations in request.app.openapi().get("paths", {}).items():
            pattern = re.escape(template)
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
            table.append((re.compile(f"^{pattern}$"), {m.upper() for m in operations}))
        request.app.state.allowed_methods = table
    path = request.scope["path"]
    return {method for pattern, methods in table if pattern.match(path) for method in methods}


def unexpected_error_response(exc: BaseException) -> JSONResponse:
    """Log the failure with its traceback; tell the client only the request id."""
    logger.error("unhandled error", exc_info=exc)
    return problem_response(
        500,
        slug="internal-error",
        title="Internal Server Error",
        detail="The server failed to answer; the request id identifies it in the logs.",
    )


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    return unexpected_error_response(exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
