"""Users and tokens: the bootstrap admin, user and token management (authentication is
`dependencies.py`, who sees which user `app.access`)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import access, wording
from app.config import Settings
from app.core import audit
from app.core.clock import utcnow
from app.core.db import one_entity
from app.core.errors import Conflict, Forbidden, Invalid
from app.core.pagination import Ordering, Page, Paging, SortKey
from app.identity import sessions, tokens
from app.identity.models import ApiToken, Role, User
from app.identity.principal import Principal
from app.identity.schemas import (
    NotificationsUpdate,
    TokenCreate,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from app.reference.service import require_organisation

BUILTIN_ADMIN_EMAIL = "bootstrap-admin@gpo.invalid"
# A user's systems rarely need more than a few tokens; a bound keeps a leaked token from
# minting an army of others.
MAX_LIVE_TOKENS = 10
BY_CREATION = Ordering("created_at", (SortKey(User.created_at), SortKey(User.id)))


async def sync_bootstrap_admin(session: AsyncSession, settings: Settings) -> None:
    """Make GPO_BOOTSTRAP_ADMIN_TOKEN the one live token of the built-in admin.

    Run at start-up by every worker; a worker that loses the race to insert the same
    rows sees an integrity error and leaves the work to the winner.
    """
    secret = settings.gpo_bootstrap_admin_token
    key = settings.gpo_secret_key.get_secret_value()
    wanted = tokens.token_hash(key, secret.get_secret_value()) if secret else None
    now = utcnow()
    stale = select(ApiToken).where(ApiToken.bootstrap.is_(True), ApiToken.revoked_at.is_(None))
    if wanted is not None:
        stale = stale.where(ApiToken.token_hash != wanted)
    for replaced in await session.scalars(stale.with_for_update()):
        replaced.revoked_at = now
        audit.record(
            session,
            None,
            action="token.revoke",
            resource_type="token",
            resource_id=replaced.id,
            summary=wording.summary("bootstrap.token_revoked"),
            changes={"revoked_at": [None, now]},
        )
    if wanted is None or secret is None:
        await session.flush()
        return
    admin = await session.scalar(select(User).where(User.builtin.is_(True)))
    if admin is None:
        admin = User(
            email=BUILTIN_ADMIN_EMAIL,
            display_name="Administrateur (amorçage)",
            role=Role.admin,
            builtin=True,
        )
        await audit.add_created(
            session,
            None,
            admin,
            resource_type="user",
            summary=wording.summary("bootstrap.admin_created"),
            values={"email": admin.email, "role": admin.role},
        )
    existing = await session.scalar(select(ApiToken).where(ApiToken.token_hash == wanted))
    if existing is None:
        await audit.add_created(
            session,
            None,
            ApiToken(
                user_id=admin.id,
                name="GPO_BOOTSTRAP_ADMIN_TOKEN",
                prefix=tokens.display_prefix(secret.get_secret_value()),
                token_hash=wanted,
                bootstrap=True,
            ),
            resource_type="token",
            summary=wording.summary("bootstrap.token_registered"),
            values={"user_id": admin.id},
        )
    elif existing.user_id == admin.id and existing.revoked_at is not None:
        revoked_at, existing.revoked_at, existing.expires_at = existing.revoked_at, None, None
        audit.record(
            session,
            None,
            action="token.restore",
            resource_type="token",
            resource_id=existing.id,
            summary=wording.summary("bootstrap.token_restored"),
            changes={"revoked_at": [revoked_at, None]},
        )
    await session.flush()


async def get_user(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, lock: bool = False
) -> User:
    statement = select(User).where(access.user_scope(principal), User.id == user_id)
    user: User = await one_entity(session, statement, missing="No such user.", lock=lock)
    return user


async def _check_organisation(
    session: AsyncSession, role: Role, organisation_id: uuid.UUID | None
) -> None:
    if organisation_id is not None:
        await require_organisation(session, organisation_id, loc=("body", "organisation_id"))
    elif role is Role.partner:
        raise Invalid(
            ["body", "organisation_id"],
            "a partner must belong to an organisation",
            fr="Un partenaire appartient à une organisation : choisissez-la.",
        )


async def create_user(session: AsyncSession, principal: Principal, data: UserCreate) -> User:
    await _check_organisation(session, data.role, data.organisation_id)
    user = User(**data.model_dump())
    await audit.add_created(
        session,
        principal,
        user,
        resource_type="user",
        summary=wording.summary("user.create", name=user.display_name, role=user.role),
        values=data.model_dump(),
    )
    return user


async def update_user(
    session: AsyncSession, principal: Principal, user: User, data: UserUpdate
) -> User:
    values: dict[str, Any] = data.provided()
    if "role" in values or "organisation_id" in values:
        await _check_organisation(
            session,
            values.get("role", user.role),
            values.get("organisation_id", user.organisation_id),
        )
    if user.builtin and ("role" in values or values.get("active") is False):
        raise Conflict(
            "The built-in admin keeps its role and stays active.",
            fr="L'administrateur d'amorçage garde son rôle et reste actif.",
        )
    if user.id == principal.user_id and (
        values.get("active") is False or values.get("role", user.role) is not user.role
    ):
        # Disabling oneself or dropping one's own role would lock the caller out mid-request;
        # another admin does it, so a deployment cannot lose its last admin by a slip.
        raise Conflict(
            "An admin cannot disable itself or change its own role; ask another admin.",
            fr="Vous ne pouvez ni vous désactiver ni changer votre propre rôle : "
            "demandez-le à un autre administrateur.",
        )
    if values.get("active") is False and user.active:
        await sessions.close_sessions_of(session, user.id)
        await _revoke_tokens_of(session, principal, user)
    await audit.update(
        session,
        principal,
        user,
        values,
        resource_type="user",
        summary=wording.summary("user.update", name=user.display_name),
    )
    return user


async def update_notifications(
    session: AsyncSession, principal: Principal, data: NotificationsUpdate
) -> User:
    """The caller's own notification preferences (anyone may change its own, only)."""
    user = await get_user(session, principal, principal.user_id, lock=True)
    await audit.update(
        session,
        principal,
        user,
        data.provided(),
        resource_type="user",
        summary=wording.summary("user.notifications", name=user.display_name),
    )
    return user


