"""Routes answered without FastAPI's per-request machinery, when nothing of it is needed.

FastAPI solves a route's dependencies anew at every request (`solve_dependencies`: a
recursive walk that builds a sub-response, caches and dicts for every node) and runs the
endpoint inside two exit stacks, for dependencies with `yield` and uploaded files. For a
route whose endpoint returns its own `Response` and takes no body, every dependency being a
plain `async` function of the request, path, query, header or cookie parameters (or of
such dependencies), that work is fixed at start-up: the plan below calls the same functions
in the same order, validates the parameters with FastAPI's own `request_params_to_args`, and
raises the same `RequestValidationError`. The walk and the stacks were an eighth of a
problem's detail read. Any other route (a body, a `yield`, `Response` or `BackgroundTasks`
parameters, security scopes, a model to serialise) keeps FastAPI's handler.

The OpenAPI document is unchanged: it is built from the same declared route. What FastAPI
offers that no route of this service uses is left out: `app.dependency_overrides` (the
tests use real dependencies), a route's own `max_body_size`, the telemetry of a failed
validation.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# A dependant's values for one request: given the request, the values already solved (by
# their function: FastAPI's cache without security scopes) and the errors met so far.
Solve = Callable[[Request, dict[Any, Any], list[Any]], Awaitable[dict[str, Any]]]


def _is_async_function(call: Any) -> bool:
    if inspect.isroutine(call):
        return inspect.iscoroutinefunction(call)
    # An instance whose `__call__` is async (`app.access.Requires`).
    return callable(call) and inspect.iscoroutinefunction(type(call).__call__)


def _plan(dependant: Dependant) -> Solve | None:
    """How to solve `dependant` without FastAPI, or None when it needs more than a plan
    does: what FastAPI would give it besides the request and its parameters."""
    if (
        dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.own_oauth_scopes
        or dependant.concurrency is not None
    ):
        return None
    subs: list[tuple[str | None, Any, Solve]] = []
    for sub in dependant.dependencies:
        call = sub.call
        if call is None or not sub.use_cache or not _is_async_function(call):
            return None  # a `yield` dependency, a plain function (a thread hop)...
        plan = _plan(sub)
        if plan is None:
            return None
        subs.append((sub.name, call, plan))
    sources: list[tuple[list[Any], Callable[[Request], Any]]] = [
        (fields, source)
        for fields, source in (
            (dependant.path_params, lambda request: request.path_params),
            (dependant.query_params, lambda request: request.query_params),
            (dependant.header_params, lambda request: request.headers),
            (dependant.cookie_params, lambda request: request.cookies),
        )
        if fields
    ]
    request_name = dependant.request_param_name

    async def solve(request: Request, solved: dict[Any, Any], errors: list[Any]) -> dict[str, Any]:
        # As `solve_dependencies`: sub-dependencies first, in order, each called once a
        # request; one whose own parameters fail is not called, and the errors add up.
        values: dict[str, Any] = {}
        for name, call, plan in subs:
            if call in solved:
                value = solved[call]
            else:
                failed = len(errors)
                arguments = await plan(request, solved, errors)
                if len(errors) > failed:
                    continue
                value = solved[call] = await call(**arguments)
            if name is not None:
                values[name] = value
        for fields, source in sources:
            found, wrong = request_params_to_args(fields, source(request))
            values.update(found)
            errors.extend(wrong)
        if request_name is not None:
            values[request_name] = request
        return values

    return solve


def _returns_response(endpoint: Callable[..., Any]) -> bool:
    original = inspect.unwrap(endpoint)
    try:
        returned = typing.get_type_hints(original).get("return")
    except (NameError, TypeError):
        return False
    return isinstance(returned, type) and issubclass(returned, Response)


def direct_handler(dependant: Dependant, endpoint: Callable[..., Any]) -> Handler | None:
    """The request handler of a route FastAPI's machinery adds nothing to, else None."""
    call = dependant.call
    if call is None or not _is_async_function(call) or not _returns_response(endpoint):
        return None
    solve = _plan(dependant)
    if solve is None:
        return None

    async def handle(request: Request) -> Response:
        errors: list[Any] = []
        values = await solve(request, {}, errors)
        if errors:
            raise RequestValidationError(errors, body=None)
        response: Response = await call(**values)
        return response

    return handle


def respond(handle: Handler) -> ASGIApp:
    """The ASGI application of a direct handler: FastAPI's `request_response` without the
    exit stacks no direct route uses; the app's exception handlers still apply."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            response = await handle(request)
            await response(scope, receive, send)

        await wrap_app_handling_exceptions(answer, request)(scope, receive, send)

    return app
