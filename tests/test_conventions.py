"""Cross-cutting conventions of API.md: errors, bodies, pagination, ETags, request ids."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from app.identity.dependencies import API_PREFIX, ApiRoute, CurrentUser, Idempotent
from app.main import create_app
from tests.api import Api, Caller, World, expect, problem_of, unique

ONE_MIB = 1024 * 1024


def locs(problem: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in problem["errors"]]


def assert_problem_shape(response: httpx.Response, status: int) -> dict[str, Any]:
    body = problem_of(response, status)
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["request_id"] == response.headers["x-request-id"]
    if status == 422:
        assert body["errors"]
        for error in body["errors"]:
            assert isinstance(error["loc"], list)
            assert isinstance(error["msg"], str)
            assert error["msg"]
    # Nothing of the server's insides.
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return body


async def walk(
    api: Api, caller: Caller, path: str, limit: int, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, page by page; and the number of pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": limit, **params} | ({"cursor": cursor} if cursor else {})
        page = expect(await api.get(caller, path, params=query), 200)
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= limit
        pages += 1
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert page["items"], "a page with a next_cursor is not empty"
        assert pages < 100, "pagination does not end"


# --- problem+json -----------------------------------------------------------------------


async def test_errors_are_problem_json(world: World) -> None:
    api = world.api
    assert_problem_shape(await api.get(None, "/me"), 401)
    assert_problem_shape(await api.post(world.landlord_partner, "/users", json={}), 403)
    assert_problem_shape(await api.get(world.outsider_partner, f"/gpos/{world.gpo['id']}"), 404)
    problem = assert_problem_shape(
        await api.post(world.admin, "/organisations", json={"kind": "landlord"}), 422
    )
    assert ["body", "name"] in locs(problem)
    etag_mismatch = await api.patch(
        world.admin,
        f"/organisations/{world.landlord['id']}",
        json={"name": "X"},
        headers={"If-Match": '"999"'},
    )
    assert_problem_shape(etag_mismatch, 412)


async def test_unknown_route_is_404_problem(api: Api) -> None:
    assert_problem_shape(await api.get(api.admin, "/no-such-thing"), 404)
    assert_problem_shape(await api.get(None, "/no-such-thing"), 404)
    response = await api.client.get("/definitely/not/here")
    assert_problem_shape(response, 404)


async def test_wrong_method_is_405_problem(api: Api) -> None:
    response = await api.delete(api.admin, "/organisations")
    assert_problem_shape(response, 405)
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed


async def test_unknown_body_field_is_422(api: Api) -> None:
    body = {"name": "Bailleur", "kind": "landlord", "colour": "blue"}
    problem = assert_problem_shape(await api.post(api.admin, "/organisations", json=body), 422)
    assert ["body", "colour"] in locs(problem)
    listed = expect(await api.get(api.admin, "/organisations"), 200)
    assert listed["items"] == []


async def test_malformed_json_is_422(api: Api) -> None:
    for content in (b'{"name": "Bailleur", "kind": ', b"\xff\xfe not utf-8", b"[1, 2"):
        response = await api.post(
            api.admin,
            "/organisations",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        problem = assert_problem_shape(response, 422)
        assert any(loc[:1] == ["body"] for loc in locs(problem))


async def test_body_of_the_wrong_type_is_422(api: Api) -> None:
    for body in ([], "text", 12, None):
        response = await api.post(api.admin, "/organisations", json=body)
        assert_problem_shape(response, 422)


async def test_wrong_content_type_is_415(api: Api) -> None:
    body = json.dumps({"name": "Bailleur", "kind": "landlord"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        response = await api.post(
            api.admin, "/organisations", content=body, headers={"Content-Type": content_type}
        )
        assert_problem_shape(response, 415)
    response = await api.post(api.admin, "/organisations", data={"name": "B", "kind": "landlord"})
    assert_problem_shape(response, 415)
    # The same body with the right type is accepted.
    expect(
        await api.post(
            api.admin,
            "/organisations",
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        ),
        201,
    )
    listed = expect(await api.get(api.admin, "/organisations"), 200)
    assert len(listed["items"]) == 1


async def test_body_over_one_mib_is_413(api: Api) -> None:
    huge = json.dumps({"name": "B", "kind": "landlord", "padding": "x" * ONE_MIB})
    response = await api.post(
        api.admin, "/organisations", content=huge, headers={"Content-Type": "application/json"}
    )
    assert_problem_shape(response, 413)

    async def chunks() -> Any:
        yield b'{"name": "B", "kind": "landlord", "padding": "'
        for _ in range(20):
            yield b"x" * (64 * 1024)
        yield b'"}'

    streamed = await api.post(
        api.admin, "/organisations", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in streamed.request.headers
    assert_problem_shape(streamed, 413)


async def test_body_just_under_one_mib_is_not_413(api: Api) -> None:
    body = {"name": "Bailleur", "kind": "landlord"}
    padding = ONE_MIB - len(json.dumps(body)) - 100
    content = json.dumps(body)[:-1] + ", " + '"name2": "' + "x" * padding + '"}'
    assert len(content.encode()) < ONE_MIB
    response = await api.post(
        api.admin, "/organisations", content=content, headers={"Content-Type": "application/json"}
    )
    # Parsed and judged on its fields (an unknown one), not refused for its size.
    problem = assert_problem_shape(response, 422)
    assert ["body", "name2"] in locs(problem)


# --- query parameters and pagination ----------------------------------------------------


async def test_limit_bounds(api: Api) -> None:
    for limit in (0, 201, -1, "many"):
        response = await api.get(api.admin, "/organisations", params={"limit": limit})
        problem = assert_problem_shape(response, 422)
        assert ["query", "limit"] in locs(problem), limit
    for limit in (1, 200):
        expect(await api.get(api.admin, "/organisations", params={"limit": limit}), 200)


async def test_default_page_size_is_50(api: Api) -> None:
    for index in range(51):
        await api.organisation("other", f"Org {index:02d}")
    page = expect(await api.get(api.admin, "/organisations"), 200)
    assert len(page["items"]) == 50
    assert page["next_cursor"] is not None
    rest = expect(
        await api.get(api.admin, "/organisations", params={"cursor": page["next_cursor"]}), 200
    )
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None


async def test_keyset_pagination_walks_every_item_once(api: Api) -> None:
    created = set()
    # Same names on purpose: the order must still be total.
    for name in ["Alpha", "Beta", "Beta", "Beta", "Gamma", "Delta", "Beta", "Alpha", "Zeta"]:
        created.add((await api.organisation("landlord", name))["id"])
    for limit in (1, 2, 3, 4, 8):
        items, pages = await walk(api, api.admin, "/organisations", limit)
        ids = [item["id"] for item in items]
        assert len(ids) == len(set(ids)), f"duplicates with limit {limit}"
        assert set(ids) == created, f"gaps with limit {limit}"
        full_pages = -(-len(created) // limit)
        assert full_pages <= pages <= full_pages + 1
        names = [item["name"] for item in items]
        assert names == sorted(names)
    everything = expect(await api.get(api.admin, "/organisations", params={"limit": 200}), 200)
    assert everything["next_cursor"] is None
    assert [item["id"] for item in everything["items"]] == [
        item["id"] for item in (await walk(api, api.admin, "/organisations", 2))[0]
    ]


async def test_pagination_is_keyset_not_offset(api: Api) -> None:
    for name in ("B", "D", "F", "H"):
        await api.organisation("landlord", name)
    first = expect(await api.get(api.admin, "/organisations", params={"limit": 2}), 200)
    assert [o["name"] for o in first["items"]] == ["B", "D"]
    # Rows added before the cursor do not shift the next page (an offset would).
    await api.organisation("landlord", "A")
    await api.organisation("landlord", "C")
    second = expect(
        await api.get(
            api.admin, "/organisations", params={"limit": 2, "cursor": first["next_cursor"]}
        ),
        200,
    )
    assert [o["name"] for o in second["items"]] == ["F", "H"]


async def test_pagination_with_filters(world: World) -> None:
    api = world.api
    for _ in range(5):
        await api.gpo(world.facilitator, kind="transport")
        await api.gpo(world.facilitator, kind="general")
    transport, _ = await walk(api, world.facilitator, "/gpos", 2, kind="transport")
    assert len(transport) == 5
    assert {g["kind"] for g in transport} == {"transport"}
    everything, _ = await walk(api, world.commander, "/gpos", 3)
    assert len({g["id"] for g in everything}) == len(everything) == 11
    created = [g["created_at"] for g in everything]
    assert created == sorted(created)


async def test_forged_cursor_is_400(api: Api) -> None:
    for index in range(3):
        await api.organisation("landlord", f"Org {index}")
    page = expect(await api.get(api.admin, "/organisations", params={"limit": 1}), 200)
    cursor = page["next_cursor"]
    encoded, _, signature = cursor.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    tampered = dict(payload)
    for key, value in payload.items():
        if isinstance(value, list) and value:
            tampered[key] = ["Zzz", *value[1:]]
    forged = base64.urlsafe_b64encode(json.dumps(tampered).encode()).decode().rstrip("=")
    for bad in (
        "garbage",
        "",
        cursor + "0",
        cursor[:-2],
        f"{forged}.{signature}",
        base64.urlsafe_b64encode(b'{"k": ["a"]}').decode(),
    ):
        response = await api.get(api.admin, "/organisations", params={"limit": 1, "cursor": bad})
        if bad == "":
            # An empty cursor is the same as none, or refused; never a wrong page.
            assert response.status_code in (200, 400, 422)
            continue
        assert_problem_shape(response, 400)


async def test_cursor_reused_with_other_filters_is_400(api: Api) -> None:
    for index in range(3):
        await api.organisation("landlord", f"Bailleur {index}")
        await api.organisation("other", f"Autre {index}")
    path = "/organisations"
    page = expect(await api.get(api.admin, path, params={"limit": 1, "kind": "landlord"}), 200)
    cursor = page["next_cursor"]
    assert cursor is not None
    for params in ({"kind": "other"}, {}, {"kind": "landlord", "commune_code": "57463"}):
        response = await api.get(api.admin, path, params={"limit": 1, "cursor": cursor, **params})
        assert_problem_shape(response, 400)
    # The same filters are fine.
    second = expect(
        await api.get(api.admin, path, params={"limit": 1, "cursor": cursor, "kind": "landlord"}),
        200,
    )
    assert second["items"][0]["kind"] == "landlord"
    assert second["items"][0]["id"] != page["items"][0]["id"]


async def test_cursor_of_another_list_is_400(world: World) -> None:
    """A cursor is mismatched when it comes from another list, even one sorted alike."""
    api = world.api
    communes = expect(await api.get(world.admin, "/communes", params={"limit": 2}), 200)
    for other in ("/categories", "/action-kinds"):
        response = await api.get(
            world.admin, other, params={"limit": 2, "cursor": communes["next_cursor"]}
        )
        assert_problem_shape(response, 400)

    await api.gpo(world.facilitator)
    users = expect(await api.get(world.admin, "/users", params={"limit": 1}), 200)
    assert users["next_cursor"] is not None
    response = await api.get(
        world.admin, "/gpos", params={"limit": 1, "cursor": users["next_cursor"]}
    )
    assert_problem_shape(response, 400)


async def test_cursor_is_bound_to_the_caller(world: World) -> None:
    """A cursor made for one caller's list gives another caller no wrong page."""
    api = world.api
    for _ in range(3):
        await api.gpo(world.facilitator)
    page = expect(await api.get(world.commander, "/gpos", params={"limit": 1}), 200)
    response = await api.get(
        world.other_facilitator, "/gpos", params={"limit": 1, "cursor": page["next_cursor"]}
    )
    # Either refused, or a page of what this caller may see (nothing here).
    if response.status_code != 400:
        assert expect(response, 200)["items"] == []


