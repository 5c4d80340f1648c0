"""Signing people in to the console: the session cookie, CSRF, sign-in with lock-out,
sign-out and invitations.

The cookie `gpo_session` carries only the session's random secret (HttpOnly, SameSite=Lax,
Secure in production); the session itself is a row (`app.identity.sessions`). Every form
that changes something carries the session's CSRF token (htmx sends it as a header); the
sign-in and invitation forms, before any session, a double-submit token.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from app.config import Settings
from app.console.rendering import CSRF_FIELD, CSRF_HEADER, render
from app.console.routing import CHECKS_CSRF, ConsoleRoute, error_page
from app.core.db import DbSession
from app.core.errors import Forbidden, SeeOther
from app.identity import charter, passwords, sessions
from app.identity.dependencies import AnonymousLimit
from app.identity.sessions import SignedIn

SESSION_COOKIE = "gpo_session"
FORM_COOKIE = "gpo_form"  # the double-submit token of forms shown before a session
HOME = "/console"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _secret_key(request: Request) -> str:
    return _settings(request).gpo_secret_key.get_secret_value()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "inconnue"


async def current_person(request: Request, session: DbSession) -> SignedIn | None:
    """The person signed in with this request's cookie, if any."""
    secret = request.cookies.get(SESSION_COOKIE)
    me = await sessions.signed_in(session, _secret_key(request), secret) if secret else None
    request.state.me = me
    if me is not None:
        request.state.user_id = str(me.principal.user_id)
    return me


MaybePerson = Annotated[SignedIn | None, Depends(current_person)]


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def signed_in(request: Request, me: MaybePerson) -> SignedIn:
    """The signed-in person; anyone else is sent to sign in, and brought back after."""
    if me is None:
        raise SeeOther(f"/console/login?next={quote(_here(request))}")
    return me


# Signed in, whether or not the charter is accepted: signing out, the charter's own page.
SignedInOnly = Annotated[SignedIn, Depends(signed_in)]
CHARTER_PAGE = "/console/charte"


async def charter_accepted(request: Request, session: DbSession, me: SignedInOnly) -> None:
    """Before a person's first read, the current charter is accepted (`app.identity.charter`):
    until then every page sends to the charter, and back to the page asked after."""
    version = request.app.state.charter.version
    if await charter.accepted_at(session, me.principal.user_id, version) is None:
        # A form sent meanwhile (a new version, a page left open) is not replayed.
        back = _here(request) if request.method == "GET" else HOME
        raise SeeOther(f"{CHARTER_PAGE}?next={quote(back)}")


async def signed_in_person(
    me: SignedInOnly, _charter: Annotated[None, Depends(charter_accepted)]
) -> SignedIn:
    """The signed-in person who accepted the charter: what every console page reads with."""
    return me


Person = Annotated[SignedIn, Depends(signed_in_person)]


def _same(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given), expected)


EXPIRED_FORM = Forbidden(
    "The form's CSRF token is missing or stale.",
    fr="Ce formulaire a expiré. Rechargez la page, puis recommencez.",
)


async def check_csrf(request: Request, me: SignedInOnly) -> None:
    """The form (or htmx's header) carries the session's CSRF token."""
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        given = str((await request.form()).get(CSRF_FIELD) or "")
    if not _same(given, me.csrf_token):
        raise EXPIRED_FORM


async def check_form_token(request: Request) -> None:
    """Before a session: the form's token equals its cookie (double submit)."""
    given = (await request.form()).get(CSRF_FIELD)
    if not _same(str(given or ""), request.cookies.get(FORM_COOKIE, "")):
        raise EXPIRED_FORM


setattr(check_csrf, CHECKS_CSRF, True)
setattr(check_form_token, CHECKS_CSRF, True)
CsrfChecked = Depends(check_csrf)
FormTokenChecked = Depends(check_form_token)


def _form_token(request: Request) -> str:
    """The double-submit token of a form shown before a session (its cookie's value)."""
    token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
    request.state.csrf_token = token
    return token


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=_settings(request).is_production,
        path="/console",
    )


