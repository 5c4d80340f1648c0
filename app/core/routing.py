"""The route class every endpoint uses, made of small named pieces:

- `check_media_type`: the content type a body must have (415 otherwise);
- `TransactionalRoute.run`: one transaction per request, opened and committed here;
- the Idempotency-Key claim: a dependency each POST route declares
  (`app.core.idempotency.idempotent`); the route class refuses a POST route without it;
- `render_error` / `render_invalid`: how an error is written (the Open311 facade has its own);
- `documented_errors` / `documented_headers`: the error answers and the response headers each
  operation documents, from what it can do.

Services flush and never commit. The transaction commits before the response leaves, so a
client that reads right after a successful write sees it. An error rolls everything back
(unless the handler set `request.state.keep_writes`: a failed sign-in is remembered);
a business refusal (403, 404, 409) after an Idempotency-Key was claimed rolls back to the
savepoint taken after the claim, so the refusal itself is stored and replayed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from app.core import idempotency
from app.core.concurrency import check_preconditions, collecting_preconditions
from app.core.db import Outage, is_bad_value, is_unavailable
from app.core.direct import Handler, direct_handler, respond
from app.core.errors import (
    ApiError,
    Conflict,
    Invalid,
    NotFound,
    Unavailable,
    UnsupportedMediaType,
    api_error_response,
    invalid_values,
    unexpected_error_response,
)
from app.core.openapi import default_statuses, header_refs, problem_responses
from app.core.schemas import UNSTORABLE, UNSTORABLE_MESSAGE

logger = logging.getLogger("app.errors")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STORED_REFUSALS = frozenset({403, 404, 409})
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# --- Media type ------------------------------------------------------------------------


def accepted_media_types(route: APIRoute) -> tuple[str, ...] | None:
    """What a route's body may be sent as (None: it takes no body)."""
    if route.body_field is None:
        return None
    return FORM_TYPES if isinstance(route.body_field.field_info, params.Form) else JSON_TYPES


def check_parameters(request: Request) -> None:
    """Query and path parameters a text column could not hold (NUL...): 422 at the parameter,
    before any statement carries them."""
    for where, items in (
        ("query", request.query_params.multi_items()),
        ("path", list(request.path_params.items())),
    ):
        for name, value in items:
            if UNSTORABLE.search(name) or (isinstance(value, str) and UNSTORABLE.search(value)):
                raise Invalid([where, name], UNSTORABLE_MESSAGE)


def check_media_type(request: Request, accepted: tuple[str, ...]) -> None:
    length = request.headers.get("content-length")
    has_body = bool(length and length != "0") or "transfer-encoding" in request.headers
    if not has_body:
        return
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type in accepted or (accepted == JSON_TYPES and media_type.endswith("+json")):
        return
    raise UnsupportedMediaType(
        f"Content-Type must be {' or '.join(accepted)}, not {media_type or 'missing'}."
    )


# --- What a route's dependencies say about it ---------------------------------------------


