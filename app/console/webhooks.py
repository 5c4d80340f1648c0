"""Webhooks of partners' systems: a partner's in its organisation's space, every
organisation's in the administration.

The same screens at two addresses, `/console/mon-organisation/webhooks` (partners, their
organisation's only) and `/console/administration/webhooks` (admins, any organisation):
the list, a new webhook, its page (edit, a new signing secret, delete), its deliveries with
a "Relancer" button each. The webhook service does the work and audits it, with the access
rules of the API (`access.webhook_scope`): another organisation's webhook is a 404. The
signing secret is shown on the page that answers the creation or the rotation, once (it is
not stored, only derived from the service's key). An edit carries the version it was made
from; a webhook changed meanwhile is not overwritten.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from app.console import listing
from app.console.admin import signed_in_admin
from app.console.auth import CsrfChecked, Person
from app.console.forms import Form, read_form
from app.console.organisation import organisation_member
from app.console.rendering import render
from app.console.routing import ConsoleRoute
from app.core.concurrency import check_if_match
from app.core.db import DbSession
from app.core.errors import ApiError, NotFound
from app.core.outbox import EventType
from app.identity.dependencies import AppSettings
from app.identity.sessions import SignedIn
from app.reference import service as reference
from app.reference.models import Organisation
from app.webhooks import service as webhooks
from app.webhooks.models import Webhook
from app.webhooks.schemas import WebhookCreate, WebhookUpdate, WebhookWithSecret

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
WEBHOOKS_PER_PAGE = 50
DELIVERIES_PER_PAGE = 50
EVENTS_MISSING = "Choisissez au moins un événement."
ORGANISATION_MISSING = "Choisissez l'organisation dont le webhook reçoit les événements."
# The places of the screens: the partner's own space, the administration.
SPACES = {"mon-organisation": False, "administration": True}


@dataclass(frozen=True)
class Space:
    """Who manages webhooks here, and where: an admin (any organisation) or a partner (its
    own organisation's)."""

    me: SignedIn
    base: str
    admin: bool
    organisation: Organisation | None  # the partner's own


async def webhook_space(space: str, session: DbSession, me: Person) -> Space:
    """The screens' place from the address: the administration for admins, the
    organisation's space for partners (anyone else the 403 page of that place)."""
    if space not in SPACES:
        raise NotFound("No such console page.")
    base = f"/console/{space}/webhooks"
    if SPACES[space]:
        return Space(await signed_in_admin(me), base, True, None)
    member = await organisation_member(session, me)
    return Space(member.me, base, False, member.organisation)


WebhookSpace = Annotated[Space, Depends(webhook_space)]


def _page(
    request: Request, space: Space, template: str, *, status: int = 200, **context: Any
) -> Response:
    return render(
        request,
        template,
        me=space.me,
        status=status,
        space=space,
        event_types=list(EventType),
        **context,
    )


async def _names(session: DbSession) -> dict[uuid.UUID, str]:
    return {o.id: o.name for o in await reference.all_organisations(session)}


# --- The list, a new webhook -------------------------------------------------------------


@router.get("/console/{space}/webhooks")
async def webhook_list(request: Request, session: DbSession, space: WebhookSpace) -> Response:
    found = await webhooks.list_webhooks(
        session, space.me.principal, listing.paging(request, WEBHOOKS_PER_PAGE)
    )
    return _page(
        request,
        space,
        "webhooks/list.html",
        page_title="Webhooks",
        webhooks=found.items,
        names=await _names(session) if space.admin else {},
        deleted=request.query_params.get("supprime") == "1",
        next_url=listing.next_page_url(request, found.next_cursor),
        first_url=listing.first_page_url(request),
    )


async def _new_form(
    request: Request,
    session: DbSession,
    space: Space,
    form: Form | None = None,
    *,
    status: int = 200,
) -> Response:
    organisations = await reference.all_organisations(session) if space.admin else []
    return _page(
        request,
        space,
        "webhooks/form.html",
        status=status,
        page_title="Nouveau webhook",
        webhook=None,
        form=form,
        organisations=organisations,
        chosen=request.query_params.get("organisation", ""),
    )


@router.get("/console/{space}/webhooks/nouveau")
async def new_webhook(request: Request, session: DbSession, space: WebhookSpace) -> Response:
    return await _new_form(request, session, space)


def _events_required(form: Form) -> None:
    """No event chosen: said in words next to the checkboxes (not a list's length)."""
    if not form.getlist("events"):
        form.errors["events"] = EVENTS_MISSING


def _secret_page(
    request: Request, space: Space, made: WebhookWithSecret, *, created: bool
) -> Response:
    return _page(
        request,
        space,
        "webhooks/secret.html",
        page_title="Webhook créé" if created else "Nouveau secret du webhook",
        webhook=made,
        secret=made.secret,
        created=created,
    )


@router.post("/console/{space}/webhooks", dependencies=[CsrfChecked])
async def create_webhook(
    request: Request, session: DbSession, space: WebhookSpace, settings: AppSettings
) -> Response:
    """The webhook, then its signing secret on the answering page only."""
    form = await read_form(request)
    # A partner's webhook is its organisation's (the service's default for a partner).
    fields = {"url", "events", "description"} | ({"organisation_id"} if space.admin else set())
    data = form.parse(WebhookCreate, fields=fields, active=bool(form.get("active")))
    _events_required(form)
    if space.admin and not form.get("organisation_id"):
        form.errors["organisation_id"] = ORGANISATION_MISSING
    if data is not None and not form.errors:
        try:
            made = await webhooks.create_webhook(session, space.me.principal, settings, data)
        except ApiError as exc:
            form.refused(exc)
        else:
            return _secret_page(request, space, made, created=True)
    return await _new_form(request, session, space, form, status=422)


# --- One webhook: edit, new secret, delete ------------------------------------------------


async def _webhook_page(
    request: Request,
    session: DbSession,
    space: Space,
    webhook: Webhook,
    form: Form | None = None,
    *,
    status: int = 200,
) -> Response:
    return _page(
        request,
        space,
        "webhooks/form.html",
        status=status,
        page_title=f"Webhook vers {webhook.url}",
        webhook=webhooks.to_out(webhook),
        form=form,
        organisation_name=(await _names(session)).get(webhook.organisation_id, ""),
        saved=request.query_params.get("enregistre") == "1",
        stale=status == 412,
    )


@router.get("/console/{space}/webhooks/{webhook_id}")
async def webhook_page(
    request: Request, webhook_id: uuid.UUID, session: DbSession, space: WebhookSpace
) -> Response:
    webhook = await webhooks.get_webhook(session, space.me.principal, webhook_id)
    return await _webhook_page(request, session, space, webhook)


@router.post("/console/{space}/webhooks/{webhook_id}", dependencies=[CsrfChecked])
async def update_webhook(
    request: Request,
    webhook_id: uuid.UUID,
    session: DbSession,
    space: WebhookSpace,
    settings: AppSettings,
) -> Response:
    """URL, events, description (empty: none) and whether it is active; re-enabling one the
    service disabled clears the reason."""
    principal = space.me.principal
    webhook = await webhooks.get_webhook(session, principal, webhook_id, lock=True)
    form = await read_form(request)
    refused: int | None = None
    try:
        check_if_match(f'"{form.get("version")}"', webhook.version)
    except ApiError as exc:
        form.refused(exc)
        refused = exc.status
    if refused is None:
        data = form.parse(
            WebhookUpdate,
            fields={"url", "events", "description"},
            blanks_clear=True,
            active=bool(form.get("active")),
        )
        _events_required(form)
        if data is not None and not form.errors:
            try:
                await webhooks.update_webhook(session, principal, settings, webhook, data)
            except ApiError as exc:
                form.refused(exc)
                refused = exc.status
    if form.errors:
        return await _webhook_page(request, session, space, webhook, form, status=refused or 422)
    return RedirectResponse(f"{space.base}/{webhook_id}?enregistre=1", status_code=303)


@router.post("/console/{space}/webhooks/{webhook_id}/secret", dependencies=[CsrfChecked])
async def rotate_secret(
    request: Request,
    webhook_id: uuid.UUID,
    session: DbSession,
    space: WebhookSpace,
    settings: AppSettings,
) -> Response:
    """A new signing secret, shown on the answering page only; the old one stops signing."""
    principal = space.me.principal
    webhook = await webhooks.get_webhook(session, principal, webhook_id, lock=True)
    rotated = await webhooks.rotate_secret(session, principal, settings, webhook)
    return _secret_page(request, space, rotated, created=False)


@router.get("/console/{space}/webhooks/{webhook_id}/suppression")
async def confirm_delete(
    request: Request, webhook_id: uuid.UUID, session: DbSession, space: WebhookSpace
) -> Response:
    webhook = await webhooks.get_webhook(session, space.me.principal, webhook_id)
    return _page(
        request,
        space,
        "webhooks/delete.html",
        page_title="Supprimer le webhook",
        webhook=webhooks.to_out(webhook),
    )


@router.post("/console/{space}/webhooks/{webhook_id}/suppression", dependencies=[CsrfChecked])
async def delete_webhook(
    webhook_id: uuid.UUID, session: DbSession, space: WebhookSpace
) -> Response:
    """The webhook and its deliveries, pending ones included."""
    principal = space.me.principal
    webhook = await webhooks.get_webhook(session, principal, webhook_id, lock=True)
    await webhooks.delete_webhook(session, principal, webhook)
    return RedirectResponse(f"{space.base}?supprime=1", status_code=303)


# --- Deliveries -----------------------------------------------------------------------------


@router.get("/console/{space}/webhooks/{webhook_id}/livraisons")
async def deliveries(
    request: Request, webhook_id: uuid.UUID, session: DbSession, space: WebhookSpace
) -> Response:
    """Newest first, a page at a time."""
    webhook = await webhooks.get_webhook(session, space.me.principal, webhook_id)
    found = await webhooks.list_deliveries(
        session, webhook, listing.paging(request, DELIVERIES_PER_PAGE)
    )
    retried = request.query_params.get("relancee")
    return _page(
        request,
        space,
        "webhooks/deliveries.html",
        page_title=f"Livraisons du webhook vers {webhook.url}",
        webhook=webhooks.to_out(webhook),
        deliveries=found.items,
        retried=retried,
        next_url=listing.next_page_url(request, found.next_cursor),
        first_url=listing.first_page_url(request),
    )


@router.post(
    "/console/{space}/webhooks/{webhook_id}/livraisons/{delivery_id}/relance",
    dependencies=[CsrfChecked],
)
async def retry_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: DbSession, space: WebhookSpace
) -> Response:
    """Pending again, due now (a failed one too): the worker sends it on its next round."""
    principal = space.me.principal
    webhook = await webhooks.get_webhook(session, principal, webhook_id, lock=True)
    await webhooks.retry_delivery(session, principal, webhook, delivery_id)
    return RedirectResponse(
        f"{space.base}/{webhook_id}/livraisons?relancee={delivery_id}#livraison-{delivery_id}",
        status_code=303,
    )