def _next(target: str | None) -> str:
    """Where to go after signing in: a console page, never another site."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return HOME


router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _login_page(
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    email: str = "",
    next_url: str | None = None,
) -> Response:
    token = _form_token(request)
    response = render(
        request,
        "auth/login.html",
        me=None,
        status=status,
        error=error,
        email=email,
        next=_next(next_url or request.query_params.get("next")),
    )
    _set_cookie(request, response, FORM_COOKIE, token)
    return response


@router.get("/console/login", dependencies=[AnonymousLimit])
async def login_form(request: Request, me: MaybePerson) -> Response:
    if me is not None:
        return RedirectResponse(_next(request.query_params.get("next")), status_code=303)
    return _login_page(request)


@router.post("/console/login", dependencies=[AnonymousLimit, FormTokenChecked])
async def login(request: Request, session: DbSession) -> Response:
    form = await request.form()
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    target = _next(str(form.get("next") or ""))
    address = client_address(request)
    wait = await sessions.seconds_to_wait(session, email.lower(), address)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        return _login_page(
            request,
            status=429,
            email=email,
            next_url=target,
            error=f"Trop de tentatives de connexion échouées : réessayez dans {minutes} minute"
            f"{'s' if minutes > 1 else ''}.",
        )
    user = await sessions.check_password(session, email, password) if email and password else None
    await sessions.record_attempt(session, email, address, user)
    if user is None:
        # The failure is remembered (lock-out, audit) although the answer is a refusal.
        request.state.keep_writes = True
        return _login_page(
            request,
            status=401,
            email=email,
            next_url=target,
            error="Adresse électronique ou mot de passe incorrect.",
        )
    secret = await sessions.open_session(
        session,
        user,
        _secret_key(request),
        address=address,
        user_agent=request.headers.get("user-agent"),
    )
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, secret)
    response.delete_cookie(FORM_COOKIE, path="/console")
    return response


FORGOT = "/console/mot-de-passe-oublie"
RESET_SENT = (
    "Si un compte actif correspond à cette adresse, un lien pour choisir un nouveau mot de "
    "passe vient de lui être envoyé par courriel. Il est valable 7 jours."
)


def _forgot_page(
    request: Request, *, status: int = 200, notice: str | None = None, error: str | None = None
) -> Response:
    token = _form_token(request)
    response = render(
        request,
        "auth/forgot.html",
        me=None,
        status=status,
        notice=notice,
        error=error,
    )
    _set_cookie(request, response, FORM_COOKIE, token)
    return response


@router.get(FORGOT, dependencies=[AnonymousLimit])
async def forgot_form(request: Request) -> Response:
    return _forgot_page(request)


@router.post(FORGOT, dependencies=[AnonymousLimit, FormTokenChecked])
async def forgot(request: Request, session: DbSession) -> Response:
    """The same answer whether an account has this address or not (no enumeration); each
    request counts towards a limit per address and per client, as sign-in failures do."""
    email = str((await request.form()).get("email") or "").strip()
    if not email:
        return _forgot_page(request, status=422, error="Saisissez votre adresse électronique.")
    address = client_address(request)
    wait = await sessions.seconds_to_wait(
        session,
        email.lower(),
        address,
        purpose=sessions.PASSWORD_RESET,
        limit=sessions.RESET_REQUESTS,
    )
    if wait is not None:
        minutes = max(1, round(wait / 60))
        return _forgot_page(
            request,
            status=429,
            error=f"Trop de demandes : réessayez dans {minutes} minute"
            f"{'s' if minutes > 1 else ''}.",
        )
    await sessions.request_reset(session, email, address, _secret_key(request))
    return _forgot_page(request, notice=RESET_SENT)


@router.post("/console/logout", dependencies=[CsrfChecked])
async def logout(request: Request, session: DbSession, me: SignedInOnly) -> Response:
    await sessions.close_session(session, me.session_id)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


def _invitation_page(
    request: Request, secret: str, name: str, *, status: int = 200, error: str | None = None
) -> Response:
    token = _form_token(request)
    response = render(
        request,
        "auth/invitation.html",
        me=None,
        status=status,
        secret=secret,
        name=name,
        error=error,
        min_length=passwords.MIN_LENGTH,
    )
    _set_cookie(request, response, FORM_COOKIE, token)
    return response


STALE_INVITATION = (
    "Ce lien d'invitation n'est plus valable (déjà utilisé, remplacé ou expiré). "
    "Demandez-en un nouveau à un administrateur."
)


@router.get("/console/invitation/{secret}", dependencies=[AnonymousLimit])
async def invitation_form(request: Request, secret: str, session: DbSession) -> Response:
    opened = await sessions.open_invitation(session, _secret_key(request), secret)
    if opened is None:
        return error_page(request, 404, STALE_INVITATION)
    return _invitation_page(request, secret, opened[1].display_name)


@router.post("/console/invitation/{secret}", dependencies=[AnonymousLimit, FormTokenChecked])
async def accept_invitation(request: Request, secret: str, session: DbSession) -> Response:
    opened = await sessions.open_invitation(session, _secret_key(request), secret)
    if opened is None:
        return error_page(request, 404, STALE_INVITATION)
    invitation, user = opened
    form = await request.form()
    password = str(form.get("password") or "")
    error = passwords.weakness(password, email=user.email)
    if error is None and password != str(form.get("confirmation") or ""):
        error = "Les deux mots de passe saisis sont différents."
    if error is not None:
        return _invitation_page(request, secret, user.display_name, status=422, error=error)
    await sessions.accept_invitation(session, invitation, user, password)
    secret_of_session = await sessions.open_session(
        session,
        user,
        _secret_key(request),
        address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
    response = RedirectResponse(HOME, status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, secret_of_session)
    response.delete_cookie(FORM_COOKIE, path="/console")
    return response
