"""Authentication: the principal behind a bearer token, as FastAPI dependencies; the API's
route class and its Idempotency-Key claim. Who may do what is `app.access`."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import utcnow
from app.core.db import fetch_rows
from app.core.errors import TooManyRequests, Unauthorized
from app.core.idempotency import idempotent
from app.core.openapi import READS_BEARER
from app.core.ratelimit import RateLimiter
from app.core.routing import TransactionalRoute
from app.identity import tokens
from app.identity.charter import Charter, require_accepted
from app.identity.models import ApiToken, Role, User
from app.identity.principal import Principal
from app.reference.models import Organisation, OrganisationKind

# The scheme the OpenAPI document declares (`identify` reads the header itself).
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
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


# One answer whatever failed: the client learns nothing about which tokens exist. The
# reason goes to the server log, with the token's id when there is one.
REFUSED = "The token is missing, invalid, expired or revoked."
auth_logger = logging.getLogger("app.auth")


async def principal_for_token(session: AsyncSession, secret_key: str, token: str) -> Principal:
    """The principal of a valid token, in one indexed lookup; otherwise 401."""
    # Built once, read from the driver (`fetch_rows`): every API request makes this lookup,
    # and SQLAlchemy's execution path costs more than the statement does.
    rows = await fetch_rows(
        session, _TOKEN_LOOKUP, {"token_hash": tokens.token_hash(secret_key, token)}
    )
    if not rows:
        raise _refused("unknown token", None)
    row = rows[0]
    token_id, revoked_at, expires_at, user_id, role, organisation_id, name, active, kind = row
    if revoked_at is not None:
        raise _refused("revoked token", token_id)
    if expires_at is not None and expires_at <= utcnow():
        raise _refused("expired token", token_id)
    if not active:
        raise _refused("token of a disabled user", token_id)
    return Principal(
        user_id=user_id,
        token_id=token_id,
        role=Role(role),  # the driver's text: access rules compare members (`is`)
        organisation_id=organisation_id,
        organisation_kind=None if kind is None else OrganisationKind(kind),
        display_name=name,
    )


def _refused(reason: str, token_id: uuid.UUID | None) -> Unauthorized:
    auth_logger.info("authentication refused: %s", reason, extra={"fields": {"token_id": token_id}})
    return Unauthorized(REFUSED)


def client_address(request: Request) -> str:
    """The caller's address (uvicorn resolves X-Forwarded-For from trusted proxies only)."""
    return request.client.host if request.client else "unknown"


async def principal_of(request: Request, session: AsyncSession, token: str) -> Principal:
    """The principal behind a token, counted against its rate limit. Failed tokens count
    against the caller's address: past the limit, guesses get 429 until the minute ends,
    while valid tokens from the same address (colleagues behind one proxy) still pass."""
    settings: Settings = request.app.state.settings
    try:
        principal = await principal_for_token(
            session, settings.gpo_secret_key.get_secret_value(), token
        )
    except Unauthorized:
        failures: RateLimiter = request.app.state.auth_failures
        if (wait := failures.retry_after(client_address(request))) is not None:
            raise _too_many("Too many failed authentications from this address.", wait) from None
        raise
    request.state.user_id = str(principal.user_id)
    retry_after = request.app.state.rate_limiter.retry_after(principal.token_id)
    if retry_after is not None:
        raise _too_many("Too many requests for this token.", retry_after)
    return principal


def _too_many(detail: str, seconds: int) -> TooManyRequests:
    return TooManyRequests(detail, headers={"Retry-After": str(seconds)})


def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer ...`, read as FastAPI's `HTTPBearer` reads it."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if token and scheme.lower() == "bearer" else None


async def identify(request: Request) -> Principal:
    """The caller behind the bearer token. One dependency reading the request itself (its
    session is the one the route opened), not a tree of `HTTPBearer` and the session's:
    FastAPI's solving of each node cost a detail read a tenth of its CPU. The operations
    still document the scheme (`app.core.openapi.document_bearer`)."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized(REFUSED)
    return await principal_of(request, request.state.session, token)


setattr(identify, READS_BEARER, True)


# The caller, whether or not it has accepted the charter: for the few routes open before
# (who am I, the charter itself, revoking one's token).
Identified = Annotated[Principal, Depends(identify)]


async def current_charter(request: Request) -> Charter:
    loaded: Charter = request.app.state.charter
    return loaded


CurrentCharter = Annotated[Charter, Depends(current_charter)]


async def token_charter_gate(request: Request, session: AsyncSession, principal: Principal) -> None:
    """With GPO_CHARTER_FOR_TOKENS, a token reads once its person has accepted the current
    charter (403 `charter-required` until then); the API's routes and Open311's ask it."""
    settings: Settings = request.app.state.settings
    if settings.gpo_charter_for_tokens:
        await require_accepted(session, principal, request.app.state.charter)


async def authenticate(request: Request) -> Principal:
    """The caller of every other route, past the charter's gate."""
    principal = await identify(request)
    await token_charter_gate(request, request.state.session, principal)
    return principal


setattr(authenticate, READS_BEARER, True)


async def anonymous_limit(request: Request) -> None:
    """Routes anyone may call (Open311's discovery and services, the console's sign-in
    pages) are limited per address."""
    limiter: RateLimiter = request.app.state.anonymous_limiter
    if (wait := limiter.retry_after(client_address(request))) is not None:
        raise _too_many("Too many requests from this address.", wait)


AnonymousLimit = Depends(anonymous_limit)


CurrentUser = Annotated[Principal, Depends(authenticate)]


async def idempotency_owner(principal: CurrentUser) -> uuid.UUID:
    return principal.user_id


async def charter_idempotency_owner(principal: Identified) -> uuid.UUID:
    return principal.user_id


# Declared by every POST route of /api/v1: `@router.post(..., dependencies=[Idempotent])`.
Idempotent = idempotent(idempotency_owner)
# For the one POST open before the charter is accepted: accepting it.
CharterIdempotent = idempotent(charter_idempotency_owner)
# For a POST whose answer holds a secret shown once: a repeat of its key gives 409.
IdempotentSecret = idempotent(idempotency_owner, store_response=False)


# Where the API's routers are declared (`APIRouter(prefix=API_PREFIX)`), not included.
API_PREFIX = "/api/v1"


class ApiRoute(TransactionalRoute):
    """Routes of /api/v1: bearer-authenticated, Idempotency-Key owned by the token's user;
    a 201 says where the resource created is."""

    authenticated = True
    locates_created = True
