"""Idempotency-Key on POST, as a landlord's system that retries on timeouts relies on it:
one effect per key, the first answer replayed, other bodies or paths refused, refusals by
validation not remembered, and concurrent retries creating exactly one report."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app import worker
from app.core.clock import PARIS, utcnow
from app.core.idempotency import IdempotencyKey
from tests.api import Api, Caller, World, every_page, expect, problem_of
from tests.intake import (
    METZ,
    moved,
    names_field,
    read_report,
    report_body,
    report_ids,
    submit,
)

REPLAYED = "Idempotent-Replayed"


def key() -> str:
    return f"retry-{uuid.uuid4()}"


async def post_report(
    api: Api, caller: Caller, idempotency_key: str, body: dict[str, Any]
) -> httpx.Response:
    return await api.post(
        caller, "/reports", json=body, headers={"Idempotency-Key": idempotency_key}
    )


def replayed(response: httpx.Response) -> bool:
    return bool(response.headers.get(REPLAYED, "").lower() == "true")


async def test_same_key_and_body_replays_the_first_answer(world: World) -> None:
    api, partner = world.api, world.landlord_partner
    k, body = key(), report_body(location=moved(METZ, 10), external_ref="MHT-77")

    first = await post_report(api, partner, k, body)
    created = expect(first, 201)
    assert not replayed(first)

    second = await post_report(api, partner, k, body)
    assert second.status_code == first.status_code
    assert replayed(second)
    assert second.json() == created
    assert second.headers.get("etag") == first.headers.get("etag")

    assert await report_ids(api, api.admin) == {created["id"]}


async def test_body_is_compared_as_parsed_json(world: World) -> None:
    api, partner = world.api, world.landlord_partner
    k = key()
    body = report_body(location={"lat": 49.12, "lon": 6.17, "address": "4 rue de Toul"})
    created = expect(await post_report(api, partner, k, body), 201)

    # The same JSON, written otherwise: other key order, spacing and escapes.
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4, ensure_ascii=True)
    again = await api.post(
        partner,
        "/reports",
        content=reordered.encode(),
        headers={"Idempotency-Key": k, "Content-Type": "application/json"},
    )
    assert again.status_code == 201, again.text
    assert replayed(again)
    assert again.json()["id"] == created["id"]
    assert await report_ids(api, api.admin) == {created["id"]}


async def test_same_key_with_another_body_is_422(world: World) -> None:
    api, partner = world.api, world.landlord_partner
    k = key()
    created = expect(await post_report(api, partner, k, report_body()), 201)
    error = problem_of(
        await post_report(api, partner, k, report_body(description="Autre chose, ailleurs.")),
        422,
    )
    assert names_field(error, "Idempotency-Key"), error["errors"]
    assert await report_ids(api, api.admin) == {created["id"]}
    # The first answer is still the one a true retry gets.
    retry = await post_report(api, partner, k, report_body())
    assert retry.status_code == 201
    assert replayed(retry)
    assert retry.json()["id"] == created["id"]


async def test_same_key_on_another_path_is_422(world: World) -> None:
    api, partner = world.api, world.landlord_partner
    problem = await api.problem(world.facilitator, world.gpo)
    k = key()
    expect(await post_report(api, partner, k, report_body()), 201)

    response = await api.post(
        partner,
        f"/problems/{problem['id']}/comments",
        json={"body": "Toujours présents ce soir."},
        headers={"Idempotency-Key": k},
    )
    problem_of(response, 422)
    comments = expect(await api.get(partner, f"/problems/{problem['id']}/comments"), 200)
    assert comments["items"] == []

    # The other way round: a key first used for a comment is refused for a report.
    k2 = key()
    expect(
        await api.post(
            partner,
            f"/problems/{problem['id']}/comments",
            json={"body": "Premier commentaire."},
            headers={"Idempotency-Key": k2},
        ),
        201,
    )
    problem_of(await post_report(api, partner, k2, report_body()), 422)
    assert len(await report_ids(api, api.admin)) == 1


async def test_keys_are_scoped_per_user(world: World) -> None:
    api = world.api
    colleague = await api.user("partner", world.landlord, "Collègue")
    k, body = key(), report_body()

    mine = await post_report(api, world.landlord_partner, k, body)
    theirs = await post_report(api, colleague, k, body)
    other_org = await post_report(api, world.outsider_partner, k, body)
    for response in (mine, theirs, other_org):
        assert response.status_code == 201, response.text
        assert not replayed(response)
    ids = {mine.json()["id"], theirs.json()["id"], other_org.json()["id"]}
    assert len(ids) == 3
    assert await report_ids(api, api.admin) == ids
    assert other_org.json()["submitted_by_organisation_id"] == world.outsider_org["id"]


async def test_a_new_token_of_the_same_user_shares_its_keys(world: World) -> None:
    """Keys belong to the token's owner, not to one token: a rotated token still replays."""
    api = world.api
    partner = world.landlord_partner
    fresh = expect(
        await api.post(api.admin, f"/users/{partner.id}/tokens", json={"name": "rotated"}), 201
    )
    k, body = key(), report_body()
    created = expect(await post_report(api, partner, k, body), 201)
    again = await post_report(api, Caller(fresh["token"], partner.user), k, body)
    assert again.status_code == 201
    assert replayed(again)
    assert again.json()["id"] == created["id"]


