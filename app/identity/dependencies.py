"""Authentication and role checks as FastAPI dependencies; the API's route class."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.errors import Forbidden, TooManyRequests, Unauthorized
from app.core.routing import DbSession, TransactionalRoute
from app.identity import service
from app.identity.models import Role
from app.identity.principal import Principal

bearer = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer gpo_...`: a token created with "
    "`POST /api/v1/users/{id}/tokens`, or GPO_BOOTSTRAP_ADMIN_TOKEN.",
)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings)]


async def principal_of(request: Request, session: AsyncSession, token: str) -> Principal:
    """The principal behind a token, counted against its rate limit."""
    settings: Settings = request.app.state.settings
    principal = await service.principal_for_token(
        session, settings.gpo_secret_key.get_secret_value(), token
    )
    request.state.user_id = str(principal.user_id)
    retry_after = request.app.state.rate_limiter.retry_after(principal.token_id)
    if retry_after is not None:
        raise TooManyRequests(
            "Too many requests for this token.", headers={"Retry-After": str(retry_after)}
        )
    return principal


async def authenticate(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("A bearer token is required (Authorization: Bearer gpo_...).")
    return await principal_of(request, session, credentials.credentials)


CurrentUser = Annotated[Principal, Depends(authenticate)]


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    async def check_role(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise Forbidden(f"Only {allowed} may do this.")
        return principal

    return check_role


AdminUser = Annotated[Principal, Depends(require(Role.admin))]


async def idempotency_owner(principal: CurrentUser) -> uuid.UUID:
    return principal.user_id


class ApiRoute(TransactionalRoute):
    """Routes of /api/v1: bearer-authenticated, Idempotency-Key owned by the token's user."""

    owner = staticmethod(idempotency_owner)