async def create_token(
    session: AsyncSession, principal: Principal, user: User, data: TokenCreate, secret_key: str
) -> tuple[ApiToken, str]:
    if not user.active:
        raise Conflict(
            "The user is disabled; enable it before giving it a token.",
            fr="Ce compte est désactivé : réactivez-le avant de lui donner un jeton.",
        )
    live = await session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.live(utcnow()))
    )
    if (live or 0) >= MAX_LIVE_TOKENS:
        raise Conflict(
            f"The user already has {MAX_LIVE_TOKENS} live tokens; revoke one first.",
            fr=f"Ce compte a déjà {MAX_LIVE_TOKENS} jetons actifs : révoquez-en un d'abord.",
        )
    secret = tokens.new_secret()
    api_token = ApiToken(
        user_id=user.id,
        name=data.name,
        prefix=tokens.display_prefix(secret),
        token_hash=tokens.token_hash(secret_key, secret),
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(days=data.expires_in_days),
    )
    session.add(api_token)
    await session.flush()
    audit.record(
        session,
        principal,
        action="token.create",
        resource_type="token",
        resource_id=api_token.id,
        summary=wording.summary("token.create", name=data.name, user=user.display_name),
        changes={"user_id": [None, str(user.id)], "expires_at": [None, api_token.expires_at]},
    )
    return api_token, secret


def token_out(api_token: ApiToken) -> TokenOut:
    return TokenOut(
        token_id=api_token.id,
        user_id=api_token.user_id,
        name=api_token.name,
        prefix=api_token.prefix,
        created_at=api_token.created_at,
        expires_at=api_token.expires_at,
        revoked_at=api_token.revoked_at,
        active=api_token.revoked_at is None
        and (api_token.expires_at is None or api_token.expires_at > utcnow()),
    )


async def list_tokens(session: AsyncSession, user: User) -> Page[TokenOut]:
    """A user's tokens, newest first, without their secrets (few: one page)."""
    result = await session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return Page(items=[token_out(t) for t in result], next_cursor=None)


async def revocable_token_ids(session: AsyncSession, user: User) -> set[uuid.UUID]:
    """The user's tokens that may be revoked by hand: the live ones, but for the bootstrap
    token (GPO_BOOTSTRAP_ADMIN_TOKEN manages it)."""
    statement = select(ApiToken.id).where(
        ApiToken.user_id == user.id,
        ApiToken.revoked_at.is_(None),
        ApiToken.bootstrap.is_(False),
    )
    return set(await session.scalars(statement))


async def revoke_token(session: AsyncSession, principal: Principal, token_id: uuid.UUID) -> None:
    statement = select(ApiToken).where(access.token_scope(principal), ApiToken.id == token_id)
    api_token: ApiToken = await one_entity(session, statement, missing="No such token.", lock=True)
    if api_token.bootstrap:
        raise Forbidden("The bootstrap token is managed by GPO_BOOTSTRAP_ADMIN_TOKEN.")
    if api_token.revoked_at is None:
        _revoke(session, principal, api_token, "token.revoke")
    await session.flush()


def _revoke(session: AsyncSession, principal: Principal, api_token: ApiToken, event: str) -> None:
    api_token.revoked_at = utcnow()
    audit.record(
        session,
        principal,
        action="token.revoke",
        resource_type="token",
        resource_id=api_token.id,
        summary=wording.summary(event, name=api_token.name),
        changes={"revoked_at": [None, api_token.revoked_at]},
    )


async def _revoke_tokens_of(session: AsyncSession, principal: Principal, user: User) -> None:
    """A disabled user's tokens end for good: enabling it again revives none of them (its
    systems get new tokens, given knowingly)."""
    live = await session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .with_for_update()
    )
    for api_token in live:
        _revoke(session, principal, api_token, "token.revoke_disabled")


async def list_users(
    session: AsyncSession,
    principal: Principal,
    paging: Paging,
    *,
    role: Role | None,
    organisation_id: uuid.UUID | None,
    active: bool | None,
) -> Page[UserOut]:
    """Users the principal sees, oldest first."""
    statement: Select[User] = select(User).where(access.user_scope(principal))
    if role is not None:
        statement = statement.where(User.role == role)
    if organisation_id is not None:
        statement = statement.where(User.organisation_id == organisation_id)
    if active is not None:
        statement = statement.where(User.active.is_(active))
    rows, next_cursor = await paging.fetch(session, statement, BY_CREATION)
    return Page(items=[UserOut.model_validate(row[0]) for row in rows], next_cursor=next_cursor)
