"""Administration: organisations, users (invitations, disabling) and systems' API tokens.

Admins only: anyone else gets the 403 page on every address here. The services do the
work and audit it, as for the API. An edit form carries the version it was made from; a
record changed meanwhile is not overwritten, the person is told to reload it. A secret
(an invitation link, a token) is shown on the page that answers its creation, once: it is
stored only as a keyed hash.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from app import access
from app.console import listing
from app.console.auth import CsrfChecked, Person
from app.console.forms import Form, read_form
from app.console.rendering import render
from app.console.routing import ConsoleRoute
from app.core.concurrency import check_if_match
from app.core.db import DbSession
from app.core.errors import ApiError, BadRequest, Forbidden, NotFound
from app.identity import service as identity
from app.identity import sessions
from app.identity.dependencies import AppSettings
from app.identity.models import Role, User
from app.identity.schemas import TokenCreate, UserCreate, UserUpdate
from app.identity.sessions import SignedIn
from app.reference import service as reference
from app.reference.models import Organisation, OrganisationKind
from app.reference.schemas import OrganisationCreate, OrganisationUpdate

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
BASE = "/console/administration"
USERS_PER_PAGE = 50
# The fields of a user's record (its activation has a form of its own).
USER_FIELDS = frozenset({"display_name", "email", "role", "organisation_id"})


async def signed_in_admin(me: Person) -> SignedIn:
    if not access.is_admin(me.principal):
        raise Forbidden(
            "Only an admin may do this.",
            fr="L'administration est réservée aux administrateurs.",
        )
    return me


Admin = Annotated[SignedIn, Depends(signed_in_admin)]


def _admin_page(
    request: Request, me: SignedIn, template: str, *, status: int = 200, **context: Any
) -> Response:
    return render(
        request,
        template,
        me=me,
        status=status,
        roles=list(Role),
        kinds=list(OrganisationKind),
        **context,
    )


async def _attempt(form: Form, work: Any) -> int | None:
    """Run a change; a refusal of the service is shown on the form (its status returned)."""
    try:
        await work
    except ApiError as exc:
        form.refused(exc)
        return exc.status
    return None


def _current(form: Form, version: int) -> int | None:
    """The form was made from the stored version; else it is refused (412) on the form."""
    try:
        check_if_match(f'"{form.get("version")}"', version)
    except ApiError as exc:
        form.refused(exc)
        return exc.status
    return None


@router.get(BASE)
async def home(request: Request, session: DbSession, me: Admin) -> Response:
    return _admin_page(
        request,
        me,
        "admin/index.html",
        page_title="Administration",
        organisation_count=len(await reference.all_organisations(session)),
    )


# --- Organisations ------------------------------------------------------------------------


@router.get(BASE + "/organisations")
async def organisations(request: Request, session: DbSession, me: Admin) -> Response:
    created = request.query_params.get("creee")
    return _admin_page(
        request,
        me,
        "admin/organisations.html",
        page_title="Organisations",
        organisations=await reference.all_organisations(session),
        communes=await reference.commune_names(session),
        created=created,
    )


async def _organisation_form(
    request: Request,
    session: DbSession,
    me: SignedIn,
    organisation: Organisation | None,
    form: Form | None = None,
    *,
    status: int = 200,
    saved: bool = False,
) -> Response:
    communes = await reference.commune_names(session)
    return _admin_page(
        request,
        me,
        "admin/organisation.html",
        status=status,
        page_title=organisation.name if organisation else "Nouvelle organisation",
        organisation=organisation,
        communes=sorted(communes.items(), key=lambda pair: pair[1]),
        form=form,
        saved=saved,
        stale=status == 412,
    )


@router.get(BASE + "/organisations/nouvelle")
async def new_organisation(request: Request, session: DbSession, me: Admin) -> Response:
    return await _organisation_form(request, session, me, None)


@router.post(BASE + "/organisations", dependencies=[CsrfChecked])
async def create_organisation(request: Request, session: DbSession, me: Admin) -> Response:
    form = await read_form(request)
    data = form.parse(OrganisationCreate)
    if data is not None:
        try:
            created = await reference.create_organisation(session, me.principal, data)
        except ApiError as exc:
            form.refused(exc)
        else:
            return RedirectResponse(
                f"{BASE}/organisations?creee={created.id}#organisation-{created.id}",
                status_code=303,
            )
    return await _organisation_form(request, session, me, None, form, status=422)


@router.get(BASE + "/organisations/{organisation_id}")
async def organisation_page(
    request: Request, organisation_id: uuid.UUID, session: DbSession, me: Admin
) -> Response:
    organisation = await reference.get_organisation(session, organisation_id)
    saved = request.query_params.get("enregistre") == "1"
    return await _organisation_form(request, session, me, organisation, saved=saved)


@router.post(BASE + "/organisations/{organisation_id}", dependencies=[CsrfChecked])
async def update_organisation(
    request: Request, organisation_id: uuid.UUID, session: DbSession, me: Admin
) -> Response:
    organisation = await reference.get_organisation(session, organisation_id, lock=True)
    form = await read_form(request)
    refused = _current(form, organisation.version)
    data = None if refused else form.parse(OrganisationUpdate)
    if data is not None:
        if "commune_code" in form.values and not form.get("commune_code"):
            data = OrganisationUpdate.model_validate(data.provided() | {"commune_code": None})
        refused = await _attempt(
            form, reference.update_organisation(session, me.principal, organisation, data)
        )
    if form.errors:
        return await _organisation_form(
            request, session, me, organisation, form, status=refused or 422
        )
    return RedirectResponse(f"{BASE}/organisations/{organisation_id}?enregistre=1", status_code=303)


# --- Users ------------------------------------------------------------------------------


def _user_filters(request: Request) -> tuple[Role | None, uuid.UUID | None]:
    """The list's filters from the query (role, organisation); a forged one is the 400 page."""
    role, organisation = request.query_params.get("role"), request.query_params.get("organisation")
    try:
        return (
            Role(role) if role else None,
            uuid.UUID(organisation) if organisation else None,
        )
    except ValueError:
        raise BadRequest("Unknown role or organisation.") from None


