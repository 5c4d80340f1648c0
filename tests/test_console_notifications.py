"""The bell, through HTTP as a person's browser sends it: what is due, late or new for the
person, through the access rules (a landlord never reads a restricted problem's title), in
the header's count and on /console/notifications."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import update

from app.core.clock import today_in_paris, utcnow
from app.gpos.models import Gpo
from tests.api import Caller, World
from tests.console import Person, text_of
from tests.intake import submit, triage

Console = Callable[[Caller | None], Awaitable[Person]]
PAGE = "/console/notifications"
BELL = "/console/notifications/cloche"


def day(offset: int) -> str:
    return (today_in_paris() + timedelta(days=offset)).isoformat()


def bell_count(fragment: str) -> int:
    """The count the header's link says in its label (0: nothing)."""
    found = re.search(r'aria-label="Notifications : (\d+) élément', fragment)
    return int(found[1]) if found else 0


async def test_a_landlords_bell_shows_its_actions_not_a_restricted_problems(
    world: World, console: Console
) -> None:
    api = world.api
    landlord = await console(world.landlord_partner)
    assert bell_count((await landlord.get(BELL)).text) == 0
    empty = text_of((await landlord.get(PAGE)).text)
    assert "Rien ne vous attend" in empty

    seen = await api.problem(world.facilitator, world.gpo, title="Halls de la rue de Toul")
    hidden = await api.problem(
        world.facilitator, world.gpo, title="Point de deal du square", visibility="restricted"
    )
    late = await api.action(
        world.facilitator, seen, world.landlord, title="Réparer la porte", due_date=day(-3)
    )
    secret = await api.action(
        world.facilitator, hidden, world.landlord, title="Élaguer les haies", due_date=day(-1)
    )
    soon = await api.action(
        world.facilitator, seen, world.landlord, title="Éclairer le hall", due_date=day(5)
    )
    later = await api.action(
        world.facilitator, seen, world.landlord, title="Poser un digicode", due_date=day(40)
    )
    theirs = await api.action(
        world.facilitator, seen, world.municipal_police, title="Patrouiller", due_date=day(-2)
    )

    fragment = (await landlord.get(BELL)).text
    # Two overdue, one due this week, one newly assigned (since this session began).
    assert bell_count(fragment) == 4, fragment
    assert 'href="/console/notifications"' in fragment

    page = await landlord.get(PAGE)
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    late_part = text.split("Actions en retard (2)")[1].split("À échéance")[0]
    assert late["title"] in late_part
    assert secret["title"] in late_part
    assert soon["title"] in text.split("À échéance dans les 7 jours (1)")[1]
    assert later["title"] in text.split("Nouvelles actions confiées")[1]
    assert theirs["title"] not in text
    # The action on the hidden problem shows, the problem does not.
    assert seen["reference"] in text
    assert hidden["reference"] not in text
    assert "Point de deal" not in text
    assert hidden["id"] not in page.text
    assert "problème non consultable par votre organisation" in text
    # Each entry links to the action's page of the organisation.
    assert f'href="/console/mon-organisation/actions/{late["id"]}"' in page.text
    assert "Signalements à trier" not in text  # a partner triages nothing

    # Another organisation's partner hears nothing of them.
    outsider = await console(world.outsider_partner)
    assert bell_count((await outsider.get(BELL)).text) == 0
    assert late["title"] not in text_of((await outsider.get(PAGE)).text)


async def test_a_facilitators_bell_shows_reports_to_triage_and_late_gpos(
    world: World, console: Console, app: FastAPI
) -> None:
    api = world.api
    first = await console(world.facilitator)
    report = await submit(api, world.landlord_partner)
    async with app.state.database.session(write=True) as session:
        await session.execute(
            update(Gpo)
            .where(Gpo.id == uuid.UUID(world.gpo["id"]))
            .values(next_meeting_due=utcnow() - timedelta(days=3))
        )
        await session.commit()

    facilitator = await console(world.facilitator)  # a new visit: the report is new
    assert bell_count((await facilitator.get(BELL)).text) >= 2
    page = await facilitator.get(PAGE)
    text = text_of(page.text)
    waiting = text.split("Signalements à trier (")[1]
    assert re.match(r"1\)", waiting), waiting[:40]
    assert f"Signalement {report['reference']} nouveau" in waiting
    assert "GPO en retard de réunion (1)" in text
    assert world.gpo["name"] in text.split("GPO en retard de réunion (1)")[1]
    assert f'href="/console/gpo#gpo-{world.gpo["id"]}"' in page.text

    # Triaged, it waits no more; another facilitator (of no GPO) hears of none of it.
    await triage(api, world.facilitator, report, "reject", public_note="Hors du champ du GPO.")
    assert "Signalements à trier" not in text_of((await first.get(PAGE)).text)
    other = text_of((await (await console(world.other_facilitator)).get(PAGE)).text)
    assert report["reference"] not in other
    assert world.gpo["name"] not in other


async def test_a_partner_hears_of_its_report_triaged_since_its_last_visit(
    world: World, console: Console
) -> None:
    api = world.api
    report = await submit(api, world.landlord_partner)
    await console(world.landlord_partner)  # a first visit
    rejected = await triage(
        api, world.facilitator, report, "reject", public_note="Hors du champ du GPO."
    )
    assert rejected.status_code == 200, rejected.text
    landlord = await console(world.landlord_partner)  # the next visit
    page = await landlord.get(PAGE)
    text = text_of(page.text)
    assert f"Signalement {report['reference']} : rejeté" in text
    assert f'href="/console/mon-organisation/signalements/{report["id"]}"' in page.text
    assert bell_count((await landlord.get(BELL)).text) == 1


async def test_the_header_links_to_the_bell_and_loads_its_count_lazily(
    world: World, console: Console
) -> None:
    landlord = await console(world.landlord_partner)
    page = (await landlord.get("/console/mon-organisation")).text
    # Without JavaScript, a plain link; htmx asks for the count once the page has loaded.
    assert re.search(
        r'<a class="[^"]*gpo-bell" href="/console/notifications">Notifications</a>', page
    )
    assert f'hx-get="{BELL}" hx-trigger="load"' in page
    signed_out = await console(None)
    assert (await signed_out.get(BELL)).status_code == 204
    assert (await signed_out.get(PAGE)).status_code == 303
