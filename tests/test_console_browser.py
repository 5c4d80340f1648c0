"""The console in a real browser: Debian's Chromium driven by Playwright, against the app
served live on a database of its own (real commits).

Skipped, saying so, when no Chromium is installed; `GPO_REQUIRE_BROWSER=1` (CI) makes a
missing Chromium a failure instead. `GPO_SCREENSHOTS=<folder>` keeps screenshots of the
main screens at 1366×768 (the README's come from there).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    async_playwright,
    expect,
)
from standardwebhooks.webhooks import Webhook as StandardWebhook
from starlette.responses import Response as PlainResponse

from app import worker
from app.config import Settings
from app.core.clock import PARIS
from app.core.db import Database
from app.main import create_app
from tests.api import Api, Caller, World, free_port, live_server
from tests.databases import BOOTSTRAP_TOKEN, Worker, settings_for

pytestmark = [pytest.mark.browser, pytest.mark.commits]

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=fr-FR",  # dates typed as a French person types them (jj/mm/aaaa)
]
PASSWORD = "Le pont des Morts sous la neige"
SCREENSHOTS = os.environ.get("GPO_SCREENSHOTS")


def chromium_path() -> str | None:
    given = os.environ.get("CHROMIUM")
    if given:
        return given
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Site:
    url: str
    api: Api
    world: World
    settings: Settings  # the served app's (its database, for a worker's rounds)


@pytest.fixture(scope="module")
async def site(worker: Worker, world_as_read: World) -> AsyncIterator[Site]:
    async with worker.scratch(world=True) as scratch:
        # No tile server: a police network has none, and the tests must not reach out.
        port = free_port()
        settings = settings_for(scratch.database_url).model_copy(
            update={"gpo_map_tiles_url": "", "gpo_public_url": f"http://127.0.0.1:{port}"}
        )
        with live_server(create_app(settings), port) as (host, port):
            url = f"http://{host}:{port}"
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                api = Api(http, BOOTSTRAP_TOKEN)
                world = World(
                    api=api,
                    **{
                        name: getattr(world_as_read, name)
                        for name in World.__dataclass_fields__
                        if name != "api"
                    },
                )
                yield Site(url, api, world, settings)


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        if os.environ.get("GPO_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium: the browser tests are required here (GPO_REQUIRE_BROWSER=1)")
        pytest.skip(
            "no Chromium installed (Debian: apt-get install chromium): browser tests skipped"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    context = await chromium.new_context(
        viewport={"width": 1366, "height": 768}, locale="fr-FR", timezone_id="Europe/Paris"
    )
    try:
        yield context
    finally:
        await context.close()


class Watched:
    """A page whose console errors (a CSP refusal among them) are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


async def new_page(context: BrowserContext) -> Watched:
    return Watched(await context.new_page())


async def invite_and_choose_password(site: Site, page: Page, caller: Caller) -> None:
    """The way a person starts: the admin's invitation link, a password, signed in."""
    invitation = await site.api.post(site.api.admin, f"/users/{caller.id}/invitations")
    assert invitation.status_code == 201, invitation.text
    link = invitation.json()["invitation_url"]
    await page.goto(link)
    await page.get_by_label("Mot de passe", exact=False).first.fill(PASSWORD)
    await page.get_by_label("Confirmation du mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Enregistrer mon mot de passe").click()
    await page.wait_for_url(re.compile(r"/console(/mon-organisation|/charte\?.*)?$"))
    if "/console/charte" in page.url:  # the first time: the charter, before any page
        await page.get_by_role("button", name="J'accepte la charte").click()
        await page.wait_for_url(re.compile(r"/console(/mon-organisation)?$"))
    await choose_purpose(page, site)


async def choose_purpose(page: Page, site: Site) -> None:
    """Say why one reads police data this session, as the console asks before the first
    page that shows some (asked here up front, so that the tests' pages are the ones they
    name)."""
    back = page.url
    await page.goto(f"{site.url}/console/finalite")
    await page.get_by_label("Finalité").select_option("meeting")
    await page.get_by_role("button", name="Continuer").click()
    await page.goto(back)


async def settled(page: Page) -> None:
    """htmx has sent, swapped and settled what it was doing (as a person waits to see it)."""
    await page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


async def unfold(card: Locator, summary: str | re.Pattern[str]) -> None:
    """Open a folded part of a card (a <details>) by its summary, unless it is open."""
    await settled(card.page)
    details = card.locator("details").filter(has=card.page.locator("summary", has_text=summary))
    if await details.get_attribute("open") is None:
        await details.locator("summary").click()
    await expect(details).to_have_attribute("open", "")