async def test_validation_failures_store_nothing(world: World) -> None:
    api, partner = world.api, world.landlord_partner
    k = key()
    # Refused by the schema.
    problem_of(await post_report(api, partner, k, report_body(description="  ")), 422)
    # Refused by the service (an unknown category).
    problem_of(await post_report(api, partner, k, report_body(category="no_such_thing")), 422)
    assert await report_ids(api, api.admin) == set()

    fixed = await post_report(api, partner, k, report_body())
    assert fixed.status_code == 201, fixed.text
    assert not replayed(fixed)
    assert await report_ids(api, api.admin) == {fixed.json()["id"]}
    again = await post_report(api, partner, k, report_body())
    assert replayed(again)
    assert again.json()["id"] == fixed.json()["id"]


# Also with real commits: on PostgreSQL the claim's savepoint is then the driver's
# (`app.core.db.DriverSavepoint`), which a session bound to the test's connection never takes.
COMMITTED_OR_NOT = pytest.mark.parametrize(
    "committed",
    [
        pytest.param(False, id="rolled-back"),
        pytest.param(True, id="committed", marks=pytest.mark.commits),
    ],
)


@COMMITTED_OR_NOT
async def test_a_forbidden_request_is_stored_and_replayed(world: World, committed: bool) -> None:
    api = world.api
    k, body = key(), report_body()
    first = await post_report(api, world.commander, k, body)
    refusal = problem_of(first, 403)
    assert not replayed(first)

    second = await post_report(api, world.commander, k, body)
    assert second.status_code == 403
    assert replayed(second)
    assert second.json() == refusal
    assert second.headers["content-type"].startswith("application/problem+json")
    # The stored refusal binds the key: another body with it is 422.
    problem_of(await post_report(api, world.commander, k, report_body(category="damage")), 422)
    assert await report_ids(api, api.admin) == set()


@COMMITTED_OR_NOT
async def test_a_conflict_is_stored_and_replayed(world: World, committed: bool) -> None:
    api, fac = world.api, world.facilitator
    report = await submit(api, world.landlord_partner)
    path = f"/reports/{report['id']}/triage"
    accept_key, reject_key = key(), key()
    accepted = await api.post(
        fac, path, json={"decision": "create_problem"}, headers={"Idempotency-Key": accept_key}
    )
    accepted_body = expect(accepted, 200)

    reject = {"decision": "reject", "public_note": "Hors champ."}
    conflict = await api.post(fac, path, json=reject, headers={"Idempotency-Key": reject_key})
    refusal = problem_of(conflict, 409)
    again = await api.post(fac, path, json=reject, headers={"Idempotency-Key": reject_key})
    assert again.status_code == 409
    assert replayed(again)
    assert again.json() == refusal

    # Retrying the successful triage replays it rather than answering 409.
    retry = await api.post(
        fac, path, json={"decision": "create_problem"}, headers={"Idempotency-Key": accept_key}
    )
    assert retry.status_code == 200
    assert replayed(retry)
    assert retry.json() == accepted_body

    stored = await read_report(api, api.admin, report)
    assert stored["status"] == "accepted"
    assert stored["problem_id"] == accepted_body["problem_id"]
    problems = [
        p
        for p in await every_page(api, api.admin, "/problems")
        if p["category"] == "hall_occupation"
    ]
    assert [p["id"] for p in problems] == [accepted_body["problem_id"]]


