"""The route class every endpoint uses: one transaction per request, opened and committed here.

Services flush and never commit. The transaction commits before the response leaves, so a
client that reads right after a successful write sees it. An error rolls everything back;
a business refusal (403, 404, 409) after an Idempotency-Key was claimed rolls back to the
savepoint taken after the claim, so the refusal itself is stored and replayed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from app.core import idempotency
from app.core.errors import (
    ApiError,
    Conflict,
    Invalid,
    NotFound,
    UnsupportedMediaType,
    api_error_response,
    unexpected_error_response,
)
from app.core.openapi import default_statuses, problem_responses

logger = logging.getLogger("app.errors")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STORED_REFUSALS = frozenset({403, 404, 409})
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

OwnerDependency = Callable[..., Awaitable[uuid.UUID]]


def get_session(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.session
    return session


DbSession = Annotated[AsyncSession, Depends(get_session)]


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return bool(length and length != "0") or "transfer-encoding" in request.headers


def _check_content_type(request: Request, accepted: tuple[str, ...]) -> None:
    if not _has_body(request):
        return
    media_type = _media_type(request)
    if media_type in accepted or (accepted == JSON_TYPES and media_type.endswith("+json")):
        return
    raise UnsupportedMediaType(
        f"Content-Type must be {' or '.join(accepted)}, not {media_type or 'missing'}."
    )


def _only_malformed_path_ids(exc: RequestValidationError) -> bool:
    errors = exc.errors()
    return bool(errors) and all(
        error.get("loc", ("",))[0] == "path" and error.get("type") == "uuid_parsing"
        for error in errors
    )


def _takes_query_param(dependant: Dependant, name: str) -> bool:
    return any(p.name == name for p in dependant.query_params) or any(
        _takes_query_param(sub, name) for sub in dependant.dependencies
    )


class TransactionalRoute(APIRoute):
    """Subclassed with `owner` set: the dependency naming who owns an Idempotency-Key.

    A subclass may also render errors its own way (the Open311 facade does).
    """

    owner: OwnerDependency | None = None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        if "POST" in methods and self.owner is not None:
            kwargs["dependencies"] = [
                *(kwargs.get("dependencies") or []),
                Depends(_claim_dependency(self.owner)),
            ]
        super().__init__(path, endpoint, **kwargs)
        for status, response in self.error_responses(methods, path).items():
            self.responses.setdefault(status, response)

    def error_responses(self, methods: set[str], path: str) -> dict[int | str, dict[str, Any]]:
        """The error answers this route documents in the OpenAPI document."""
        statuses = default_statuses(
            methods=methods,
            path=path,
            has_body=self.body_field is not None,
            paginated=_takes_query_param(self.dependant, "cursor"),
            authenticated=self.owner is not None,
        )
        return problem_responses(*statuses)

    def render_error(self, exc: ApiError) -> Response:
        return api_error_response(exc)

    def render_invalid(self, exc: RequestValidationError) -> Response | None:
        """A response for invalid input, or None to let the app's handler answer."""
        return None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        accepted: tuple[str, ...] | None = None
        if self.body_field is not None:
            is_form = isinstance(self.body_field.field_info, params.Form)
            accepted = FORM_TYPES if is_form else JSON_TYPES

        async def transactional_handler(request: Request) -> Response:
            if accepted is not None:
                try:
                    _check_content_type(request, accepted)
                except ApiError as exc:
                    return self.render_error(exc)
            database = request.app.state.database
            async with database.session(write=request.method in WRITE_METHODS) as session:
                request.state.session = session
                request.state.idempotency = None
                return await self._run(handle, request, session)

        return transactional_handler

    async def _run(
        self,
        handle: Callable[[Request], Coroutine[Any, Any, Response]],
        request: Request,
        session: AsyncSession,
    ) -> Response:
        try:
            response = await handle(request)
        except idempotency.Replay as replay:
            await session.rollback()
            return replay.response()
        except IntegrityError as exc:
            # A uniqueness race the service's own checks could not see: a state conflict.
            await session.rollback()
            logger.info("integrity error turned into 409", exc_info=exc)
            return await self._refuse(
                request, session, Conflict("This conflicts with a stored record.")
            )
        except DataError as exc:
            # A value the schema let through but the column cannot hold: still bad input.
            await session.rollback()
            logger.warning("data error turned into 422", exc_info=exc)
            return self.render_error(Invalid(["body"], "a value does not fit its field"))
        except ApiError as exc:
            return await self._refuse(request, session, exc)
        except RequestValidationError as exc:
            await session.rollback()
            if _only_malformed_path_ids(exc):
                # Ids are opaque: one that cannot exist is simply not found.
                return self.render_error(NotFound("No such resource."))
            if (rendered := self.render_invalid(exc)) is not None:
                return rendered
            raise
        except HTTPException:
            await session.rollback()
            raise
        except Exception as exc:
            await session.rollback()
            return unexpected_error_response(exc)
        if response.status_code >= 400:
            await session.rollback()
            return response
        held: idempotency.Claim | None = request.state.idempotency
        if held is not None:
            await idempotency.remember(session, held, response)
        await session.commit()
        return response

    async def _refuse(self, request: Request, session: AsyncSession, exc: ApiError) -> Response:
        response = self.render_error(exc)
        held: idempotency.Claim | None = request.state.idempotency
        if held is not None and exc.status in STORED_REFUSALS and held.savepoint.is_active:
            await held.savepoint.rollback()
            await idempotency.remember(session, held, response)
            await session.commit()
        else:
            await session.rollback()
        return response


def _claim_dependency(owner: OwnerDependency) -> Callable[..., Awaitable[None]]:
    async def claim_idempotency_key(
        request: Request,
        # A default rather than Annotated: the closure's `owner` is not a module name.
        owner_id: uuid.UUID = Depends(owner),
        _key: str | None = Header(
            default=None,
            alias=idempotency.KEY_HEADER,
            min_length=1,
            max_length=255,
            description=(
                "Makes the POST safe to retry: a repeat with the same key and body replays "
                "the first response (with `Idempotent-Replayed: true`); the same key with "
                "another body gives 422. Scoped to the token's owner, kept 24 h."
            ),
            examples=["7b0f5a9e-3c2d-4a43-9a51-0c1f0d6d2f10"],
        ),
    ) -> None:
        request.state.idempotency = await idempotency.claim(
            request, request.state.session, owner_id
        )

    return claim_idempotency_key