# --- request ids ------------------------------------------------------------------------


async def test_request_id_is_echoed(api: Api) -> None:
    response = await api.get(api.admin, "/me", headers={"X-Request-ID": "abc-123.trace:1"})
    expect(response, 200)
    assert response.headers["x-request-id"] == "abc-123.trace:1"

    error = await api.get(None, "/me", headers={"X-Request-ID": "client-chosen-42"})
    assert error.headers["x-request-id"] == "client-chosen-42"
    assert problem_of(error, 401)["request_id"] == "client-chosen-42"


async def test_request_id_is_generated_when_absent(api: Api) -> None:
    first = await api.get(api.admin, "/me")
    second = await api.get(api.admin, "/me")
    assert first.headers["x-request-id"]
    assert second.headers["x-request-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    health = await api.client.get("/health")
    assert health.headers["x-request-id"]


# --- operations -------------------------------------------------------------------------


async def test_health(api: Api) -> None:
    response = await api.client.get("/health")
    assert expect(response, 200)["status"] == "ok"
    ready = expect(await api.client.get("/health/ready"), 200)
    assert ready["status"] == "ready"


async def test_every_post_takes_an_idempotency_key(api: Api) -> None:
    document = expect(await api.client.get("/openapi.json"), 200)
    posts = [
        (path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method == "post"
    ]
    assert posts
    for path, operation in posts:
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path


def test_a_post_route_without_the_idempotency_claim_is_refused() -> None:
    """The route class makes the claim part of every POST route's declaration."""
    router = APIRouter(route_class=ApiRoute)

    async def forgot(principal: CurrentUser) -> None:
        return None

    with pytest.raises(TypeError, match="Idempotency-Key"):
        router.post("/forgotten")(forgot)
    router.post("/declared", dependencies=[Idempotent])(forgot)
    assert [route.path for route in router.routes] == ["/declared"]  # type: ignore[attr-defined]


def test_the_app_matches_its_routes_in_one_flat_list() -> None:
    """Every route is the app's own (`app.core.routing.add_routes`), none reached through an
    included router, which FastAPI would match again at each level; every operation of the
    API is under /api/v1 but the probes, Open311's and the documents'."""
    routes = create_app().routes
    assert all(isinstance(route, APIRoute | Route | Mount) for route in routes)
    api = [route for route in routes if isinstance(route, ApiRoute)]
    assert {route.endpoint.__name__ for route in api} >= {"get_problem", "list_actions"}
    assert all(route.path.startswith(API_PREFIX + "/") for route in api)


async def test_an_invalid_body_is_422_even_with_a_stale_if_match(world: World) -> None:
    """RFC 9110 13.2.1: a request that fails without its precondition fails for that
    reason; the precondition is judged only for a request that would otherwise succeed."""
    api = world.api
    path = f"/organisations/{world.landlord['id']}"
    stale = {"If-Match": '"999"'}
    problem = problem_of(await api.patch(world.admin, path, json={"name": ""}, headers=stale), 422)
    assert ["body", "name"] in locs(problem)
    problem_of(await api.patch(world.admin, path, json={"name": "Bailleur"}, headers=stale), 412)
    # Not found and not allowed come before the precondition too.
    missing = "/organisations/00000000-0000-4000-8000-000000000000"
    problem_of(await api.patch(world.admin, missing, json={"name": "X"}, headers=stale), 404)
    problem_of(
        await api.patch(world.landlord_partner, path, json={"name": "X"}, headers=stale), 403
    )
    assert expect(await api.get(world.admin, path), 200)["name"] == world.landlord["name"]


async def test_openapi_document(api: Api) -> None:
    response = await api.client.get("/openapi.json")
    document = expect(response, 200)
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path in (
        "/api/v1/users",
        "/api/v1/users/{user_id}/tokens",
        "/api/v1/tokens/{token_id}",
        "/api/v1/me",
        "/api/v1/communes",
        "/api/v1/organisations",
        "/api/v1/categories",
        "/api/v1/action-kinds",
        "/api/v1/gpos",
        "/api/v1/gpos/{gpo_id}",
    ):
        assert path in paths, path
    docs = await api.client.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


# --- versions and ETags -----------------------------------------------------------------


async def test_etag_is_the_version(world: World) -> None:
    api = world.api
    for path in (
        f"/organisations/{world.landlord['id']}",
        f"/users/{world.commander.id}",
        f"/gpos/{world.gpo['id']}",
        "/categories/rodeo",
        "/action-kinds/foot_patrol",
    ):
        response = await api.get(world.admin, path)
        body = expect(response, 200)
        assert isinstance(body["version"], int)
        assert response.headers["etag"] == f'"{body["version"]}"', path


async def test_version_rises_on_change_but_not_on_a_no_op(api: Api) -> None:
    created = await api.organisation("landlord", "Metz Habitat", "57463")
    path = f"/organisations/{created['id']}"
    version = created["version"]

    same = await api.patch(
        api.admin, path, json={"name": "Metz Habitat", "kind": "landlord", "commune_code": "57463"}
    )
    assert expect(same, 200)["version"] == version
    assert same.headers["etag"] == f'"{version}"'
    assert expect(await api.patch(api.admin, path, json={}), 200)["version"] == version

    changed = await api.patch(api.admin, path, json={"name": "Metz Habitat Territoire"})
    assert expect(changed, 200)["version"] == version + 1
    assert changed.headers["etag"] == f'"{version + 1}"'
    again = await api.patch(api.admin, path, json={"commune_code": None})
    assert expect(again, 200)["version"] == version + 2
    read = await api.get(api.admin, path)
    assert read.headers["etag"] == f'"{version + 2}"'
    # The no-op kept the etag valid for If-Match.
    expect(
        await api.patch(
            api.admin, path, json={"name": unique("X")}, headers={"If-Match": read.headers["etag"]}
        ),
        200,
    )


async def test_user_version_rises_on_change_only(world: World) -> None:
    api = world.api
    path = f"/users/{world.commander.id}"
    before = expect(await api.get(world.admin, path), 200)
    same = expect(
        await api.patch(world.admin, path, json={"display_name": before["display_name"]}), 200
    )
    assert same["version"] == before["version"]
    changed = expect(await api.patch(world.admin, path, json={"active": False}), 200)
    assert changed["version"] == before["version"] + 1


async def test_a_malformed_id_in_the_path_is_404_but_in_a_query_422(api: Api) -> None:
    for path in ("/problems/P-2026-000001", "/gpos/42", "/actions/x", "/reports/%20"):
        problem_of(await api.get(api.admin, path), 404)
    problem = problem_of(await api.get(api.admin, "/problems", params={"gpo_id": "42"}), 422)
    assert problem["errors"][0]["loc"] == ["query", "gpo_id"]