async def screenshot(page: Page, name: str, at: str | None = None) -> None:
    """The viewport at 1366×768, scrolled to the element `at` when given."""
    if SCREENSHOTS:
        if at is not None:
            await page.locator(at).evaluate("node => node.scrollIntoView()")
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, a local folder
        # caret="initial": no style injected to hide the caret (the page's CSP refuses it).
        await page.screenshot(path=str(folder / f"{name}.png"), caret="initial")


async def setup_meeting(site: Site) -> dict[str, Any]:
    """Through the API, as the GPO's people would have left it before the meeting."""
    api, world = site.api, site.world
    fac = world.facilitator
    hall = await api.problem(fac, world.gpo, title="Regroupements dans le hall du 4 rue de Toul")
    rodeo = await api.problem(
        fac, world.gpo, title="Rodéos motorisés rue de Toul", category="rodeo", priority="high"
    )
    for problem in (hall, rodeo):
        assert (await api.move(fac, problem, "open")).status_code == 200
    indicator = await api.post(
        fac,
        f"/problems/{hall['id']}/indicators",
        json={
            "name": "Appels au 17 pour le hall",
            "unit": "appels",
            "direction": "decrease",
            "baseline": {"value": 20, "period_start": "2026-01-01", "period_end": "2026-01-31"},
        },
    )
    assert indicator.status_code == 201, indicator.text
    report = await api.post(
        world.landlord_partner,
        "/reports",
        json={
            "category": "hall_occupation",
            "commune_code": "57463",
            "description": "Jeunes dans le hall chaque soir, porte forcée.",
        },
    )
    assert report.status_code == 201, report.text
    at = (datetime.now(PARIS) + timedelta(hours=2)).replace(microsecond=0)
    meeting = await api.post(
        fac,
        f"/gpos/{world.gpo['id']}/meetings",
        json={"scheduled_at": at.isoformat(), "location": "Commissariat central"},
    )
    assert meeting.status_code == 201, meeting.text
    return {
        "hall": hall,
        "rodeo": rodeo,
        "indicator": indicator.json(),
        "report": report.json(),
        "meeting": meeting.json(),
    }


async def test_a_facilitator_runs_a_meeting_end_to_end(site: Site, context: BrowserContext) -> None:
    scene = await setup_meeting(site)
    watched = await new_page(context)
    page = watched.page
    await invite_and_choose_password(site, page, site.world.facilitator)

    # From Mes GPO to the meeting.
    await page.get_by_role("link", name=re.compile("Ouvrir la réunion")).first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Réunion")
    await screenshot(page, "reunion", at="#signalements")

    # The report is attached to the problem it duplicates.
    report = page.locator(f"#signalement-{scene['report']['id']}")
    await expect(report).to_contain_text(scene["hall"]["reference"])
    await report.get_by_role("button", name="Rattacher").click()
    await expect(page.locator("#signalements")).to_contain_text("Aucun signalement")

    hall = page.locator(f"#probleme-{scene['hall']['id']}")
    rodeo = page.locator(f"#probleme-{scene['rodeo']['id']}")
    # Two problems reviewed.
    for card, note in ((hall, "Regroupements moins fréquents."), (rodeo, "Deux rodéos en mars.")):
        await card.get_by_label("Ce qui a été dit").fill(note)
        await card.get_by_role("button", name="Enregistrer l'examen").click()
        await expect(card).to_contain_text(note)

    # An action decided.
    await unfold(hall, "Décider une action")
    await hall.get_by_label("Intitulé de l'action").fill("Pose d'un contrôle d'accès")
    await hall.get_by_label("Type d'action").select_option(index=1)
    await hall.get_by_label("Confiée à").select_option(label="Metz Habitat Territoire")
    await hall.get_by_label("Échéance").fill("2030-06-30")
    await hall.get_by_role("button", name="Décider l'action").click()
    await expect(hall).to_contain_text("Pose d'un contrôle d'accès")

    # Closing as reduced without evidence is refused, in plain French.
    await unfold(hall, "Changer le statut ou clore")
    await hall.get_by_label("Nouveau statut").select_option(label="clos")
    await hall.get_by_label("Résultat (pour clore)").select_option(label="réduit en nombre")
    await hall.get_by_role("button", name="Appliquer").click()
    await expect(hall.get_by_role("alert")).to_contain_text("demande une preuve")

    # A measurement that shows the result, then the closing is accepted.
    await unfold(hall, re.compile("Saisir une mesure"))
    await hall.get_by_label("Début de la période").fill("2026-02-01")
    await hall.get_by_label("Fin de la période").fill("2026-02-28")
    await hall.get_by_label(re.compile(r"^Valeur")).fill("6")
    await hall.get_by_role("button", name="Enregistrer la mesure").click()
    await expect(hall).to_contain_text("dernière mesure")
    await unfold(hall, "Changer le statut ou clore")
    await hall.get_by_label("Nouveau statut").select_option(label="clos")
    await hall.get_by_label("Résultat (pour clore)").select_option(label="réduit en nombre")
    await hall.get_by_label("Note").fill("Appels au 17 divisés par trois.")

    await hall.get_by_role("button", name="Appliquer").click()
    await expect(page.locator(f"#probleme-{scene['hall']['id']}")).to_have_count(0)

    # The meeting closed, its minutes on screen.
    await page.get_by_role("button", name="Clore la réunion").click()
    await page.wait_for_url(re.compile("/compte-rendu$"))
    minutes = page.locator("main")
    await expect(minutes).to_contain_text("Compte rendu")
    await expect(minutes).to_contain_text("Regroupements moins fréquents.")
    await expect(minutes).to_contain_text("Deux rodéos en mars.")
    await expect(minutes).to_contain_text("Pose d'un contrôle d'accès")
    await expect(minutes).to_contain_text("réduit en nombre")
    assert watched.errors == []

    stored = await site.api.get(site.world.facilitator, f"/problems/{scene['hall']['id']}")
    assert stored.json()["status"] == "closed"
    assert stored.json()["outcome"] == "reduced"