def _after_preconditions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint, run once the preconditions its dependencies set (If-Match) hold: after
    the whole request, body included, is parsed and validated."""

    @functools.wraps(endpoint)
    async def checked(*args: Any, **kwargs: Any) -> Any:
        check_preconditions()
        return await endpoint(*args, **kwargs)

    return checked


def _depends_on(dependant: Dependant, predicate: Callable[[Dependant], bool]) -> bool:
    return predicate(dependant) or any(
        _depends_on(sub, predicate) for sub in dependant.dependencies
    )


def _takes_query_param(dependant: Dependant, name: str) -> bool:
    return _depends_on(dependant, lambda d: any(p.name == name for p in d.query_params))


def _declares(dependant: Dependant, marker: str) -> bool:
    """Some dependency of the route carries `marker` (the Idempotency-Key claim...)."""
    return _depends_on(dependant, lambda d: getattr(d.call, marker, False))


def _only_malformed_path_ids(exc: RequestValidationError) -> bool:
    errors = exc.errors()
    return bool(errors) and all(
        error.get("loc", ("",))[0] == "path" and error.get("type") == "uuid_parsing"
        for error in errors
    )


def add_routes(router: APIRouter, *routers: APIRouter) -> None:
    """The routers' routes, declared with their full paths, added to `router`'s own list in
    order. Not `include_router`: FastAPI (0.165) matches an included router's routes again at
    each level of inclusion (three passes over the problems' routes for one detail request,
    a tenth of its CPU); one flat list is matched once."""
    for each in routers:
        router.routes.extend(each.routes)


# What a read request leaves to write once its transaction is over (its access-log entry):
# given the request's database, written before the answer leaves.
DeferredWrite = Callable[[Any], Coroutine[Any, Any, None]]


async def write_deferred(database: Any, writes: list[DeferredWrite]) -> None:
    for write in writes:
        await write(database)


class TransactionalRoute(APIRoute):
    """`authenticated` routes document 401, 403 and 429; a subclass may render errors its
    own way (the Open311 facade and the console do). Every POST route must declare the
    dependency marked `post_marker`: the API's Idempotency-Key claim, the console's CSRF
    check."""

    authenticated = False
    post_marker = idempotency.CLAIMS_KEY
    post_requirement = "the Idempotency-Key claim (dependencies=[Idempotent])"
    # The route's 201 answer names the resource created in `Location` (the endpoint sets it).
    locates_created = False

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self.direct = False
        super().__init__(path, _after_preconditions(endpoint), **kwargs)
        if self.direct:
            self.app = respond(self.get_route_handler())
        if "POST" in (self.methods or ()) and not _declares(self.dependant, self.post_marker):
            raise TypeError(f"POST {path} must declare {self.post_requirement}.")
        for status, response in self.documented_errors().items():
            self.responses.setdefault(status, response)
        for status, headers in self.documented_headers().items():
            response = self.responses.setdefault(status, {})
            response["headers"] = {**response.get("headers", {}), **headers}

    # --- documented errors ---------------------------------------------------------------

    def documented_errors(self) -> dict[int | str, dict[str, Any]]:
        """The error answers this route documents in the OpenAPI document."""
        statuses = default_statuses(
            methods=self.methods or set(),
            path=self.path,
            has_body=self.body_field is not None,
            paginated=_takes_query_param(self.dependant, "cursor"),
            authenticated=self.authenticated,
        )
        return problem_responses(*statuses)

    def documented_headers(self) -> dict[int | str, dict[str, Any]]:
        """The headers this route's answers carry, by status: `ETag` with a versioned
        resource, `Location` with a 201, `Idempotent-Replayed` on the answers a POST stores."""
        success = self.status_code or 200
        headers: dict[int | str, list[str]] = {}
        model = self.response_model
        if isinstance(model, type) and "version" in getattr(model, "model_fields", {}):
            headers.setdefault(success, []).append("ETag")
        if success == 201 and self.locates_created:
            headers.setdefault(success, []).append("Location")
        if "POST" in (self.methods or ()) and _declares(self.dependant, idempotency.REPLAYS_ANSWER):
            for status in (success, *STORED_REFUSALS):
                if status == success or status in self.responses:
                    headers.setdefault(status, []).append("Idempotent-Replayed")
        return {status: header_refs(*names) for status, names in headers.items()}

    # --- error rendering -----------------------------------------------------------------

    def render_error(self, exc: ApiError, request: Request) -> Response:
        return api_error_response(exc)

    def render_invalid(self, exc: RequestValidationError, request: Request) -> Response | None:
        """A response for invalid input, or None to let the app's handler answer."""
        return None

    def render_unexpected(self, exc: Exception, request: Request) -> Response:
        """A failure of the server's own: logged with its traceback, told as a request id."""
        return unexpected_error_response(exc)

    # --- the transaction -----------------------------------------------------------------

    def get_route_handler(self) -> Handler:
        # Without FastAPI's dependency solving when it adds nothing (`app.core.direct`).
        handle = direct_handler(self.dependant, self.endpoint)
        self.direct = handle is not None
        if handle is None:
            handle = super().get_route_handler()
        accepted = accepted_media_types(self)

        async def transactional_handler(request: Request) -> Response:
            try:
                check_parameters(request)
                if accepted is not None:
                    check_media_type(request, accepted)
            except ApiError as exc:
                return self.render_error(exc, request)
            database = request.app.state.database
            outage: Outage = request.app.state.outage
            write = request.method in WRITE_METHODS
            try:
                with collecting_preconditions():
                    async with database.session(write=write) as session:
                        request.state.session = session
                        request.state.idempotency = None
                        response = await self.run(handle, request, session)
                    if deferred := getattr(request.state, "deferred_writes", None):
                        await write_deferred(database, deferred)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                outage.failed(exc)
                return self.render_error(Unavailable(), request)
            outage.recovered()
            return response

        return transactional_handler

    async def run(self, handle: Handler, request: Request, session: AsyncSession) -> Response:
        """Answer the request in its transaction: commit a success with its stored
        Idempotency-Key answer, roll back anything else."""
        try:
            response = await handle(request)
        except idempotency.Replay as replay:
            await session.rollback()
            return replay.response()
        except IntegrityError as exc:
            # A uniqueness race the service's own checks could not see: a state conflict.
            await session.rollback()
            logger.info("integrity error turned into 409", exc_info=exc)
            return await self.refuse(
                request, session, Conflict("This conflicts with a stored record.")
            )
        except (StatementError, OverflowError) as exc:
            if is_unavailable(exc):
                raise  # 503, answered by the handler once the session is let go
            if not is_bad_value(exc):
                await session.rollback()
                return self.render_unexpected(exc, request)
            # A value the schema let through but the column cannot hold: still bad input.
            # Logged by its class only: the statement's text may quote the value.
            await session.rollback()
            logger.warning("a value the database refused turned into 422: %s", type(exc).__name__)
            return self.render_error(Invalid(["body"], "a value does not fit its field"), request)
        except ApiError as exc:
            return await self.refuse(request, session, exc)
        except ValidationError as exc:
            await session.rollback()
            return self.render_error(invalid_values(exc), request)
        except RequestValidationError as exc:
            await session.rollback()
            if _only_malformed_path_ids(exc):
                # Ids are opaque: one that cannot exist is simply not found.
                return self.render_error(NotFound("No such resource."), request)
            if (rendered := self.render_invalid(exc, request)) is not None:
                return rendered
            raise
        except HTTPException:
            await session.rollback()
            raise
        except Exception as exc:
            if is_unavailable(exc):
                raise
            await session.rollback()
            return self.render_unexpected(exc, request)
        if getattr(request.state, "no_store", False):
            response.headers["Cache-Control"] = "no-store"  # police data (app.governance)
        if response.status_code >= 400 and not getattr(request.state, "keep_writes", False):
            await session.rollback()
            return response
        held: idempotency.Claim | None = request.state.idempotency
        if held is not None:
            await idempotency.remember(session, held, response)
        await session.commit()
        return response

    async def refuse(self, request: Request, session: AsyncSession, exc: ApiError) -> Response:
        """A business refusal: stored for its Idempotency-Key when it is one of those the
        contract replays, everything else rolled back."""
        response = self.render_error(exc, request)
        held: idempotency.Claim | None = request.state.idempotency
        if held is not None and exc.status in STORED_REFUSALS and held.savepoint.is_active:
            await held.savepoint.rollback()
            await idempotency.remember(session, held, response)
            await session.commit()
        else:
            await session.rollback()
        return response
