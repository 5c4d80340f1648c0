"""People in the console: invitations, passwords, sign-in with lock-out, sessions.

API tokens stay for systems. A person is invited by an admin (a one-use link, 7 days),
chooses a password there, then signs in with e-mail and password; the session lives in the
database (so it holds across workers) and the cookie carries only its random secret, kept
here as a keyed hash like tokens. Roles and visibility are the same as with a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.clock import utcnow
from app.core.errors import Conflict
from app.identity import passwords, tokens
from app.identity.models import ConsoleSession, Invitation, SignInAttempt, User
from app.identity.principal import Principal
from app.mail import service as mail
from app.mail.models import MailKind
from app.reference.models import Organisation

INVITATION_LIFETIME = timedelta(days=7)
IDLE_EXPIRY = timedelta(hours=12)
# last_seen_at is written at most this often (a read should rarely write).
TOUCH_EVERY = timedelta(minutes=5)
LOCKOUT_WINDOW = timedelta(minutes=15)
LOCKOUT_FAILURES = 10
# Reset links asked for one address (or from one client address) within LOCKOUT_WINDOW.
RESET_REQUESTS = 5
SIGN_IN = "sign_in"
PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a secret


# --- Invitations ------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationLink:
    secret: str
    expires_at: datetime


def invitation_secret(secret_key: str, invitation_id: uuid.UUID) -> str:
    """The secret of an invitation's link: an HMAC of its id under the service's key. Only
    its hash is stored (as for tokens), and the mail outbox keeps only the invitation's id,
    so the link can be rebuilt when the mail is sent, never read from the database."""
    digest = hmac.new(
        secret_key.encode(), f"invitation:{invitation_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def invite(
    session: AsyncSession,
    principal: Principal | None,
    user: User,
    secret_key: str,
    *,
    kind: MailKind = MailKind.invitation,
) -> InvitationLink:
    """A new link for the person to set a password, also mailed to the person; it
    replaces any unused one (this is also how a forgotten password is reset)."""
    if not user.active:
        raise Conflict(
            "The user is disabled; enable it before inviting it.",
            fr="Ce compte est désactivé : réactivez-le avant de l'inviter.",
        )
    now = utcnow()
    await session.execute(
        update(Invitation)
        .where(Invitation.user_id == user.id, Invitation.closed_at.is_(None))
        .values(closed_at=now)
    )
    invitation_id = uuid.uuid4()
    secret = invitation_secret(secret_key, invitation_id)
    invitation = Invitation(
        id=invitation_id,
        user_id=user.id,
        secret_hash=tokens.token_hash(secret_key, secret),
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
        created_by=principal.user_id if principal else None,
    )
    session.add(invitation)
    await session.flush()
    reset = kind is MailKind.password_reset
    audit.record(
        session,
        principal,
        action="invitation.create",
        resource_type="user",
        resource_id=user.id,
        summary=(
            f"Lien de nouveau mot de passe envoyé à {user.display_name}"
            if reset
            else f"Invitation à la console envoyée à {user.display_name}"
        ),
        changes={"expires_at": [None, invitation.expires_at], "purpose": [None, kind.value]},
    )
    await mail.invitation(session, invitation.id, user.id, kind)
    return InvitationLink(secret, invitation.expires_at)


async def request_reset(session: AsyncSession, email: str, address: str, secret_key: str) -> None:
    """A forgotten password: each active account with this address gets a reset link by
    e-mail. The caller answers the same whatever happened (no account enumeration); the
    request is counted (`seconds_to_wait`) and audited, whether or not an account matched."""
    email = email.strip().lower()[:254]
    session.add(
        SignInAttempt(
            at=utcnow(), email=email, address=address, succeeded=False, purpose=PASSWORD_RESET
        )
    )
    users = (
        await session.scalars(
            select(User).where(func.lower(User.email) == email, User.active.is_(True))
        )
    ).all()
    audit.record(
        session,
        None,
        action="password_reset.request",
        resource_type="sign_in",
        resource_id=email[:64],
        summary=f"Nouveau mot de passe demandé pour {email} depuis {address}",
        changes={"accounts": [None, len(users)]},
    )
    for user in users:
        await invite(session, None, user, secret_key, kind=MailKind.password_reset)
    await session.flush()


async def open_invitation(
    session: AsyncSession, secret_key: str, secret: str
) -> tuple[Invitation, User] | None:
    """The invitation behind a link, while it may be used (unused, unexpired, its user
    active), locked so that it is used once."""
    row = (
        await session.execute(
            select(Invitation, User)
            .join(User, User.id == Invitation.user_id)
            .where(
                Invitation.secret_hash == tokens.token_hash(secret_key, secret),
                Invitation.closed_at.is_(None),
                Invitation.expires_at > utcnow(),
                User.active.is_(True),
            )
            .with_for_update(of=Invitation)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def accept_invitation(
    session: AsyncSession, invitation: Invitation, user: User, password: str
) -> None:
    """Set the password (checked by `passwords.weakness` before); the link is used up and
    every session the person had is closed."""
    now = utcnow()
    user.password_hash = await passwords.hash_password(password)
    user.updated_at = now
    invitation.closed_at = now
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user.id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit.record(
        session,
        None,
        action="user.password_set",
        resource_type="user",
        resource_id=user.id,
        summary=f"Mot de passe de la console choisi par {user.display_name}",
    )
    await session.flush()


# --- Sign-in ---------------------------------------------------------------------------------


async def seconds_to_wait(
    session: AsyncSession,
    email: str,
    address: str,
    *,
    purpose: str = SIGN_IN,
    limit: int = LOCKOUT_FAILURES,
) -> int | None:
    """Seconds before a sign-in may be tried again, when the e-mail or the address failed
    `limit` times within LOCKOUT_WINDOW; None when it may be tried now. With
    `purpose=PASSWORD_RESET`, the same for requests of a reset link (each one counts)."""
    now = utcnow()
    since = now - LOCKOUT_WINDOW
    waits = []
    for column, value in ((SignInAttempt.email, email), (SignInAttempt.address, address)):
        failures = (
            await session.scalars(
                select(SignInAttempt.at)
                .where(
                    column == value,
                    SignInAttempt.at > since,
                    ~SignInAttempt.succeeded,
                    SignInAttempt.purpose == purpose,
                )
                .order_by(SignInAttempt.at.desc())
                .limit(limit)
            )
        ).all()
        if len(failures) >= limit:
            # Free again once the oldest of the last failures leaves the window.
            waits.append(int((failures[-1] + LOCKOUT_WINDOW - now).total_seconds()) + 1)
    return max(waits) if waits else None


async def check_password(session: AsyncSession, email: str, password: str) -> User | None:
    """The active user with this e-mail whose password this is (e-mails need not be
    unique: each account with a password is tried)."""
    candidates = (
        await session.scalars(
            select(User).where(
                func.lower(User.email) == email.strip().lower(),
                User.active.is_(True),
                User.password_hash.is_not(None),
            )
        )
    ).all()
    for user in candidates:
        if await passwords.verify_password(user.password_hash, password):
            return user
    if not candidates:
        await passwords.verify_password(None, password)  # the same time as a wrong password
    return None


async def record_attempt(
    session: AsyncSession, email: str, address: str, user: User | None
) -> None:
    """Remember the attempt; a failure is also an audit event."""
    email = email.strip().lower()[:254]
    session.add(
        SignInAttempt(at=utcnow(), email=email, address=address, succeeded=user is not None)
    )
    if user is None:
        audit.record(
            session,
            None,
            action="session.sign_in_failed",
            resource_type="sign_in",
            resource_id=email[:64],
            summary=f"Échec de connexion à la console pour {email} depuis {address}",
        )
    await session.flush()


# --- Sessions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    """A person's session, as a request sees it."""

    principal: Principal
    session_id: uuid.UUID
    csrf_token: str
    email: str