async def test_a_partner_cannot_reach_a_restricted_problem_by_its_address(
    site: Site, context: BrowserContext
) -> None:
    api, world = site.api, site.world
    restricted = await api.problem(
        world.facilitator, world.gpo, title="Point de deal cage d'escalier", category="drug_dealing"
    )
    watched = await new_page(context)
    page = watched.page
    await invite_and_choose_password(site, page, world.municipal_partner)
    await page.goto(f"{site.url}/console/problemes/{restricted['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Page introuvable")
    hidden = await page.locator("main").inner_text()
    await page.goto(f"{site.url}/console/problemes/{uuid.uuid4()}")
    assert await page.locator("main").inner_text() == hidden
    await page.goto(f"{site.url}/console/problemes")
    await expect(page.locator("main")).not_to_contain_text("Point de deal")


async def test_a_new_person_accepts_the_charter_then_prints_a_marked_page(
    site: Site, context: BrowserContext
) -> None:
    api, world = site.api, site.world
    newcomer = await api.user("commander", world.national_police)
    restricted = await api.problem(world.facilitator, world.gpo, category="drug_dealing")
    watched = await new_page(context)
    page = watched.page
    invitation = await api.post(api.admin, f"/users/{newcomer.id}/invitations")
    await page.goto(invitation.json()["invitation_url"])
    await page.get_by_label("Mot de passe", exact=False).first.fill(PASSWORD)
    await page.get_by_label("Confirmation du mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Enregistrer mon mot de passe").click()
    await page.wait_for_url(re.compile(r"/console/charte\?next=/console$"))
    await expect(page.locator("#charte")).to_contain_text("ne pas les transmettre à des tiers")
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="J'accepte la charte").click()
    await page.wait_for_url(re.compile(r"/console$"))
    state = (await api.get(newcomer, "/me/charter")).json()
    assert state["accepted"] is True
    await choose_purpose(page, site)  # then why it reads police data

    await page.goto(f"{site.url}/console/problemes/{restricted['id']}")
    await page.emulate_media(media="print")
    notice = page.locator(".fr-notice")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("DIFFUSION RESTREINTE")
    await expect(page.locator(".fr-header")).to_be_hidden()
    assert watched.errors == []


