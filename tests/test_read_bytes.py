"""The fast read paths of problems and actions answer byte for byte what the ORM paths
answered before them (`tests.reference_reads`): same items, order, keys, number and date
formats, cursors and ETags, for every role, filter, sort and page."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pydantic_core
from asyncpg.pgproto.pgproto import UUID as AsyncpgUuid
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from app.core import schemas
from app.core.pagination import Paginator
from app.core.visibility import Visibility
from app.identity.dependencies import principal_for_token
from app.identity.principal import Principal
from tests import reference_reads
from tests.api import Caller, World, expect
from tests.intake import submit, triage

Params = list[tuple[str, str]]


async def populate(world: World) -> dict[str, Any]:
    """Problems with every kind of field (locations whole, partial or absent, texts with
    accents, emoji and line breaks, integral and fractional coordinates), in every status
    and visibility, with actions (overdue, due later, done) and an attached report."""
    api, fac = world.api, world.facilitator
    problems = [
        await api.problem(
            fac,
            world.gpo,
            title="Ça « déborde » — hall 4 😀",
            description="Ligne 1\nLigne 2\tfin",
            location={
                "address": "12 rue de Toul, Metz",
                "sector": "Borny",
                "lat": 49.1072,
                "lon": 6.2105,
                "transport_line": "Mettis A",
                "station": "Gare",
            },
            objective="Faire cesser",
            time_pattern="Soirs, 22 h - 2 h",
            priority="high",
        ),
        await api.problem(
            fac,
            world.gpo,
            location={"lat": 49.0, "lon": 6.0},
            visibility="police",
            priority="urgent",
            category="rodeo",
        ),
        await api.problem(fac, world.gpo, location={"address": "Place Saint-Louis"}),
        await api.problem(
            fac, world.gpo, visibility="restricted", commune_code="57751", priority="low"
        ),
        await api.problem(fac, world.gpo, visibility="partners", category="night_noise"),
    ]
    first, second, third = problems[0], problems[1], problems[2]
    expect(await api.move(fac, first, "open"), 200)
    expect(await api.move(fac, second, "open"), 200)
    late = await api.action(fac, first, world.landlord, due_date="2020-01-31")
    await api.action(fac, first, world.municipal_police, due_date="2031-03-01")
    done = await api.action(fac, second, world.landlord, due_date="2021-06-15")
    expect(await api.patch(fac, f"/actions/{done['id']}", json={"status": "done"}), 200)
    await api.action(fac, second, world.landlord, due_date="2022-02-02", description="Note")
    expect(await api.move(fac, second, "closed", outcome="better_handled", note="Fin"), 200)
    report = await submit(api, world.landlord_partner)
    expect(await triage(api, fac, report, "attach", problem_id=first["id"]), 200)
    # A GPO the landlord is no member of: it sees the action assigned to it, not the problem.
    other_gpo = await api.gpo(world.other_facilitator, members=[world.national_police])
    hidden = await api.problem(world.other_facilitator, other_gpo, priority="urgent")
    await api.action(world.other_facilitator, hidden, world.landlord, due_date="2020-05-05")
    return {
        "problems": [*problems, hidden],
        "first": first,
        "third": third,
        "late": late,
        "gpo": other_gpo,
    }


def callers(world: World) -> dict[str, Caller]:
    return {
        "admin": world.admin,
        "commander": world.commander,
        "facilitator": world.facilitator,
        "other_facilitator": world.other_facilitator,
        "police_partner": world.police_partner,
        "municipal_partner": world.municipal_partner,
        "landlord_partner": world.landlord_partner,
        "outsider_partner": world.outsider_partner,
    }


def fake_request(path: str, params: Params) -> Request:
    query = urlencode(params).encode()
    return Request(
        {"type": "http", "method": "GET", "path": path, "query_string": query, "headers": []}
    )


async def principal_of(app: FastAPI, database: Any, caller: Caller) -> Principal:
    async with database.session(write=False) as session:
        secret = app.state.settings.gpo_secret_key.get_secret_value()
        return await principal_for_token(session, secret, caller.token)


async def reference(
    app: FastAPI, database: Any, render: Any, principal: Principal, *args: Any, **kwargs: Any
) -> Any:
    async with database.session(write=False) as session:
        return await render(session, principal, *args, **kwargs)


async def compare_pages(
    app: FastAPI,
    database: Any,
    world: World,
    caller: Caller,
    path: str,
    params: Params,
    render: Any,
    *,
    geojson: bool = False,
) -> int:
    """Every page of the list, new and reference bytes compared; the pages compared."""
    paginator: Paginator = app.state.paginator
    principal = await principal_of(app, database, caller)
    headers = {"Accept": "application/geo+json"} if geojson else {}
    cursor: str | None = None
    pages = 0
    while True:
        sent = params + ([("cursor", cursor)] if cursor else [])
        response = await world.api.get(caller, path, params=sent, headers=headers)
        assert response.status_code == 200, response.text
        request = fake_request("/api/v1" + path, sent)
        extra = {"geojson": True} if geojson else {}
        expected = await reference(app, database, render, principal, request, paginator, **extra)
        assert response.content == expected, (caller.user.get("role"), path, sent)
        assert response.headers["content-type"] == (
            "application/geo+json" if geojson else "application/json"
        )
        pages += 1
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages


PROBLEM_FILTERS: Sequence[Params] = (
    [],
    [("status", "open")],
    [("status", "open"), ("commune_code", "57463")],
    [("status", "new"), ("status", "closed")],
    [("sort", "created_at")],
    [("sort", "-updated_at")],
    [("sort", "-priority")],
    [("q", "deborde")],
    [("has_overdue_actions", "true")],
    [("has_overdue_actions", "false")],
    [("category", "rodeo")],
    [("priority", "high")],
    [("bbox", "5.9,48.9,6.3,49.2")],
    [("created_from", "2020-01-01"), ("created_to", "2099-12-31")],
    [("limit", "2")],
    [("limit", "1"), ("sort", "-priority")],
)


async def test_problem_lists_answer_the_same_bytes(
    app: FastAPI, database: Any, world: World
) -> None:
    made = await populate(world)
    extra_filters: list[Params] = [
        [("gpo_id", world.gpo["id"]), ("limit", "2")],
        [("assignee_organisation_id", world.landlord["id"])],
    ]
    pages = 0
    for caller in callers(world).values():
        for params in [*PROBLEM_FILTERS, *extra_filters]:
            pages += await compare_pages(
                app, database, world, caller, "/problems", params, reference_reads.problem_list
            )
        for params in ([], [("limit", "1")]):
            pages += await compare_pages(
                app,
                database,
                world,
                caller,
                "/problems",
                params,
                reference_reads.problem_list,
                geojson=True,
            )
    assert pages > 150
    assert made["first"]["id"]


async def test_problem_details_answer_the_same_bytes(
    app: FastAPI, database: Any, world: World
) -> None:
    made = await populate(world)
    seen = 0
    for caller in callers(world).values():
        principal = await principal_of(app, database, caller)
        for problem in made["problems"]:
            response = await world.api.get(caller, f"/problems/{problem['id']}")
            expected = await reference(
                app, database, reference_reads.problem_detail, principal, uuid.UUID(problem["id"])
            )
            if expected is None:
                assert response.status_code == 404
                continue
            body, version = expected
            assert response.status_code == 200
            assert response.content == body
            assert response.headers["etag"] == f'"{version}"'
            assert response.headers["content-type"] == "application/json"
            seen += 1
    assert seen > 15


ACTION_FILTERS: Sequence[Params] = (
    [],
    [("overdue", "true")],
    [("overdue", "false")],
    [("status", "planned"), ("status", "done")],
    [("sort", "-due_date")],
    [("sort", "created_at"), ("limit", "1")],
    [("sort", "-created_at")],
    [("due_before", "2025-01-01")],
    [("overdue", "true"), ("limit", "1")],
)


async def test_action_lists_answer_the_same_bytes(
    app: FastAPI, database: Any, world: World
) -> None:
    made = await populate(world)
    extra_filters: list[Params] = [
        [("problem_id", made["first"]["id"])],
        [("gpo_id", world.gpo["id"])],
        [("assignee_organisation_id", world.landlord["id"]), ("overdue", "true")],
    ]
    pages = 0
    for caller in callers(world).values():
        for params in [*ACTION_FILTERS, *extra_filters]:
            pages += await compare_pages(
                app, database, world, caller, "/actions", params, reference_reads.action_list
            )
    assert pages > 90


# The plain-data reads' JSON is orjson's; the models' is Pydantic's. On any value the reads
# can hold (asyncpg's UUID subclass included), both write the same bytes.
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.uuids(),
    st.builds(lambda u: AsyncpgUuid(str(u)), st.uuids()),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("Europe/Paris"), None])),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.sampled_from(list(Visibility)),
)
_PLAIN = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_PLAIN)
def test_plain_data_is_written_as_pydantic_writes_it(value: Any) -> None:
    assert schemas.to_json(value) == pydantic_core.to_json(value)