async def open_session(
    session: AsyncSession,
    user: User,
    secret_key: str,
    *,
    address: str | None,
    user_agent: str | None,
) -> str:
    """A new session for the person; returns the secret its cookie carries."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    console_session = ConsoleSession(
        user_id=user.id,
        secret_hash=tokens.token_hash(secret_key, secret),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        address=address[:64] if address else None,
        user_agent=user_agent[:300] if user_agent else None,
    )
    session.add(console_session)
    await session.flush()
    audit.record(
        session,
        None,
        action="session.open",
        resource_type="user",
        resource_id=user.id,
        summary=f"Connexion de {user.display_name} à la console",
    )
    return secret


_SESSION_LOOKUP = (
    select(
        ConsoleSession.id,
        ConsoleSession.csrf_token,
        ConsoleSession.last_seen_at,
        ConsoleSession.revoked_at,
        ConsoleSession.access_purpose,
        User.id,
        User.role,
        User.organisation_id,
        User.display_name,
        User.email,
        User.active,
        Organisation.kind,
    )
    .join(User, User.id == ConsoleSession.user_id)
    .outerjoin(Organisation, Organisation.id == User.organisation_id)
)


async def signed_in(session: AsyncSession, secret_key: str, secret: str) -> SignedIn | None:
    """The live session behind a cookie: not revoked, used within IDLE_EXPIRY, its user
    active; its idle clock restarts."""
    row = (
        await session.execute(
            _SESSION_LOOKUP.where(
                ConsoleSession.secret_hash == tokens.token_hash(secret_key, secret)
            )
        )
    ).one_or_none()
    if row is None:
        return None
    (session_id, csrf, last_seen, revoked, purpose) = row[:5]
    user_id, role, org_id, name, email, active, kind = row[5:]
    now = utcnow()
    if revoked is not None or not active or last_seen + IDLE_EXPIRY <= now:
        return None
    if last_seen + TOUCH_EVERY <= now:
        await session.execute(
            update(ConsoleSession).where(ConsoleSession.id == session_id).values(last_seen_at=now)
        )
    principal = Principal(
        user_id=user_id,
        token_id=None,
        role=role,
        organisation_id=org_id,
        organisation_kind=kind,
        display_name=name,
        session_id=session_id,
        access_purpose=purpose,
    )
    return SignedIn(principal, session_id, csrf, email)


async def close_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == session_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def close_sessions_of(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Every session of a user ends (the user was disabled)."""
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