async def test_sign_in_waits_after_ten_failures(site: Site, context: BrowserContext) -> None:
    watched = await new_page(context)
    page = watched.page
    await invite_and_choose_password(site, page, site.world.outsider_partner)
    await context.clear_cookies()
    email = site.world.outsider_partner.user["email"]

    async def attempt(password: str) -> None:
        await page.goto(f"{site.url}/console/login")
        await page.get_by_label("Adresse électronique").fill(email)
        await page.get_by_label("Mot de passe").fill(password)
        await page.get_by_role("button", name="Se connecter").click()

    # Nine wrong passwords sent as a script would (the HTTP tests cover each answer)...
    async with httpx.AsyncClient(base_url=site.url) as robot:
        for _ in range(9):
            form = await robot.get("/console/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token
            answer = await robot.post(
                "/console/login",
                data={"email": email, "password": "mauvais", "csrf_token": token[1]},
            )
            assert answer.status_code == 401
    # ...the tenth in the browser, then even the right one waits.
    await attempt("mauvais mot de passe")
    await expect(page.get_by_role("alert")).to_contain_text("incorrect")
    await attempt(PASSWORD)
    await expect(page.get_by_role("alert")).to_contain_text("Trop de tentatives")
    assert page.url.endswith("/console/login")


async def test_the_meeting_screen_works_with_the_keyboard_alone(
    site: Site, context: BrowserContext
) -> None:
    scene = await setup_meeting(site)
    watched = await new_page(context)
    page = watched.page
    await invite_and_choose_password(site, page, site.world.facilitator)
    await page.goto(f"{site.url}/console/reunions/{scene['meeting']['id']}")

    # The first Tab reaches the skip links; following one lands in the content.
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Contenu"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "contenu"

    # Tab along to the review of the first problem, type the note, send it with Enter.
    textarea = page.locator(f"#examen-{scene['rodeo']['id']}")
    for _ in range(80):
        await page.keyboard.press("Tab")
        if await textarea.evaluate("node => node === document.activeElement"):
            break
    else:
        pytest.fail("the review field is not reachable with Tab")
    await page.keyboard.type("Vu au clavier seul.")
    # Past the level of the note (left at the problem's), to the button.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.name") == "visibility"
    await page.keyboard.press("Tab")
    button = await page.evaluate("document.activeElement.textContent.trim()")
    assert button == "Enregistrer l'examen"
    await page.keyboard.press("Enter")
    await expect(page.locator(f"#probleme-{scene['rodeo']['id']}")).to_contain_text(
        "Vu au clavier seul."
    )
    # Every focusable element shows where the focus is (the DSFR's outline).
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    assert watched.errors == []


async def axe_violations(page: Page) -> list[str]:
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def test_the_main_screens_have_no_serious_accessibility_violation(
    site: Site, context: BrowserContext
) -> None:
    scene = await setup_meeting(site)
    watched = await new_page(context)
    page = watched.page
    await page.goto(f"{site.url}/console/login")
    found = {"login": await axe_violations(page)}
    await invite_and_choose_password(site, page, site.world.facilitator)
    screens = {
        "mes-gpo": "/console",
        "reunion": f"/console/reunions/{scene['meeting']['id']}",
        "problemes": "/console/problemes",
        "carte": "/console/problemes?vue=carte",
        "probleme": f"/console/problemes/{scene['hall']['id']}",
        "compte-rendu": f"/console/reunions/{scene['meeting']['id']}/compte-rendu",
    }
    for name, path in screens.items():
        await page.goto(site.url + path)
        found[name] = await axe_violations(page)
        if name == "probleme":
            await screenshot(page, "probleme")
    # The screens of the other roles, each signed in in a browser of its own.
    others = [
        (
            site.world.landlord_partner,
            {
                "mon-organisation": "/console/mon-organisation",
                "signalement": "/console/mon-organisation/signalements/nouveau",
            },
        ),
        (
            Caller(
                site.world.admin.token,
                (await site.api.get(site.world.admin, "/me")).json()["user"],
            ),
            {
                "administration": "/console/administration",
                "utilisateurs": "/console/administration/utilisateurs",
                "organisations": "/console/administration/organisations",
            },
        ),
    ]
    for caller, paths in others:
        await page.context.clear_cookies()
        await invite_and_choose_password(site, page, caller)
        for name, path in paths.items():
            await page.goto(site.url + path)
            found[name] = await axe_violations(page)
    assert {name: v for name, v in found.items() if v} == {}
    assert watched.errors == []


async def test_the_printable_minutes_of_the_api_keep_their_style(
    site: Site, chromium: Browser
) -> None:
    """The HTML minutes carry their stylesheet inline (a page meant to be saved): the CSP
    allows that one stylesheet by its digest, and nothing else."""
    scene = await setup_meeting(site)
    context = await chromium.new_context(
        extra_http_headers={
            "Authorization": f"Bearer {site.world.facilitator.token}",
            "Accept": "text/html",
        }
    )
    try:
        watched = await new_page(context)
        page = watched.page
        await page.goto(f"{site.url}/api/v1/meetings/{scene['meeting']['id']}/minutes")
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Compte rendu")
        border = await page.evaluate(
            "getComputedStyle(document.querySelector('h1')).borderBottomStyle"
        )
        assert border == "solid"
        assert watched.errors == []
    finally:
        await context.close()


async def test_a_landlord_sends_a_report_and_updates_its_action(
    site: Site, context: BrowserContext
) -> None:
    api, world = site.api, site.world
    near = {"lat": 49.1072, "lon": 6.2105}
    tracked = await api.problem(
        world.facilitator,
        world.gpo,
        title="Hall du 12 rue de Toul squatté",
        location=near,
    )
    action = await api.action(
        world.facilitator, tracked, world.landlord, title="Changer le digicode du hall B"
    )
    watched = await new_page(context)
    page = watched.page
    await invite_and_choose_password(site, page, world.landlord_partner)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Mon organisation")

    # A report, with the problem it may duplicate shown after sending.
    await page.get_by_role("link", name="Envoyer un signalement").click()
    await page.get_by_label("Catégorie").select_option(label="Occupation des halls d'immeuble")
    await page.get_by_label("Description").fill("Regroupements chaque soir dans le hall B.")
    await page.get_by_label("Commune").select_option(label="Metz")
    await page.get_by_label("Latitude").fill("49,1073")
    await page.get_by_label("Longitude").fill("6,2106")
    await page.get_by_role("button", name="Envoyer le signalement").click()
    main = page.locator("main")
    await expect(main).to_contain_text(re.compile(r"R-\d{4}-\d{6}"))
    await expect(main).to_contain_text("Doublons possibles")
    await expect(main).to_contain_text(tracked["reference"])
    await screenshot(page, "signalement")

    # The action the GPO gave the organisation: done, with what was done.
    await page.get_by_role("link", name="Mon organisation").first.click()
    card = page.locator(f"#action-{action['id']}")
    await card.get_by_label("Statut").select_option(label="réalisée")
    await card.get_by_label("Résultat").fill("Digicode changé le 3 décembre.")
    await card.get_by_role("button", name="Enregistrer").click()
    await expect(page.locator("main")).to_contain_text("Action enregistrée.")
    stored = await api.get(world.landlord_partner, f"/actions/{action['id']}")
    assert stored.json()["status"] == "done"
    assert stored.json()["result_note"] == "Digicode changé le 3 décembre."
    assert watched.errors == []


async def test_a_commander_reads_the_dashboard(site: Site, context: BrowserContext) -> None:
    api, world = site.api, site.world
    late = await api.problem(world.facilitator, world.gpo, title="Épaves rue Lothaire")
    await api.action(
        world.facilitator, late, world.municipal_police, title="Enlèvement", due_date="2026-01-05"
    )
    watched = await new_page(context)
    page = watched.page
    await invite_and_choose_password(site, page, world.commander)
    await page.get_by_role("link", name="Tableau de bord").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    main = page.locator("main")
    # The overdue action's organisation is among the charts' figures, and the year's tables.
    await expect(main).to_contain_text("Police municipale de Metz")
    await expect(main.locator("svg[role=img]").first).to_be_visible()
    await expect(main).to_contain_text("Évaluation annuelle")
    await screenshot(page, "tableau-de-bord", at="#vue-ensemble")
    async with page.expect_download() as download:
        await page.get_by_role("link", name=re.compile("Télécharger l'évaluation .*CSV")).click()
    saved = await download.value
    assert saved.suggested_filename.startswith("evaluation-gpo-")
    assert saved.suggested_filename.endswith(".csv")
    async with page.expect_download() as download:
        await page.get_by_role("link", name=re.compile("Télécharger l'évaluation .*XLSX")).click()
    saved = await download.value
    assert saved.suggested_filename.endswith(".xlsx")
    assert watched.errors == []
    found = await axe_violations(page)
    assert found == []


async def test_the_screens_fit_a_phone(site: Site, chromium: Browser) -> None:
    """At 375 px wide, nothing needs a sideways scroll but the tables, which scroll inside
    their frame (DSFR)."""
    scene = await setup_meeting(site)
    context = await chromium.new_context(
        viewport={"width": 375, "height": 740}, locale="fr-FR", is_mobile=True, has_touch=True
    )
    try:
        page = (await new_page(context)).page
        await invite_and_choose_password(site, page, site.world.facilitator)
        for path in (
            "/console",
            f"/console/reunions/{scene['meeting']['id']}",
            "/console/problemes",
            f"/console/problemes/{scene['hall']['id']}",
            "/console/tableau-de-bord",
        ):
            await page.goto(site.url + path)
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, overflow)
        # The menu folds into its button, which opens it.
        await page.get_by_role("button", name="Menu").click()
        await expect(page.get_by_role("link", name="Problèmes")).to_be_visible()
    finally:
        await context.close()