async def test_a_token_is_never_replayed(world: World) -> None:
    api = world.api
    partner = world.landlord_partner
    before = expect(await api.get(api.admin, f"/users/{partner.id}/tokens"), 200)["items"]
    k = key()
    created = await api.post(
        api.admin,
        f"/users/{partner.id}/tokens",
        json={"name": "intégration GMAO"},
        headers={"Idempotency-Key": k},
    )
    secret = expect(created, 201)["token"]

    replay = await api.post(
        api.admin,
        f"/users/{partner.id}/tokens",
        json={"name": "intégration GMAO"},
        headers={"Idempotency-Key": k},
    )
    problem_of(replay, 409)
    assert secret not in replay.text

    after = expect(await api.get(api.admin, f"/users/{partner.id}/tokens"), 200)["items"]
    assert len(after) == len(before) + 1
    # The secret shown once works.
    expect(await api.get(Caller(secret), "/me"), 200)


async def test_a_key_longer_than_255_characters_is_422(world: World) -> None:
    api = world.api
    response = await post_report(api, world.landlord_partner, "k" * 256, report_body())
    problem_of(response, 422)
    assert await report_ids(api, api.admin) == set()
    ok = await post_report(api, world.landlord_partner, "k" * 255, report_body())
    assert ok.status_code == 201, ok.text


async def test_posts_without_a_key_are_not_deduplicated(world: World) -> None:
    api = world.api
    first = await submit(api, world.landlord_partner)
    second = await submit(api, world.landlord_partner)
    assert first["id"] != second["id"]
    assert await report_ids(api, api.admin) == {first["id"], second["id"]}


@pytest.mark.commits
async def test_concurrent_retries_create_exactly_one_report(world: World) -> None:
    api, partner = world.api, world.landlord_partner
    k = key()
    body = report_body(location=moved(METZ, 5), external_ref="GMAO-RETRY-1")

    responses = await asyncio.gather(*(post_report(api, partner, k, body) for _ in range(8)))

    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    successes = [r for r in responses if r.status_code == 201]
    assert successes, statuses
    ids = {r.json()["id"] for r in successes}
    assert len(ids) == 1, ids
    assert sum(not replayed(r) for r in successes) == 1
    assert all(r.json() == successes[0].json() for r in successes)
    for conflict in (r for r in responses if r.status_code == 409):
        problem_of(conflict, 409)

    stored = await every_page(api, api.admin, "/reports")
    assert [item["id"] for item in stored] == list(ids)
    assert await report_ids(api, partner) == ids
    # A later retry replays the same report.
    later = await post_report(api, partner, k, body)
    assert later.status_code == 201
    assert replayed(later)
    assert later.json()["id"] in ids


@pytest.mark.commits
async def test_concurrent_different_keys_create_one_report_each(world: World) -> None:
    api, partner = world.api, world.landlord_partner
    keys = [key() for _ in range(6)]
    responses = await asyncio.gather(
        *(post_report(api, partner, k, report_body(external_ref=k)) for k in keys)
    )
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    references = {r.json()["reference"] for r in responses}
    assert len(references) == 6
    assert len(await report_ids(api, api.admin)) == 6


async def test_a_key_is_kept_24_hours_then_expires_and_is_purged(world: World, app: Any) -> None:
    api, partner = world.api, world.landlord_partner
    k = key()
    first = await post_report(api, partner, k, report_body(external_ref="GMAO-TTL-1"))
    assert first.status_code == 201
    database = app.state.database

    async def age(hours: int) -> None:
        async with database.session(write=True) as session:
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.key == k)
                .values(created_at=utcnow() - timedelta(hours=hours))
            )
            await session.commit()

    # Still within 24 hours: replayed.
    await age(23)
    again = await post_report(api, partner, k, report_body(external_ref="GMAO-TTL-1"))
    assert replayed(again)
    assert again.json()["id"] == first.json()["id"]

    # Past 24 hours the key is free again: the same key makes a new report.
    await age(25)
    fresh = await post_report(api, partner, k, report_body(external_ref="GMAO-TTL-1"))
    assert fresh.status_code == 201
    assert not replayed(fresh)
    assert fresh.json()["id"] != first.json()["id"]

    # The worker's morning purge removes keys older than 24 hours, and only those.
    await age(25)
    other = key()
    await post_report(api, partner, other, report_body(external_ref="GMAO-TTL-2"))
    morning = datetime.combine(date.today(), time(7, 30), tzinfo=PARIS)
    await worker.run_jobs(database, morning)
    async with database.session(write=False) as session:
        left = set(await session.scalars(select(IdempotencyKey.key)))
    assert left == {other}
