from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app import access
from app.access import AdminUser
from app.config import Settings
from app.core.concurrency import IfMatch, precondition_if_match, set_etag
from app.core.db import DbSession
from app.core.pagination import Page, PageParams
from app.identity import charter as charters
from app.identity import service, sessions
from app.identity.charter import Charter
from app.identity.dependencies import (
    API_PREFIX,
    ApiRoute,
    AppSettings,
    CharterIdempotent,
    CurrentCharter,
    CurrentUser,
    Idempotent,
    IdempotentSecret,
    Identified,
)
from app.identity.models import Role, User
from app.identity.schemas import (
    CharterAccept,
    CharterOut,
    InvitationCreated,
    Me,
    NotificationsOut,
    NotificationsUpdate,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from app.reference.models import Organisation
from app.reference.schemas import OrganisationOut

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["identity"])


async def user_to_change(
    user_id: uuid.UUID, session: DbSession, principal: CurrentUser, if_match: IfMatch = None
) -> User:
    """The user, locked: 404 unless the caller sees it, 403 unless an admin, 412 on a stale
    If-Match."""
    user = await service.get_user(session, principal, user_id, lock=True)
    access.require_user_editor(principal)
    precondition_if_match(if_match, user.version)
    return user


UserToChange = Annotated[User, Depends(user_to_change)]


@router.get("/me/notifications", summary="My notification preferences")
async def my_notifications(session: DbSession, principal: CurrentUser) -> NotificationsOut:
    """How often the caller gets the e-mail digest."""
    user = await service.get_user(session, principal, principal.user_id)
    return NotificationsOut.model_validate(user)


@router.patch("/me/notifications", summary="Change my notification preferences")
async def change_my_notifications(
    data: NotificationsUpdate, session: DbSession, principal: CurrentUser
) -> NotificationsOut:
    """`daily` (each morning), `weekly` (Mondays) or `off`; a person changes its own only."""
    user = await service.update_notifications(session, principal, data)
    return NotificationsOut.model_validate(user)


@router.get("/me/charter", summary="The information-sharing charter")
async def my_charter(
    session: DbSession, principal: Identified, charter: CurrentCharter, settings: AppSettings
) -> CharterOut:
    """The current GPO information-sharing charter, and whether the caller accepted it.
    Open before the acceptance, as are `GET /me` and revoking a token."""
    at = await charters.accepted_at(session, principal.user_id, charter.version)
    return _charter_out(charter, at, settings)


@router.post(
    "/me/charter",
    summary="Accept the information-sharing charter",
    dependencies=[CharterIdempotent],
)
async def accept_my_charter(
    session: DbSession,
    principal: Identified,
    charter: CurrentCharter,
    settings: AppSettings,
    data: CharterAccept | None = None,
) -> CharterOut:
    """Accept the current version (recorded with its version, time and token, and audited
    once: accepting again changes nothing). With `version`, 409 if it is no longer the
    current one."""
    at = await charters.accept(session, principal, charter, data.version if data else None)
    return _charter_out(charter, at, settings)


def _charter_out(charter: Charter, at: datetime | None, settings: Settings) -> CharterOut:
    return CharterOut(
        version=charter.version,
        text=charter.text,
        accepted=at is not None,
        accepted_at=at,
        required_for_tokens=settings.gpo_charter_for_tokens,
    )


@router.get("/me", summary="Who am I")
async def me(session: DbSession, principal: Identified) -> Me:
    """The caller's user, organisation and role."""
    user = await service.get_user(session, principal, principal.user_id)
    organisation = (
        await session.get(Organisation, user.organisation_id) if user.organisation_id else None
    )
    return Me(
        user=UserOut.model_validate(user),
        organisation=OrganisationOut.model_validate(organisation) if organisation else None,
        role=user.role,
    )


@router.post("/users", status_code=201, summary="Create a user", dependencies=[Idempotent])
async def create_user(
    data: UserCreate, session: DbSession, principal: AdminUser, response: Response
) -> UserOut:
    """Admins create users; a partner must name its organisation."""
    user = await service.create_user(session, principal, data)
    set_etag(response, user.version)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserOut.model_validate(user)