async def test_a_partner_registers_a_webhook_and_retries_a_delivery(
    site: Site, context: BrowserContext
) -> None:
    """Its secret shown once (the one the receiver verifies with), an edit, the deliveries of
    a real receiver that fails first, one retried; the header's bell says its count."""
    api, world = site.api, site.world
    received: list[tuple[dict[str, str], bytes]] = []
    answers = [500]
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> PlainResponse:
        received.append((dict(request.headers), await request.body()))
        return PlainResponse(status_code=answers.pop(0) if answers else 204)

    database = Database(site.settings)

    async def worker_rounds() -> None:
        async with worker.http_client() as client:
            while await worker.run_once(database, site.settings, client):
                pass

    # Events of the module's other tests, not fanned out yet (no worker runs here): out
    # before the webhook exists, so that it hears of this test's report only.
    await worker_rounds()
    partner = await api.user("partner", world.landlord, name="Lucie Bailleur")
    watched = await new_page(context)
    page = watched.page
    main = page.locator("main")
    try:
        with live_server(receiver) as (host, port):
            url = f"http://{host}:{port}/hook"
            await invite_and_choose_password(site, page, partner)
            await settled(page)
            bell = page.locator("header .gpo-bell").first
            await expect(bell).to_have_attribute("aria-label", re.compile(r"^Notifications : "))

            await page.get_by_role("link", name="Webhooks de l'organisation").click()
            await page.get_by_role("link", name="Nouveau webhook").click()
            await page.get_by_label("Adresse de réception (URL)").fill(url)
            # The DSFR's label covers its checkbox: a person clicks the label.
            await page.locator("label", has_text="Signalement trié").click()
            await expect(page.get_by_label("Signalement trié")).to_be_checked()
            await page.get_by_label("Description").fill("SI de Metz Habitat")
            await page.get_by_role("button", name="Créer le webhook").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("Webhook créé")
            secret = await page.get_by_label("Secret de signature").input_value()
            assert secret.startswith("whsec_")
            assert await axe_violations(page) == []

            # Shown once: the webhook's own page does not show it again.
            await page.get_by_role("link", name="Voir le webhook").click()
            assert "whsec_" not in await page.content()
            await page.get_by_label("Description").fill("SI de Metz Habitat (recette)")
            await page.get_by_role("button", name="Enregistrer le webhook").click()
            await expect(main).to_contain_text("Webhook enregistré.")
            await expect(page.get_by_label("Description")).to_have_value(
                "SI de Metz Habitat (recette)"
            )
            assert await axe_violations(page) == []

            # A report of the organisation triaged: the receiver first answers 500.
            report = await api.post(
                partner,
                "/reports",
                json={
                    "category": "hall_occupation",
                    "commune_code": "57463",
                    "description": "Porte du hall forcée chaque nuit.",
                },
            )
            assert report.status_code == 201, report.text
            triaged = await api.post(
                world.facilitator,
                f"/reports/{report.json()['id']}/triage",
                json={"decision": "reject", "public_note": "Hors du champ du GPO."},
            )
            assert triaged.status_code == 200, triaged.text
            await worker_rounds()
            assert len(received) == 1

            await page.get_by_role("link", name="Voir les livraisons").click()
            row = page.locator("tbody tr").first
            await expect(row).to_contain_text("Signalement trié")
            await expect(row).to_contain_text("en attente")
            await expect(row).to_contain_text("code 500")
            assert await axe_violations(page) == []
            await row.get_by_role("button", name=re.compile("^Relancer")).click()
            await expect(main).to_contain_text("Livraison relancée")

            # Sent again with the same id; signed with the secret the page showed.
            await worker_rounds()
            assert len(received) == 2
            (first_headers, _), (headers, body) = received
            assert headers["webhook-id"] == first_headers["webhook-id"]
            payload = StandardWebhook(secret).verify(body, headers)
            assert payload["type"] == "report.triaged"
            await page.reload()
            await expect(page.locator("tbody tr").first).to_contain_text("réussie")
    finally:
        await database.dispose()
    assert watched.errors == []
