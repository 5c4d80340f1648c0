"""Authentication: the principal behind a bearer token, as FastAPI dependencies; the API's
route class and its Idempotency-Key claim. Who may do what is `app.access`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import utcnow
from app.core.db import DbSession
from app.core.errors import TooManyRequests, Unauthorized
from app.core.idempotency import idempotent
from app.core.routing import TransactionalRoute
from app.identity import tokens
from app.identity.models import ApiToken, User
from app.identity.principal import Principal
from app.reference.models import Organisation

bearer = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer gpo_...`: a token created with "
    "`POST /api/v1/users/{id}/tokens`, or GPO_BOOTSTRAP_ADMIN_TOKEN.",
)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings)]

# Columns, not entities: this runs on every request, and loading objects costs more.
_TOKEN_LOOKUP = (
    select(
        ApiToken.id,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        User.id,
        User.role,
        User.organisation_id,
        User.display_name,
        User.active,
        Organisation.kind,
    )
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(Organisation, Organisation.id == User.organisation_id)
)


async def principal_for_token(session: AsyncSession, secret_key: str, token: str) -> Principal:
    """The principal of a valid token, in one indexed lookup; otherwise 401."""
    row = (
        await session.execute(
            _TOKEN_LOOKUP.where(ApiToken.token_hash == tokens.token_hash(secret_key, token))
        )
    ).one_or_none()
    if row is None:
        raise Unauthorized("The token is not valid.")
    token_id, revoked_at, expires_at, user_id, role, organisation_id, name, active, kind = row
    if revoked_at is not None:
        raise Unauthorized("The token has been revoked.")
    if expires_at is not None and expires_at <= utcnow():
        raise Unauthorized("The token has expired.")
    if not active:
        raise Unauthorized("The user of this token is disabled.")
    return Principal(
        user_id=user_id,
        token_id=token_id,
        role=role,
        organisation_id=organisation_id,
        organisation_kind=kind,
        display_name=name,
    )


async def principal_of(request: Request, session: AsyncSession, token: str) -> Principal:
    """The principal behind a token, counted against its rate limit."""
    settings: Settings = request.app.state.settings
    principal = await principal_for_token(
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


async def idempotency_owner(principal: CurrentUser) -> uuid.UUID:
    return principal.user_id


# Declared by every POST route of /api/v1: `@router.post(..., dependencies=[Idempotent])`.
Idempotent = idempotent(idempotency_owner)
# For a POST whose answer holds a secret shown once: a repeat of its key gives 409.
IdempotentSecret = idempotent(idempotency_owner, store_response=False)


class ApiRoute(TransactionalRoute):
    """Routes of /api/v1: bearer-authenticated, Idempotency-Key owned by the token's user."""

    authenticated = True