@router.get("/users", summary="List users")
async def list_users(
    session: DbSession,
    principal: AdminUser,
    paging: PageParams,
    role: Annotated[Role | None, Query(description="Only this role.")] = None,
    organisation_id: Annotated[
        uuid.UUID | None, Query(description="Only members of this organisation.")
    ] = None,
    active: Annotated[bool | None, Query(description="Only active or disabled users.")] = None,
) -> Page[UserOut]:
    """Admins only; oldest first."""
    return await service.list_users(
        session, principal, paging, role=role, organisation_id=organisation_id, active=active
    )


@router.get("/users/{user_id}", summary="Read a user")
async def get_user(
    user_id: uuid.UUID, session: DbSession, principal: CurrentUser, response: Response
) -> UserOut:
    """Admins read any user; any user reads itself."""
    user = await service.get_user(session, principal, user_id)
    set_etag(response, user.version)
    return UserOut.model_validate(user)


@router.patch("/users/{user_id}", summary="Update or disable a user")
async def update_user(
    user: UserToChange,
    data: UserUpdate,
    session: DbSession,
    principal: CurrentUser,
    response: Response,
) -> UserOut:
    """Admins only (a user reading itself gets 403; anyone else's id, 404); `active: false`
    disables the user and every token it holds."""
    user = await service.update_user(session, principal, user, data)
    set_etag(response, user.version)
    return UserOut.model_validate(user)


@router.post(
    "/users/{user_id}/tokens",
    status_code=201,
    summary="Create an API token",
    dependencies=[IdempotentSecret],
)
async def create_token(
    user_id: uuid.UUID,
    data: TokenCreate,
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    response: Response,
) -> TokenCreated:
    """Admins, or the user itself. The secret is in this response only: it is stored as a
    keyed hash. An Idempotency-Key replay of this call gives 409, never the secret again."""
    user = await service.get_user(session, principal, user_id)
    api_token, secret = await service.create_token(
        session, principal, user, data, settings.gpo_secret_key.get_secret_value()
    )
    response.headers["Location"] = f"/api/v1/tokens/{api_token.id}"
    return TokenCreated(
        token_id=api_token.id,
        token=secret,
        prefix=api_token.prefix,
        name=api_token.name,
        created_at=api_token.created_at,
        expires_at=api_token.expires_at,
    )


@router.post(
    "/users/{user_id}/invitations",
    status_code=201,
    summary="Invite a person to the console",
    dependencies=[IdempotentSecret],
)
async def invite_user(
    user_id: uuid.UUID,
    request: Request,
    session: DbSession,
    principal: AdminUser,
    settings: AppSettings,
    response: Response,
) -> InvitationCreated:
    """Admins. A one-use link, valid 7 days, where the person chooses a console password
    (12 characters at least); a new invitation replaces an unused one, and is how a
    forgotten password is reset. The link is mailed to the person, and shown in this
    response only."""
    user = await service.get_user(session, principal, user_id)
    link = await sessions.invite(
        session, principal, user, settings.gpo_secret_key.get_secret_value()
    )
    # The invitation's only address is its link (shown once, like the body).
    url = f"{settings.public_url}/console/invitation/{link.secret}"
    response.headers["Location"] = url
    return InvitationCreated(invitation_url=url, expires_at=link.expires_at)


@router.get("/users/{user_id}/tokens", summary="List a user's tokens")
async def list_tokens(
    user_id: uuid.UUID, session: DbSession, principal: CurrentUser
) -> Page[TokenOut]:
    """Admins, or the user itself; secrets are never shown."""
    user = await service.get_user(session, principal, user_id)
    return await service.list_tokens(session, user)


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke a token")
async def revoke_token(token_id: uuid.UUID, session: DbSession, principal: Identified) -> None:
    """Admins, or the token's owner. Revoking twice is harmless."""
    await service.revoke_token(session, principal, token_id)