@router.get(BASE + "/utilisateurs")
async def users(request: Request, session: DbSession, me: Admin) -> Response:
    """Every user, oldest first, a page at a time; by role or organisation."""
    role, organisation_id = _user_filters(request)
    found = await identity.list_users(
        session,
        me.principal,
        listing.paging(request, USERS_PER_PAGE),
        role=role,
        organisation_id=organisation_id,
        active=None,
    )
    organisations = await reference.all_organisations(session)
    return _admin_page(
        request,
        me,
        "admin/users.html",
        page_title="Utilisateurs",
        users=found.items,
        organisations=organisations,
        names={o.id: o.name for o in organisations},
        role=role.value if role else "",
        organisation=str(organisation_id) if organisation_id else "",
        next_url=listing.next_page_url(request, found.next_cursor),
        first_url=listing.first_page_url(request),
    )


@router.get(BASE + "/utilisateurs/nouveau")
async def new_user(request: Request, session: DbSession, me: Admin) -> Response:
    return _admin_page(
        request,
        me,
        "admin/new_user.html",
        page_title="Nouvel utilisateur",
        organisations=await reference.all_organisations(session),
        form=None,
    )


@router.post(BASE + "/utilisateurs", dependencies=[CsrfChecked])
async def create_user(request: Request, session: DbSession, me: Admin) -> Response:
    form = await read_form(request)
    data = form.parse(UserCreate)
    if data is not None:
        try:
            created = await identity.create_user(session, me.principal, data)
        except ApiError as exc:
            form.refused(exc)
        else:
            return RedirectResponse(
                f"{BASE}/utilisateurs/{created.id}?enregistre=cree", status_code=303
            )
    return _admin_page(
        request,
        me,
        "admin/new_user.html",
        status=422,
        page_title="Nouvel utilisateur",
        organisations=await reference.all_organisations(session),
        form=form,
    )


async def _user_page(
    request: Request,
    session: DbSession,
    me: SignedIn,
    user: User,
    *,
    forms: dict[str, Form] | None = None,
    status: int = 200,
) -> Response:
    organisations = await reference.all_organisations(session)
    return _admin_page(
        request,
        me,
        "admin/user.html",
        status=status,
        page_title=user.display_name,
        user=user,
        organisations=organisations,
        names={o.id: o.name for o in organisations},
        tokens=(await identity.list_tokens(session, user)).items,
        revocable=await identity.revocable_token_ids(session, user),
        forms=forms or {},
        stale=status == 412,
        saved=request.query_params.get("enregistre"),
    )


@router.get(BASE + "/utilisateurs/{user_id}")
async def user_page(
    request: Request, user_id: uuid.UUID, session: DbSession, me: Admin
) -> Response:
    user = await identity.get_user(session, me.principal, user_id)
    return await _user_page(request, session, me, user)


