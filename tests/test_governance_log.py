"""The access log of reads of police data, its hash chain and the audit events' (issue 12,
item 4), through HTTP; tampering is done directly in the database."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from app import wording, worker
from app.cli import main
from app.core import audit
from app.core.audit import AuditEvent
from app.core.clock import PARIS
from app.core.db import DriverSavepoint, savepoint
from app.governance import retention
from app.identity.models import ConsoleSession
from app.identity.tokens import token_hash
from app.reference.models import Organisation, OrganisationKind
from tests.api import Api, Caller, World, every_page, expect, problem_of
from tests.console import Person, browser, open_session_for
from tests.databases import SECRET_KEY
from tests.test_figures_same import generate
from tests.test_indicators import add_indicator
from tests.test_meetings import set_problem

LOG = "/governance/access-log"
NEXT_TO_LAST = {
    table: f"SELECT id, seq FROM {table} ORDER BY seq DESC LIMIT 1 OFFSET 1"  # noqa: S608
    for table in ("access_log", "audit_events")
}


async def police_problem(world: World, **extra: Any) -> dict[str, Any]:
    return await world.api.problem(world.facilitator, world.gpo, visibility="police", **extra)


async def entries(api: Api, **params: str) -> list[dict[str, Any]]:
    return await every_page(api, api.admin, LOG, params)


async def auditor(api: Api) -> Caller:
    return await api.user("auditor")


async def verify(api: Api) -> dict[str, Any]:
    return dict(expect(await api.get(api.admin, "/governance/verify"), 200))


async def test_a_read_of_a_police_problem_writes_one_entry_with_its_id(world: World) -> None:
    api, reader = world.api, world.municipal_partner
    problem = await police_problem(world)
    before = await entries(api)

    response = await api.get(
        reader, f"/problems/{problem['id']}", headers={"X-Access-Purpose": "follow_up"}
    )
    expect(response, 200)
    assert response.headers["cache-control"] == "no-store"

    after = await entries(api)
    assert len(after) == len(before) + 1
    entry = after[0]
    assert entry["resource_type"] == "problem"
    assert entry["resource_ids"] == [problem["id"]]
    assert entry["user_id"] == reader.id
    assert entry["organisation_id"] == world.municipal_police["id"]
    assert entry["purpose"] == "follow_up"
    assert entry["route"] == "/api/v1/problems/{problem_id}"
    assert entry["session_or_token_id"] is not None
    assert entry["request_id"] == response.headers["x-request-id"]
    assert len(entry["hash"]) == 64
    assert entry["prev_hash"] != entry["hash"]


async def test_a_partners_only_read_writes_nothing(world: World) -> None:
    api, reader = world.api, world.landlord_partner
    problem = await api.problem(world.facilitator, world.gpo, visibility="partners")
    before = await entries(api)
    for path in (
        f"/problems/{problem['id']}",
        f"/problems/{problem['id']}/comments",
        f"/problems/{problem['id']}/timeline",
        "/problems",
    ):
        response = await api.get(reader, path)
        expect(response, 200)
        assert response.headers.get("cache-control") != "no-store", path
    assert await entries(api) == before


async def test_a_list_writes_one_entry_with_the_police_ids_it_returned(world: World) -> None:
    api, fac = world.api, world.facilitator
    police = [await police_problem(world) for _ in range(3)]
    restricted = await api.problem(fac, world.gpo, category="drug_dealing")
    shared = await api.problem(fac, world.gpo, visibility="partners")
    before = await entries(api)

    listed = expect(await api.get(world.commander, "/problems", params={"limit": 200}), 200)
    assert {shared["id"]} <= {item["id"] for item in listed["items"]}

    after = await entries(api)
    assert len(after) == len(before) + 1
    logged = set(after[0]["resource_ids"])
    assert logged == {p["id"] for p in [*police, restricted]}
    assert after[0]["purpose"] == "unspecified"


async def test_a_list_of_actions_logs_those_at_a_police_level_or_on_a_police_problem(
    world: World,
) -> None:
    api, fac = world.api, world.facilitator
    shared = await api.problem(fac, world.gpo, visibility="partners")
    police = await police_problem(world)
    plain = await api.action(fac, shared, world.municipal_police)
    own_level = await api.action(fac, shared, world.municipal_police, visibility="police")
    on_police = await api.action(fac, police, world.municipal_police)
    before = await entries(api)

    params = {"problem_id": shared["id"]}
    listed = expect(await api.get(world.commander, "/actions", params=params), 200)
    assert {item["id"] for item in listed["items"]} == {plain["id"], own_level["id"]}
    listed = expect(await api.get(world.commander, "/actions", params={"limit": 200}), 200)
    assert {plain["id"], own_level["id"], on_police["id"]} <= {i["id"] for i in listed["items"]}

    after = await entries(api)
    assert len(after) == len(before) + 2
    assert after[1]["resource_ids"] == [own_level["id"]]
    assert after[1]["resource_type"] == "action"
    assert {own_level["id"], on_police["id"]} <= set(after[0]["resource_ids"])
    assert plain["id"] not in after[0]["resource_ids"]

    listed = expect(await api.get(world.commander, "/actions", params={"status": "done"}), 200)
    assert await entries(api) == after  # nothing at a logged level: no entry


async def test_comments_timeline_actions_and_exports_are_logged(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await police_problem(world, location={"lat": 49.1072, "lon": 6.2105})
    action = await api.action(fac, problem, world.municipal_police)
    expect(
        await api.post(
            fac,
            f"/problems/{problem['id']}/comments",
            json={"body": "Vu ce soir.", "visibility": "police"},
        ),
        201,
    )
    indicator = await add_indicator(api, fac, problem)
    reads = [
        (f"/problems/{problem['id']}/indicators", {}, "problem", problem["id"]),
        (f"/indicators/{indicator['id']}", {}, "problem", problem["id"]),
        (f"/problems/{problem['id']}/comments", {}, "problem", problem["id"]),
        (f"/problems/{problem['id']}/timeline", {}, "problem", problem["id"]),
        ("/problems", {"Accept": "application/geo+json"}, "problem", problem["id"]),
        (f"/actions/{action['id']}", {}, "action", action["id"]),
        ("/actions", {}, "action", action["id"]),
    ]
    for path, headers, kind, wanted in reads:
        before = await entries(api)
        response = await api.get(world.municipal_partner, path, headers=headers)
        expect(response, 200)
        assert response.headers.get("cache-control") == "no-store", path
        after = await entries(api)
        assert len(after) == len(before) + 1, path
        assert after[0]["resource_type"] == kind, path
        assert wanted in after[0]["resource_ids"], path


async def test_agenda_and_minutes_are_logged_in_every_format(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await police_problem(world)
    when = datetime.now(UTC).replace(microsecond=0)
    meeting = expect(
        await api.post(
            fac, f"/gpos/{world.gpo['id']}/meetings", json={"scheduled_at": when.isoformat()}
        ),
        201,
    )
    expect(
        await api.post(
            fac,
            f"/meetings/{meeting['id']}/reviews",
            json={"problem_id": problem["id"], "note": "Point fait."},
        ),
        201,
    )
    for path, accept in (
        (f"/meetings/{meeting['id']}/agenda", None),
        (f"/meetings/{meeting['id']}/minutes", None),
        (f"/meetings/{meeting['id']}/minutes", "text/html"),
    ):
        before = await entries(api)
        response = await api.get(
            fac,
            path,
            headers={"X-Access-Purpose": "meeting", **({"Accept": accept} if accept else {})},
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store", path
        after = await entries(api)
        assert len(after) == len(before) + 1, path
        assert problem["id"] in after[0]["resource_ids"]
        assert after[0]["purpose"] == "meeting"


async def test_an_unknown_purpose_is_refused_on_the_header(world: World) -> None:
    problem = await police_problem(world)
    response = await world.api.get(
        world.commander, f"/problems/{problem['id']}", headers={"X-Access-Purpose": "curiosity"}
    )
    body = problem_of(response, 422)
    assert body["errors"][0]["loc"] == ["header", "X-Access-Purpose"]


async def test_the_auditor_reads_the_log_and_nothing_else(world: World) -> None:
    api = world.api
    problem = await police_problem(world)
    action = await api.action(world.facilitator, problem, world.municipal_police)
    expect(await api.get(world.commander, f"/problems/{problem['id']}"), 200)
    reader = await auditor(api)

    logged = expect(await api.get(reader, LOG), 200)
    assert logged["items"]
    assert expect(await api.get(reader, "/governance/verify"), 200)["ok"] is True

    for path in (
        f"/problems/{problem['id']}",
        f"/actions/{action['id']}",
        f"/gpos/{world.gpo['id']}",
    ):
        expect(await api.get(reader, path), 404)
    for path in ("/problems", "/actions", "/gpos", "/reports"):
        assert expect(await api.get(reader, path), 200)["items"] == [], path
    expect(await api.get(reader, f"/problems/{problem['id']}/timeline"), 404)
    expect(await api.get(reader, f"/gpos/{world.gpo['id']}/meetings"), 404)
    expect(await api.get(reader, "/stats/overview"), 403)
    expect(await api.get(reader, "/evaluations/annual"), 403)
    expect(await api.get(reader, "/users"), 403)
    assert expect(await api.get(reader, "/me"), 200)["role"] == "auditor"
    comment = {"body": "Essai", "visibility": "police"}
    expect(await api.post(reader, f"/problems/{problem['id']}/comments", json=comment), 404)
    expect(await api.post(reader, "/gpos", json={"name": "GPO", "kind": "general"}), 403)
    # Nor do partners, facilitators and commanders read the log.
    for caller in (world.commander, world.facilitator, world.police_partner):
        expect(await api.get(caller, LOG), 403)
        expect(await api.get(caller, "/governance/verify"), 403)


async def test_the_log_filters_by_user_resource_and_dates_and_exports_csv(world: World) -> None:
    api = world.api
    first, second = await police_problem(world), await police_problem(world)
    expect(await api.get(world.commander, f"/problems/{first['id']}"), 200)
    expect(await api.get(world.municipal_partner, f"/problems/{second['id']}"), 200)
    expect(await api.get(world.municipal_partner, f"/problems/{first['id']}"), 200)

    by_user = await entries(api, user_id=world.municipal_partner.id)
    assert {tuple(e["resource_ids"]) for e in by_user} == {(first["id"],), (second["id"],)}
    by_resource = await entries(api, resource_id=first["id"])
    # The facilitator's create answered the problem: a read of it too.
    readers = {world.facilitator.id, world.commander.id, world.municipal_partner.id}
    assert {e["user_id"] for e in by_resource} == readers
    today = datetime.now(UTC).date()
    assert len(await entries(api, resource_id=first["id"], **{"from": today.isoformat()})) == 3
    tomorrow = (today + timedelta(days=2)).isoformat()
    assert await entries(api, **{"from": tomorrow}) == []
    yesterday = (today - timedelta(days=2)).isoformat()
    assert await entries(api, to=yesterday) == []
    # Pages follow one another without a gap.
    paged = await every_page(api, api.admin, LOG, {"resource_id": first["id"]}, limit=1)
    assert paged == by_resource

    response = await api.get(
        api.admin, LOG, params={"resource_id": first["id"]}, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].split(";")[:3] == ["id", "at", "user_id"]
    assert len(lines) == 4
    assert all(first["id"] in line for line in lines[1:])


async def _tamper(database: Any, statement: str, params: dict[str, Any]) -> None:
    """Change a row behind the triggers' back, as someone with the database's keys could."""
    async with database.session(write=True) as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SET session_replication_role = replica"))
            await session.execute(text(statement), params)
            await session.execute(text("SET session_replication_role = origin"))
        else:
            triggers = (
                await session.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                )
            ).all()
            for name, _sql in triggers:
                await session.execute(text(f"DROP TRIGGER {name}"))
            await session.execute(text(statement), params)
            for _name, sql in triggers:
                await session.execute(text(sql))
        await session.commit()


async def test_the_log_and_the_audit_events_are_insert_only(world: World, database: Any) -> None:
    problem = await police_problem(world)
    expect(await world.api.get(world.commander, f"/problems/{problem['id']}"), 200)
    for statement in (
        "UPDATE access_log SET purpose = 'audit'",
        "DELETE FROM access_log",
        "UPDATE audit_events SET summary = 'rien'",
        "DELETE FROM audit_events",
    ):
        async with database.session(write=True) as session:
            with pytest.raises(Exception, match="insert-only"):
                await session.execute(text(statement))
            await session.rollback()


@pytest.mark.parametrize(
    ("statement", "chain"),
    [
        ("UPDATE access_log SET purpose = 'audit' WHERE id = :id", "access_log"),
        ("DELETE FROM access_log WHERE id = :id", "access_log"),
        ("UPDATE audit_events SET summary = 'Rien à signaler' WHERE id = :id", "audit_events"),
    ],
)
async def test_verify_reports_the_first_entry_tampered_with(
    world: World, database: Any, statement: str, chain: str
) -> None:
    api = world.api
    problem = await police_problem(world)
    for _ in range(3):
        expect(await api.get(world.commander, f"/problems/{problem['id']}"), 200)
    healthy = await verify(api)
    assert healthy["ok"] is True
    assert healthy["first_broken_at"] is None
    assert healthy["entries"] >= 3

    async with database.session(write=False) as session:
        victim, seq = (await session.execute(text(NEXT_TO_LAST[chain]))).one()
    await _tamper(database, statement, {"id": victim})

    broken = await verify(api)
    assert broken["ok"] is False
    assert broken["first_broken_at"]["chain"] == chain
    # A changed row breaks at itself; a deleted one at the row after it.
    assert broken["first_broken_at"]["seq"] in (seq, seq + 1)


@pytest.mark.commits
async def test_concurrent_reads_and_writes_make_one_unbroken_chain(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await police_problem(world)
    before = await entries(api)

    async def read() -> None:
        expect(await api.get(world.commander, f"/problems/{problem['id']}"), 200)

    async def comment(n: int) -> None:
        body = {"body": f"Passage {n}", "visibility": "police"}
        expect(await api.post(fac, f"/problems/{problem['id']}/comments", json=body), 201)

    await asyncio.gather(*(read() for _ in range(16)), *(comment(n) for n in range(8)))

    assert len(await entries(api)) == len(before) + 16
    checked = await verify(api)
    assert checked == {"ok": True, "entries": checked["entries"], "first_broken_at": None}


@pytest.mark.commits
async def test_an_event_a_rolled_back_savepoint_took_away_is_no_link(
    world: World, database: Any
) -> None:
    """Events written inside a savepoint that is then rolled back are gone; those around
    it are sealed at the commit, and the chain has no hole where the others were."""
    api = world.api

    def event(n: int) -> dict[str, Any]:
        return audit.event_row(
            None, action="test.event", resource_type="test", resource_id=str(n), summary=str(n)
        )

    async with database.session(write=True) as session:
        kept = [await audit.insert_event(session, event(1))]
        savepoint = await session.begin_nested()
        await audit.insert_event(session, event(2))
        await savepoint.rollback()
        kept.append(await audit.insert_event(session, event(3)))
        await session.commit()
        stored = await session.execute(
            select(AuditEvent.id, AuditEvent.seq).where(AuditEvent.action == "test.event")
        )
        sealed = dict(stored.all())
    assert set(sealed) == set(kept)
    assert sealed[kept[1]] == sealed[kept[0]] + 1
    checked = await verify(api)
    assert checked == {"ok": True, "entries": checked["entries"], "first_broken_at": None}


@pytest.mark.commits
async def test_a_refusal_rolls_back_to_the_claims_savepoint_and_forgets_what_followed(
    world: World, database: Any
) -> None:
    """The savepoint an Idempotency-Key's claim takes (the driver's, while it alone holds the
    transaction on PostgreSQL; SQLAlchemy's otherwise): rolling back to it takes away what
    followed, events written straight and objects the ORM flushed or only added, and the
    events around it are sealed at the commit with no hole between them."""
    api = world.api

    def event(n: int) -> dict[str, Any]:
        return audit.event_row(
            None, action="test.claim", resource_type="test", resource_id=str(n), summary=str(n)
        )

    names = [f"Bailleur {n} {uuid.uuid4().hex[:8]}" for n in range(3)]
    async with database.session(write=True) as session:
        kept = [await audit.insert_event(session, event(1))]
        taken = await savepoint(session)
        if database.settings.is_sqlite:
            assert not isinstance(taken, DriverSavepoint)
        else:
            assert isinstance(taken, DriverSavepoint)
        await audit.insert_event(session, event(2))
        session.add(Organisation(name=names[0], kind=OrganisationKind.landlord))
        await session.flush()
        session.add(Organisation(name=names[1], kind=OrganisationKind.landlord))
        assert taken.is_active
        await taken.rollback()
        assert not taken.is_active
        kept.append(await audit.insert_event(session, event(3)))
        session.add(Organisation(name=names[2], kind=OrganisationKind.landlord))
        await session.commit()
    async with database.session(write=False) as session:
        stored = await session.execute(
            select(AuditEvent.id, AuditEvent.seq).where(AuditEvent.action == "test.claim")
        )
        sealed = dict(stored.all())
        organisations = await session.scalars(
            select(Organisation.name).where(Organisation.name.in_(names))
        )
        assert list(organisations) == [names[2]]
    assert set(sealed) == set(kept)
    assert sealed[kept[1]] == sealed[kept[0]] + 1
    checked = await verify(api)
    assert checked == {"ok": True, "entries": checked["entries"], "first_broken_at": None}


@pytest.mark.commits
async def test_a_claims_savepoint_ends_with_its_transaction(world: World, database: Any) -> None:
    """A savepoint whose whole transaction was rolled back (the route does so on an
    IntegrityError before it refuses) is no longer there to roll back to: the refusal is
    then not stored, instead of failing on a savepoint the database no longer has."""
    async with database.session(write=True) as session:
        await audit.insert_event(
            session,
            audit.event_row(
                None, action="test.claim", resource_type="test", resource_id="1", summary="1"
            ),
        )
        taken = await savepoint(session)
        assert taken.is_active
        await session.rollback()
        assert not taken.is_active


REFUSE_ENTRIES = {
    "postgresql": [
        "CREATE FUNCTION refuse_entries() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the log is out of order'; END $$",
        "CREATE TRIGGER refuse_entries BEFORE INSERT ON access_log "
        "FOR EACH ROW EXECUTE FUNCTION refuse_entries()",
    ],
    "sqlite": [
        "CREATE TRIGGER refuse_entries BEFORE INSERT ON access_log "
        "BEGIN SELECT RAISE(ABORT, 'the log is out of order'); END"
    ],
}


@pytest.mark.commits
async def test_a_read_whose_entry_cannot_be_written_gives_nothing(
    world: World, database: Any
) -> None:
    """The entry of a read is written after its transaction, before the answer leaves: if
    it cannot be, the police data does not leave either."""
    api = world.api
    secret = await police_problem(world, title="Point de deal, cage d'escalier B")
    shared = await world.api.problem(world.facilitator, world.gpo, visibility="partners")
    async with database.session(write=True) as session:
        for statement in REFUSE_ENTRIES[session.get_bind().dialect.name]:
            await session.execute(text(statement))
        await session.commit()

    for path in (f"/problems/{secret['id']}", "/problems"):
        response = await api.get(world.commander, path)
        assert response.status_code == 500, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "Point de deal" not in response.text
    # A read with no police data in it has nothing to log, and is answered.
    expect(await api.get(world.landlord_partner, f"/problems/{shared['id']}"), 200)


# --- retention (item 5) ------------------------------------------------------------------


async def _figures(api: Api) -> list[Any]:
    years = range(2022, datetime.now(UTC).year + 1)
    annual = [
        expect(await api.get(api.admin, "/evaluations/annual", params={"year": str(y)}), 200)
        for y in years
    ]
    return [*annual, expect(await api.get(api.admin, "/stats/overview"), 200)]


async def _purge(app: FastAPI, years: int, *, dry_run: bool = False) -> retention.Purge:
    async with app.state.database.session(write=True) as session:
        done = await retention.purge(session, years, datetime.now(UTC))
        await (session.rollback() if dry_run else session.commit())
    return done


async def test_the_purge_erases_old_texts_and_keeps_every_figure_and_the_chain(
    world: World, app: FastAPI
) -> None:
    api, fac = world.api, world.facilitator
    await generate(world, app)
    # A problem closed long ago, with texts everywhere, written through the API.
    old = await police_problem(world, description="Le gardien, M. Lefort, a vu le deal.")
    action = await api.action(
        fac, old, world.municipal_police, title="Voir M. Lefort", description="Rondes du soir"
    )
    comment = {"body": "Témoin : Mme Durand", "visibility": "police"}
    expect(await api.post(fac, f"/problems/{old['id']}/comments", json=comment), 201)
    expect(await api.move(fac, old, "open"), 200)
    expect(await api.move(fac, old, "closed", outcome="better_handled", note="Fin des faits."), 200)
    await set_problem(app, old, closed_at=datetime.now(UTC) - timedelta(days=3 * 366))
    recent = await police_problem(world, description="Récent : à garder.")
    before = await _figures(api)

    dry = await _purge(app, 2, dry_run=True)
    assert dry.problems > 1
    assert dry.erased["problems"] == dry.problems
    assert dry.erased["problem_comments"] >= 1
    assert dry.erased["actions"] >= 1
    assert dry.erased["audit_events"] >= 3
    detail = expect(await api.get(api.admin, f"/problems/{old['id']}"), 200)
    assert detail["description"].startswith("Le gardien")  # the dry run changed nothing

    done = await _purge(app, 2)
    assert done.erased == dry.erased

    assert await _figures(api) == before
    assert (await verify(api))["ok"] is True
    detail = expect(await api.get(api.admin, f"/problems/{old['id']}"), 200)
    assert detail["description"] == wording.ERASED_TEXT
    assert detail["outcome"] == "better_handled"
    assert detail["reference"] == old["reference"]
    erased = expect(await api.get(api.admin, f"/actions/{action['id']}"), 200)
    assert (erased["title"], erased["description"]) == (wording.ERASED_TEXT, None)
    comments = expect(await api.get(api.admin, f"/problems/{old['id']}/comments"), 200)
    assert [c["body"] for c in comments["items"]] == [wording.ERASED_TEXT]
    timeline = await every_page(api, api.admin, f"/problems/{old['id']}/timeline")
    written = json.dumps(timeline, ensure_ascii=False)
    assert "Lefort" not in written
    assert "Durand" not in written
    assert "Fin des faits" not in written
    kept = expect(await api.get(api.admin, f"/problems/{recent['id']}"), 200)
    assert kept["description"] == "Récent : à garder."

    # Audited once, with its counts; a second run erases nothing more.
    async with app.state.database.session(write=False) as session:
        events = (
            await session.execute(
                text("SELECT changes FROM audit_events WHERE action = 'governance.purge'")
            )
        ).all()
    assert len(events) == 1
    assert (await _purge(app, 2)).total == 0
    assert (await verify(api))["ok"] is True


# --- the console -------------------------------------------------------------------------


async def test_the_console_asks_the_purpose_once_then_logs_its_reads(
    world: World, app: FastAPI
) -> None:
    api = world.api
    problem = await police_problem(world)
    shared = await api.problem(world.facilitator, world.gpo, visibility="partners")
    person = Person(browser(app), world.municipal_partner)
    secret, person.csrf = await open_session_for(app, world.municipal_partner, purpose=None)
    person.client.cookies.set("gpo_session", secret, domain="gpo.test", path="/console")
    try:
        # A partners-only page needs no purpose.
        expect_page = await person.get(f"/console/problemes/{shared['id']}")
        assert expect_page.status_code == 200
        before = await entries(api)

        page = f"/console/problemes/{problem['id']}"
        asked = await person.get(page)
        assert asked.status_code == 303
        assert asked.headers["location"] == f"/console/finalite?next={quote(page)}"
        assert await entries(api) == before
        form = await person.get(asked.headers["location"])
        assert "Finalité" in form.text
        refused = await person.post("/console/finalite", {"purpose": "curiosity", "next": page})
        assert refused.status_code == 422
        chosen = await person.post("/console/finalite", {"purpose": "meeting", "next": page})
        assert chosen.status_code == 303
        assert chosen.headers["location"] == page

        shown = await person.get(page)
        assert shown.status_code == 200
        assert shown.headers["cache-control"] == "no-store"
        after = await entries(api)
        assert len(after) == len(before) + 1
        entry = after[0]
        assert entry["resource_ids"] == [problem["id"]]
        assert entry["purpose"] == "meeting"
        assert entry["route"] == "/console/problemes/{problem_id}"
        assert entry["user_id"] == world.municipal_partner.id
        # The console session, not a token.
        async with app.state.database.session(write=False) as session:
            opened = await session.scalar(
                select(ConsoleSession.id).where(
                    ConsoleSession.secret_hash == token_hash(SECRET_KEY, secret)
                )
            )
        assert entry["session_or_token_id"] == str(opened)
    finally:
        await person.client.aclose()


async def _old_closed(world: World, app: FastAPI, years: float) -> dict[str, Any]:
    api, fac = world.api, world.facilitator
    problem = await police_problem(world, description="Texte ancien à oublier.")
    expect(await api.move(fac, problem, "open"), 200)
    expect(await api.move(fac, problem, "closed", outcome="no_improvement"), 200)
    await set_problem(app, problem, closed_at=datetime.now(UTC) - timedelta(days=365.25 * years))
    return problem


async def description_of(api: Api, problem: dict[str, Any]) -> str:
    return str(expect(await api.get(api.admin, f"/problems/{problem['id']}"), 200)["description"])


async def test_the_worker_purges_daily_after_the_configured_years(
    world: World, app: FastAPI, database: Any
) -> None:
    api = world.api
    assert database.settings.retention_years == 5  # GPO_RETENTION_YEARS' default
    past = await _old_closed(world, app, 6)
    kept = await _old_closed(world, app, 4)
    morning = datetime.combine(datetime.now(PARIS).date(), time(7, 30), tzinfo=PARIS)
    assert "governance.purge" in worker.JOBS
    await worker.run_jobs(database, morning)
    assert await description_of(api, past) == wording.ERASED_TEXT
    assert await description_of(api, kept) == "Texte ancien à oublier."


@pytest.mark.commits
async def test_the_cli_purge_dry_run_prints_counts_and_changes_nothing(
    world: World,
    app: FastAPI,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = world.api
    past = await _old_closed(world, app, 6)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GPO_RETENTION_YEARS", "5")

    assert await asyncio.to_thread(main, ["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 problem(s) closed before" in out
    assert "would erase" in out
    assert re.search(r"problems\s+1\b", out)
    assert await description_of(api, past) == "Texte ancien à oublier."

    assert await asyncio.to_thread(main, ["purge"]) == 0
    assert "erased" in capsys.readouterr().out
    assert await description_of(api, past) == wording.ERASED_TEXT
    assert (await verify(api))["ok"] is True


async def test_a_write_answer_holding_police_data_is_logged_as_a_read(world: World) -> None:
    """The answer of a create, a patch or a transition is the record as it now stands: a
    read of it too."""
    api, fac = world.api, world.facilitator
    before = await entries(api)
    problem = await police_problem(world)
    expect(await api.patch(fac, f"/problems/{problem['id']}", json={"title": "Hall du 12"}), 200)
    action = await api.action(fac, problem, world.landlord)
    expect(
        await api.post(fac, f"/problems/{problem['id']}/transitions", json={"to": "open"}),
        200,
    )
    shared = await api.problem(fac, world.gpo, visibility="partners")
    after = await entries(api)
    new = [
        (e["resource_type"], e["resource_ids"], e["user_id"])
        for e in after[: len(after) - len(before)]
    ]
    assert list(reversed(new)) == [
        ("problem", [problem["id"]], fac.id),
        ("problem", [problem["id"]], fac.id),
        ("action", [action["id"]], fac.id),
        ("problem", [problem["id"]], fac.id),
    ]
    assert shared["id"] not in str(after)
