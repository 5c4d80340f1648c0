"""Routes answered without FastAPI's dependency solving (`app.core.direct`) answer as
FastAPI would: the caller is identified before any parameter is looked at, every wrong
parameter is reported at once at its place, an id that cannot exist is a 404, and a
dependency the route and its dependencies share runs once a request. The expectations were
checked against FastAPI's own handler before the direct one replaced it.

On PostgreSQL the same reads run in a transaction the driver begins (`RequestSession`):
the commit tests below check what it must end and write."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import insert, literal, select
from sqlalchemy.exc import IntegrityError

from app.core.db import Database, fetch_rows, savepoint
from app.core.references import Counter
from app.core.routing import TransactionalRoute
from app.reference.models import Organisation, OrganisationKind
from tests.api import World, expect, problem_of
from tests.test_problems import creation_body


def test_the_hot_reads_and_the_console_pages_are_direct(app: FastAPI) -> None:
    routes = {
        (method, route.path): route.direct
        for route in app.router.routes
        if isinstance(route, TransactionalRoute)
        for method in route.methods or ()
    }
    for read in ("/api/v1/problems", "/api/v1/problems/{problem_id}", "/api/v1/actions"):
        assert routes["GET", read], read
    assert routes["GET", "/console/problemes/{problem_id}"]
    # A body, or a model to serialise: FastAPI's handler.
    assert not routes["POST", "/api/v1/problems"]
    assert not routes["GET", "/api/v1/stats/overview"]


async def test_wrong_parameters_are_reported_together_at_their_place(world: World) -> None:
    params = {"limit": "0", "status": "bogus", "commune_code": "x", "has_overdue_actions": "?"}
    body = problem_of(await world.api.get(world.commander, "/problems", params=params), 422)
    places = {tuple(error["loc"]) for error in body["errors"]}
    assert {
        ("query", "limit"),
        ("query", "status", 0),
        ("query", "commune_code"),
        ("query", "has_overdue_actions"),
    } <= places, body
    body = problem_of(
        await world.api.get(world.commander, "/actions", params={"overdue": "maybe"}), 422
    )
    assert [tuple(error["loc"]) for error in body["errors"]] == [("query", "overdue")]


async def test_the_caller_is_identified_before_the_parameters(world: World) -> None:
    client = world.api.client
    problem_of(await client.get("/api/v1/problems", params={"limit": "0"}), 401)
    problem_of(await client.get("/api/v1/problems/not-an-id"), 401)
    wrong = {"Authorization": "Bearer gpo_not_a_token"}
    problem_of(await client.get("/api/v1/actions?overdue=maybe", headers=wrong), 401)


async def test_an_id_that_cannot_exist_is_not_found(world: World) -> None:
    problem_of(await world.api.get(world.commander, "/problems/not-an-id"), 404)
    problem_of(await world.api.get(world.commander, f"/problems/{uuid.uuid4()}"), 404)


async def test_defaults_and_repeated_parameters_reach_the_endpoint(world: World) -> None:
    api, fac = world.api, world.facilitator
    created = expect(await api.post(fac, "/problems", json=creation_body(world)), 201)
    page = expect(
        await api.get(fac, "/problems", params=[("status", "new"), ("status", "open")]),
        200,
    )
    assert created["id"] in {item["id"] for item in page["items"]}
    page = expect(await api.get(fac, "/problems", params={"status": "closed"}), 200)
    assert created["id"] not in {item["id"] for item in page["items"]}
    one = expect(await api.get(fac, f"/problems/{created['id']}"), 200)
    assert one["id"] == created["id"]


@pytest.mark.commits
async def test_reads_and_writes_commit_what_they_must(world: World) -> None:
    """With real commits (a transaction the driver begins on PostgreSQL): a write after
    reads is stored, a refused one leaves nothing, reads that log police data write their
    access-log entry, and the connections all go back to the pool."""
    api, fac, commander = world.api, world.facilitator, world.commander
    body = creation_body(world, visibility="police")
    created = expect(await api.post(fac, "/problems", json=body), 201)
    for _ in range(3):  # more than once: a connection left out of the pool would show
        expect(await api.get(commander, f"/problems/{created['id']}"), 200)
        problem_of(await api.get(commander, f"/problems/{uuid.uuid4()}"), 404)
    problem_of(
        await api.post(fac, f"/problems/{created['id']}/transitions", json={"to": "monitoring"}),
        409,
    )
    expect(
        await api.post(fac, f"/problems/{created['id']}/transitions", json={"to": "open"}),
        200,
    )
    stored = expect(await api.get(commander, f"/problems/{created['id']}"), 200)
    assert stored["status"] == "open"
    log = expect(
        await api.get(world.admin, "/governance/access-log", params={"resource_id": created["id"]}),
        200,
    )
    reads = [entry for entry in log["items"] if entry["user_id"] == commander.id]
    assert len(reads) >= 4, log  # three reads and the one after the transition


_ONE = select(literal(1))  # a read `fetch_rows` sends to the driver (built once)


@pytest.mark.commits
async def test_a_session_begun_by_the_driver_commits_what_it_changed(database: Database) -> None:
    """A session whose transaction the driver began commits it itself (`RequestSession`)
    when SQLAlchemy has nothing to end, and leaves the commit to SQLAlchemy when it has
    work: an object added, then one changed after the driver's own commit (adding or
    changing an object begins SQLAlchemy's transaction on the connection held)."""
    name = f"Bailleur {uuid.uuid4().hex[:8]}"
    async with database.session(write=True) as session:
        assert (await fetch_rows(session, _ONE, {}))[0][0] == 1
        organisation = Organisation(name=name, kind=OrganisationKind.landlord)
        session.add(organisation)
        await session.commit()
        assert (await fetch_rows(session, _ONE, {}))[0][0] == 1
        await session.commit()  # the driver's transaction alone
        organisation.name = f"{name} (renamed)"
        await session.commit()
    async with database.session(write=False) as session:
        stored = await session.scalar(
            select(Organisation.name).where(Organisation.id == organisation.id)
        )
    assert stored == f"{name} (renamed)"


_COUNT = insert(Counter.__table__)  # a write `fetch_rows` sends to the driver (built once)


@pytest.mark.commits
async def test_a_write_sent_to_the_driver_fails_as_sqlalchemy_would(database: Database) -> None:
    """A write through `fetch_rows` returns no rows without RETURNING, and a constraint it
    breaks raises SQLAlchemy's IntegrityError (which the route turns into a 409), not the
    driver's own error (which would have been a 500)."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    async with database.session(write=True) as session:
        assert await fetch_rows(session, _COUNT, {"name": name, "value": 1}) == []
        with pytest.raises(IntegrityError):
            await fetch_rows(session, _COUNT, {"name": name, "value": 2})


@pytest.mark.commits
async def test_what_the_driver_began_commits_though_sqlalchemys_transaction_never_connected(
    database: Database,
) -> None:
    """An object added after the driver's savepoint begins SQLAlchemy's transaction without
    a connection; rolled back to the savepoint, it is let go. The commit must still commit
    what the driver wrote before (an Idempotency-Key's claim, in a refusal's path)."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    async with database.session(write=True) as session:
        await fetch_rows(session, _COUNT, {"name": name, "value": 1})
        taken = await savepoint(session)
        session.add(Organisation(name=f"Bailleur {name}", kind=OrganisationKind.landlord))
        await taken.rollback()
        await session.commit()
    async with database.session(write=False) as session:
        stored = await session.scalar(select(Counter.value).where(Counter.name == name))
    assert stored == 1
