"""Webhook screens, through HTTP as a browser sends them: a partner's in its organisation's
space, every organisation's in the administration; the secret shown once, edits that keep
what was typed when refused, deletion after confirmation, deliveries and their retry; another
organisation's webhook is a 404."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.webhooks import service as webhooks
from app.webhooks.models import Delivery, DeliveryStatus, Webhook
from tests.api import Api, Caller, World, expect
from tests.console import Person, text_of
from tests.intake import submit, triage

Console = Callable[[Caller | None], Awaitable[Person]]
MINE = "/console/mon-organisation/webhooks"
ADMIN = "/console/administration/webhooks"
SECRET = re.compile(r'id="secret-webhook" value="(whsec_[^"]+)"')


def secret_in(page: str) -> str:
    found = SECRET.search(page)
    assert found, "no secret on the page"
    return html.unescape(found[1])


def version_in(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found is not None
    return found[1]


async def api_webhooks(api: Api, caller: Caller) -> list[dict[str, Any]]:
    return list(expect(await api.get(caller, "/webhooks"), 200)["items"])


async def signing_secret(app: FastAPI, webhook_id: str) -> str:
    """What the service signs with now (derived from its key, never stored)."""
    async with app.state.database.session(write=False) as session:
        webhook = await session.get_one(Webhook, uuid.UUID(webhook_id))
        return webhooks.secret_of(app.state.settings, webhook)


def webhook_form(**fields: Any) -> list[tuple[str, str]]:
    body = [
        ("url", fields.pop("url", "https://si.metzhabitat.example/gpo")),
        ("description", fields.pop("description", "SI de Metz Habitat")),
    ]
    if fields.pop("active", True):
        body.append(("active", "on"))
    body += [("events", e) for e in fields.pop("events", ["report.triaged", "action.overdue"])]
    return body + [(k, str(v)) for k, v in fields.items()]


async def create(person: Person, base: str = MINE, **fields: Any) -> tuple[str, str]:
    """A webhook made through the form: its id and the secret its answering page shows."""
    answer = await person.post(base, webhook_form(**fields))
    assert answer.status_code == 200, text_of(answer.text)[:600]
    found = re.search(rf'href="{re.escape(base)}/([0-9a-f-]{{36}})"', answer.text)
    assert found is not None
    return found[1], secret_in(answer.text)


async def test_a_partner_creates_a_webhook_and_sees_its_secret_once(
    world: World, console: Console, app: FastAPI
) -> None:
    api = world.api
    landlord = await console(world.landlord_partner)
    assert f'href="{MINE}"' in (await landlord.get("/console/mon-organisation")).text
    form = await landlord.get(f"{MINE}/nouveau")
    assert form.status_code == 200, form.text
    text = text_of(form.text)
    for label in ("Signalement trié", "Action en retard", "GPO en retard de réunion"):
        assert label in text  # every event type, in French
    assert form.text.count('name="events"') == 9

    webhook_id, secret = await create(landlord)
    assert secret.startswith("whsec_")
    [stored] = await api_webhooks(api, world.landlord_partner)
    assert stored["id"] == webhook_id
    assert stored["organisation_id"] == world.landlord["id"]
    assert stored["events"] == ["action.overdue", "report.triaged"]
    assert stored["description"] == "SI de Metz Habitat"
    assert stored["active"] is True
    # The secret is the one the service signs with; no other page shows it again.
    assert secret == await signing_secret(app, webhook_id)
    for path in (MINE, f"{MINE}/{webhook_id}", f"{MINE}/{webhook_id}/livraisons"):
        page = await landlord.get(path)
        assert page.status_code == 200, path
        assert "whsec_" not in page.text
    listed = text_of((await landlord.get(MINE)).text)
    assert "https://si.metzhabitat.example/gpo" in listed
    assert "signalement trié" in listed
    assert "action en retard" in listed
    assert "actif" in listed

    # A new secret, shown once; the old one signs no more.
    rotated = await landlord.post(f"{MINE}/{webhook_id}/secret")
    assert rotated.status_code == 200
    renewed = secret_in(rotated.text)
    assert renewed != secret
    assert renewed == await signing_secret(app, webhook_id)
    assert "whsec_" not in (await landlord.get(f"{MINE}/{webhook_id}")).text


async def test_a_refused_form_says_why_next_to_the_field_and_keeps_what_was_typed(
    world: World, console: Console, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    landlord = await console(world.landlord_partner)
    nothing = await landlord.post(MINE, webhook_form(events=[], description="Notre SI"))
    assert nothing.status_code == 422
    assert "Choisissez au moins un événement." in text_of(nothing.text)
    assert 'value="Notre SI"' in nothing.text
    assert 'value="https://si.metzhabitat.example/gpo"' in nothing.text

    relative = await landlord.post(MINE, webhook_form(url="si.example/gpo"))
    assert relative.status_code == 422
    assert "Saisissez une adresse complète" in text_of(relative.text)
    assert 'aria-describedby="url-erreur"' in relative.text

    # Outside development: https only, and never a private or loopback address.
    production = app.state.settings.model_copy(update={"gpo_env": "production"})
    monkeypatch.setattr(app.state, "settings", production)
    plain = await landlord.post(MINE, webhook_form(url="http://si.example/gpo"))
    assert plain.status_code == 422
    assert "L'adresse doit commencer par https://" in text_of(plain.text)
    local = await landlord.post(
        MINE, webhook_form(url="https://127.0.0.1/hook", events=["meeting.held"])
    )
    assert local.status_code == 422
    assert "L'adresse doit être publique" in text_of(local.text)
    # What was typed is still there: the address, the events chosen, the description.
    assert 'value="https://127.0.0.1/hook"' in local.text
    assert re.search(r'value="meeting.held" checked', local.text)
    assert not re.search(r'value="report.triaged" checked', local.text)
    assert await api_webhooks(world.api, world.landlord_partner) == []


async def test_a_partner_edits_and_deletes_its_webhook(world: World, console: Console) -> None:
    api = world.api
    landlord = await console(world.landlord_partner)
    webhook_id, _secret = await create(landlord)
    page = (await landlord.get(f"{MINE}/{webhook_id}")).text
    version = version_in(page)
    edited = await landlord.post(
        f"{MINE}/{webhook_id}",
        webhook_form(
            url="https://si.metzhabitat.example/v2",
            events=["action.assigned"],
            description="",
            active=False,
            version=version,
        ),
    )
    assert edited.status_code == 303, text_of(edited.text)[:500]
    assert "Webhook enregistré." in text_of((await landlord.get(edited.headers["location"])).text)
    [stored] = await api_webhooks(api, world.landlord_partner)
    assert stored["url"] == "https://si.metzhabitat.example/v2"
    assert stored["events"] == ["action.assigned"]
    assert stored["description"] is None
    assert stored["active"] is False

    # A form made from the older version is refused, not applied.
    stale = await landlord.post(
        f"{MINE}/{webhook_id}", webhook_form(url="https://ancien.example/", version=version)
    )
    assert stale.status_code == 412
    assert "modifiée entre-temps" in text_of(stale.text)
    assert (await api_webhooks(api, world.landlord_partner))[0]["url"].endswith("/v2")

    # Deleting asks first; then the webhook is gone.
    confirm = await landlord.get(f"{MINE}/{webhook_id}/suppression")
    assert "Confirmer la suppression" in text_of(confirm.text)
    assert await api_webhooks(api, world.landlord_partner) != []
    deleted = await landlord.post(f"{MINE}/{webhook_id}/suppression")
    assert deleted.status_code == 303
    assert "Webhook supprimé" in text_of((await landlord.get(deleted.headers["location"])).text)
    assert await api_webhooks(api, world.landlord_partner) == []
    assert (await landlord.get(f"{MINE}/{webhook_id}")).status_code == 404


async def delivered_report(world: World, app: FastAPI) -> dict[str, Any]:
    """A landlord's report triaged, its event fanned out into deliveries (a worker's round
    without sending)."""
    report = await submit(world.api, world.landlord_partner)
    answer = await triage(world.api, world.facilitator, report, "reject", public_note="Hors GPO.")
    assert answer.status_code == 200, answer.text
    async with app.state.database.session(write=True) as session:
        assert await webhooks.fan_out(session)
        await session.commit()
    return report


async def test_a_partner_sees_the_deliveries_and_retries_one(
    world: World, console: Console, app: FastAPI
) -> None:
    api = world.api
    landlord = await console(world.landlord_partner)
    webhook_id, _secret = await create(landlord, events=["report.triaged"])
    await delivered_report(world, app)
    [delivery] = expect(
        await api.get(world.landlord_partner, f"/webhooks/{webhook_id}/deliveries"), 200
    )["items"]
    # A day of failures: failed, nothing more planned.
    async with app.state.database.session(write=True) as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id == uuid.UUID(delivery["id"]))
            .values(status=DeliveryStatus.failed, attempts=7, last_status_code=503)
        )
        await session.commit()

    page = await landlord.get(f"{MINE}/{webhook_id}/livraisons")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Signalement trié" in text
    assert "échouée" in text
    assert "code 503" in text
    assert "7" in text
    retried = await landlord.post(f"{MINE}/{webhook_id}/livraisons/{delivery['id']}/relance")
    assert retried.status_code == 303
    after = text_of((await landlord.get(retried.headers["location"])).text)
    assert "Livraison relancée" in after
    assert "en attente" in after
    [again] = expect(
        await api.get(world.landlord_partner, f"/webhooks/{webhook_id}/deliveries"), 200
    )["items"]
    assert again["status"] == "pending"
    assert again["next_attempt_at"] is not None

    # Another organisation's partner: every address of this webhook is a 404.
    outsider = await console(world.outsider_partner)
    base = f"{MINE}/{webhook_id}"
    for path in (base, f"{base}/livraisons", f"{base}/suppression"):
        assert (await outsider.get(path)).status_code == 404, path
    for path in (base, f"{base}/secret", f"{base}/suppression"):
        assert (await outsider.post(path, webhook_form(version="1"))).status_code == 404, path
    assert (await outsider.post(f"{base}/livraisons/{delivery['id']}/relance")).status_code == 404
    assert "si.metzhabitat" not in (await outsider.get(MINE)).text
    assert len(await api_webhooks(api, world.landlord_partner)) == 1
    # A delivery of another webhook is not found through this one.
    other_id, _ = await create(landlord, url="https://autre.example/")
    wrong = await landlord.post(f"{MINE}/{other_id}/livraisons/{delivery['id']}/relance")
    assert wrong.status_code == 404


@pytest.mark.parametrize("who", ["facilitator", "commander"])
async def test_only_partners_and_admins_manage_webhooks(
    world: World, console: Console, who: str
) -> None:
    person = await console(getattr(world, who))
    assert (await person.get(MINE)).status_code == 403
    assert (await person.get(ADMIN)).status_code == 403
    assert (await person.post(MINE, webhook_form())).status_code == 403
    landlord = await console(world.landlord_partner)
    assert (await landlord.get(ADMIN)).status_code == 403
    assert (await person.get("/console/ailleurs/webhooks")).status_code == 404


async def test_an_admin_manages_every_organisations_webhooks(
    world: World, console: Console
) -> None:
    api = world.api
    landlord = await console(world.landlord_partner)
    theirs, _ = await create(landlord)
    admin = await console(await api.user("admin", name="Alice Admin"))
    assert f'href="{ADMIN}"' in (await admin.get("/console/administration")).text

    # The organisation is chosen; without it, the form says so and keeps the rest.
    missing = await admin.post(ADMIN, webhook_form(url="https://tcl.example/hook"))
    assert missing.status_code == 422
    assert "Choisissez l'organisation" in text_of(missing.text)
    assert 'value="https://tcl.example/hook"' in missing.text
    ours, secret = await create(
        admin, ADMIN, url="https://tcl.example/hook", organisation_id=world.outsider_org["id"]
    )
    assert secret.startswith("whsec_")

    listed = await admin.get(ADMIN)
    text = text_of(listed.text)
    assert "https://si.metzhabitat.example/gpo" in text
    assert "https://tcl.example/hook" in text
    assert world.landlord["name"] in text
    assert world.outsider_org["name"] in text
    edited = await admin.post(
        f"{ADMIN}/{theirs}",
        webhook_form(
            events=["meeting.planned"],
            version=version_in((await admin.get(f"{ADMIN}/{theirs}")).text),
        ),
    )
    assert edited.status_code == 303, text_of(edited.text)[:400]
    stored = {w["id"]: w for w in await api_webhooks(api, api.admin)}
    assert stored[theirs]["events"] == ["meeting.planned"]
    assert stored[ours]["organisation_id"] == world.outsider_org["id"]
    # The landlord sees its own, not the other organisation's.
    assert [w["id"] for w in await api_webhooks(api, world.landlord_partner)] == [theirs]
    assert (await landlord.get(f"{MINE}/{ours}")).status_code == 404