async def _change_user(
    request: Request,
    session: DbSession,
    me: SignedIn,
    user_id: uuid.UUID,
    *,
    key: str,
    fields: frozenset[str],
) -> Response:
    """Apply one of the user page's edit forms (`key`): its version checked, then the
    service's rules; the page again with the form's errors if refused."""
    user = await identity.get_user(session, me.principal, user_id, lock=True)
    form = await read_form(request)
    refused = _current(form, user.version)
    data = None if refused else form.parse(UserUpdate, fields=fields)
    if data is not None:
        cleared = "organisation_id" in form.values and not form.get("organisation_id")
        if "organisation_id" in fields and cleared and user.organisation_id is not None:
            data = UserUpdate.model_validate(data.provided() | {"organisation_id": None})
        refused = await _attempt(form, identity.update_user(session, me.principal, user, data))
    if form.errors:
        return await _user_page(
            request, session, me, user, forms={key: form}, status=refused or 422
        )
    return RedirectResponse(
        f"{BASE}/utilisateurs/{user_id}?enregistre={key}#{key}", status_code=303
    )


@router.post(BASE + "/utilisateurs/{user_id}", dependencies=[CsrfChecked])
async def update_user(
    request: Request, user_id: uuid.UUID, session: DbSession, me: Admin
) -> Response:
    return await _change_user(request, session, me, user_id, key="fiche", fields=USER_FIELDS)


@router.post(BASE + "/utilisateurs/{user_id}/activation", dependencies=[CsrfChecked])
async def activation(
    request: Request, user_id: uuid.UUID, session: DbSession, me: Admin
) -> Response:
    """Disable (its sessions and tokens stop working) or enable a user."""
    return await _change_user(
        request, session, me, user_id, key="compte", fields=frozenset({"active"})
    )


@router.post(BASE + "/utilisateurs/{user_id}/invitation", dependencies=[CsrfChecked])
async def invite(
    request: Request, user_id: uuid.UUID, session: DbSession, me: Admin, settings: AppSettings
) -> Response:
    """A one-use link (7 days) for the person to choose a password, shown on this page
    only; it replaces any unused one, and is how a forgotten password is reset."""
    user = await identity.get_user(session, me.principal, user_id)
    link = await sessions.invite(
        session, me.principal, user, settings.gpo_secret_key.get_secret_value()
    )
    base = settings.public_url
    return _admin_page(
        request,
        me,
        "admin/invitation.html",
        page_title=f"Invitation de {user.display_name}",
        user=user,
        url=f"{base}/console/invitation/{link.secret}",
        expires_at=link.expires_at,
    )


@router.post(BASE + "/utilisateurs/{user_id}/jetons", dependencies=[CsrfChecked])
async def create_token(
    request: Request, user_id: uuid.UUID, session: DbSession, me: Admin, settings: AppSettings
) -> Response:
    """A token for a system acting as the user: its secret on this page only."""
    user = await identity.get_user(session, me.principal, user_id)
    form = await read_form(request)
    # The name is asked for: an empty one is an error, not the API's default name.
    data = form.parse(TokenCreate, name=form.get("name"))
    refused = None
    if data is not None:
        try:
            api_token, secret = await identity.create_token(
                session, me.principal, user, data, settings.gpo_secret_key.get_secret_value()
            )
        except ApiError as exc:
            form.refused(exc)
            refused = exc.status
        else:
            return _admin_page(
                request,
                me,
                "admin/token.html",
                page_title=f"Jeton « {api_token.name} »",
                user=user,
                token=identity.token_out(api_token),
                secret=secret,
            )
    return await _user_page(
        request, session, me, user, forms={"jetons": form}, status=refused or 422
    )


@router.post(
    BASE + "/utilisateurs/{user_id}/jetons/{token_id}/revocation", dependencies=[CsrfChecked]
)
async def revoke_token(
    user_id: uuid.UUID, token_id: uuid.UUID, session: DbSession, me: Admin
) -> Response:
    user = await identity.get_user(session, me.principal, user_id)
    if token_id not in {t.token_id for t in (await identity.list_tokens(session, user)).items}:
        raise NotFound("No such token of this user.")
    await identity.revoke_token(session, me.principal, token_id)
    return RedirectResponse(
        f"{BASE}/utilisateurs/{user_id}?enregistre=revoque#jetons", status_code=303
    )


# Last: any other administration address is an admin's 404 (and anyone else's 403).
@router.get(BASE + "/{anything:path}")
async def not_found(me: Admin) -> Response:
    raise NotFound("No such administration page.")
