"""Reference data: communes, categories, action kinds (seeded) and organisations."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api import Api, Caller, World, expect, problem_of, unique

# DOMAIN.md, "Territory": the ten signatory communes and their approximate centres.
SIGNATORY_COMMUNES = {
    "57463": ("Metz", 49.1193, 6.1757),
    "57049": ("Le Ban-Saint-Martin", 49.1231, 6.1492),
    "57412": ("Longeville-lès-Metz", 49.1142, 6.1339),
    "57447": ("Marly", 49.0633, 6.1547),
    "57480": ("Montigny-lès-Metz", 49.1006, 6.1539),
    "57487": ("Moulins-lès-Metz", 49.1039, 6.1075),
    "57545": ("Plappeville", 49.1306, 6.1244),
    "57616": ("Saint-Julien-lès-Metz", 49.1328, 6.2039),
    "57642": ("Scy-Chazelles", 49.1136, 6.1131),
    "57751": ("Woippy", 49.1519, 6.1522),
}
FAMILIES = {"incivility", "drugs", "residential", "transport", "violence", "road", "other"}
ORGANISATION_KINDS = [
    "national_police",
    "municipal_police",
    "landlord",
    "transport_operator",
    "municipality",
    "metropolis",
    "prosecutor",
    "prefecture",
    "other",
]


def locs(problem: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in problem["errors"]]


async def all_items(api: Api, caller: Caller, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 200, **params} | ({"cursor": cursor} if cursor else {})
        page = expect(await api.get(caller, path, params=query), 200)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


# --- communes ---------------------------------------------------------------------------


async def test_the_ten_signatory_communes_with_their_centres(world: World) -> None:
    for caller in (world.admin, world.landlord_partner, world.commander):
        communes = await all_items(world.api, caller, "/communes")
        assert {c["code"] for c in communes} == set(SIGNATORY_COMMUNES)
        for commune in communes:
            name, lat, lon = SIGNATORY_COMMUNES[commune["code"]]
            assert commune["name"] == name
            assert abs(commune["lat"] - lat) < 0.01
            assert abs(commune["lon"] - lon) < 0.01


async def test_reference_data_needs_a_token(api: Api) -> None:
    for path in ("/communes", "/categories", "/action-kinds", "/organisations"):
        problem_of(await api.get(None, path), 401)


# --- categories -------------------------------------------------------------------------


async def test_seeded_categories(world: World) -> None:
    categories = await all_items(world.api, world.landlord_partner, "/categories")
    by_code = {c["code"]: c for c in categories}
    assert len(by_code) == len(categories)
    assert {c["family"] for c in categories} == FAMILIES
    for category in categories:
        assert category["label_fr"].strip()
        assert category["label_en"].strip()
        assert category["reportable"] is True, category["code"]
        assert category["default_visibility"] in ("partners", "police", "restricted")

    drugs = by_code["drug_dealing"]
    assert drugs["family"] == "drugs"
    assert drugs["sensitive"] is True
    assert drugs["default_visibility"] == "restricted"
    # The contract's transport problems: incivilities on board, violence against staff or
    # vehicles, trouble around stations.
    assert len([c for c in categories if c["family"] == "transport"]) >= 3
    assert by_code["hall_occupation"]["family"] == "incivility"
    assert not by_code["hall_occupation"]["sensitive"]


async def test_categories_filter_by_family(world: World) -> None:
    everything = await all_items(world.api, world.facilitator, "/categories")
    transport = await all_items(world.api, world.facilitator, "/categories", family="transport")
    assert transport
    assert {c["code"] for c in transport} == {
        c["code"] for c in everything if c["family"] == "transport"
    }
    problem = problem_of(
        await world.api.get(world.facilitator, "/categories", params={"family": "nope"}), 422
    )
    assert ["query", "family"] in locs(problem)


async def test_read_one_category(world: World) -> None:
    response = await world.api.get(world.landlord_partner, "/categories/drug_dealing")
    body = expect(response, 200)
    assert body["code"] == "drug_dealing"
    assert response.headers["etag"] == f'"{body["version"]}"'
    problem_of(await world.api.get(world.landlord_partner, "/categories/no_such_thing"), 404)


async def test_admin_adds_and_edits_a_category(world: World) -> None:
    api = world.api
    body = {
        "code": "squat",
        "family": "residential",
        "label_fr": "Squat de logement",
        "label_en": "Squatted dwelling",
    }
    created = expect(await api.post(world.admin, "/categories", json=body), 201)
    assert created | body == created
    assert created["sensitive"] is False
    assert created["default_visibility"] == "partners"
    assert created["reportable"] is True

    listed = await all_items(api, world.landlord_partner, "/categories")
    assert "squat" in [c["code"] for c in listed]

    problem_of(await api.post(world.admin, "/categories", json=body), 409)

    patched = expect(
        await api.patch(
            world.admin,
            "/categories/squat",
            json={"sensitive": True, "default_visibility": "police"},
        ),
        200,
    )
    assert patched["sensitive"] is True
    assert patched["default_visibility"] == "police"
    assert patched["label_fr"] == "Squat de logement"
    assert patched["version"] == created["version"] + 1

    # The code is the identity: it cannot be changed.
    problem = problem_of(
        await api.patch(world.admin, "/categories/squat", json={"code": "other_code"}), 422
    )
    assert ["body", "code"] in locs(problem)


async def test_category_input_is_validated(api: Api) -> None:
    base = {"code": "x_y", "family": "road", "label_fr": "X", "label_en": "X"}
    for field, value in [
        ("code", "Has Spaces"),
        ("family", "weather"),
        ("default_visibility", "secret"),
        ("label_fr", "  "),
        ("sensitive", "yes"),
    ]:
        problem = problem_of(
            await api.post(api.admin, "/categories", json=base | {field: value}), 422
        )
        assert ["body", field] in locs(problem), field
    problem_of(await api.get(api.admin, "/categories/x_y"), 404)


async def test_only_admins_edit_categories(world: World) -> None:
    api = world.api
    body = {"code": "squat", "family": "residential", "label_fr": "S", "label_en": "S"}
    for caller in (world.facilitator, world.commander, world.landlord_partner):
        problem_of(await api.post(caller, "/categories", json=body), 403)
        problem_of(
            await api.patch(caller, "/categories/drug_dealing", json={"sensitive": False}), 403
        )
    drugs = expect(await api.get(world.admin, "/categories/drug_dealing"), 200)
    assert drugs["sensitive"] is True
    problem_of(await api.get(world.admin, "/categories/squat"), 404)


# --- action kinds -----------------------------------------------------------------------


async def test_seeded_action_kinds(world: World) -> None:
    kinds = await all_items(world.api, world.landlord_partner, "/action-kinds")
    codes = [k["code"] for k in kinds]
    assert len(codes) == len(set(codes))
    # DOMAIN.md names seventeen kinds of action.
    assert len(kinds) >= 15
    for kind in kinds:
        assert kind["label_fr"].strip()
        assert kind["label_en"].strip()
    english = " ".join(k["label_en"].lower() for k in kinds)
    for words in ("patrol", "deal", "lighting", "wreck", "prosecutor", "tenant", "video"):
        assert words in english, words


async def test_admin_adds_and_edits_an_action_kind(world: World) -> None:
    api = world.api
    body = {"code": "mediation", "label_fr": "Médiation", "label_en": "Mediation"}
    response = await api.post(world.admin, "/action-kinds", json=body)
    created = expect(response, 201)
    assert created | body == created
    assert response.headers["etag"] == f'"{created["version"]}"'
    problem_of(await api.post(world.admin, "/action-kinds", json=body), 409)

    patched = expect(
        await api.patch(
            world.admin, "/action-kinds/mediation", json={"label_fr": "Médiation sociale"}
        ),
        200,
    )
    assert patched["label_fr"] == "Médiation sociale"
    assert patched["label_en"] == "Mediation"
    read = expect(await api.get(world.landlord_partner, "/action-kinds/mediation"), 200)
    assert read == patched

    for caller in (world.facilitator, world.commander, world.landlord_partner):
        problem_of(await api.post(caller, "/action-kinds", json=body | {"code": "other2"}), 403)
        problem_of(await api.patch(caller, "/action-kinds/mediation", json={"label_en": "X"}), 403)
    problem_of(await api.get(world.admin, "/action-kinds/other2"), 404)
    problem_of(await api.patch(world.admin, "/action-kinds/nope", json={"label_en": "X"}), 404)


# --- organisations ----------------------------------------------------------------------


async def test_admin_creates_every_kind_of_organisation(api: Api) -> None:
    for kind in ORGANISATION_KINDS:
        body = {"name": unique(kind), "kind": kind, "commune_code": "57751"}
        response = await api.post(api.admin, "/organisations", json=body)
        created = expect(response, 201)
        assert created | body == created
        uuid.UUID(created["id"])
        assert response.headers["etag"] == f'"{created["version"]}"'
        assert expect(await api.get(api.admin, f"/organisations/{created['id']}"), 200) == created


async def test_organisation_commune_is_optional(api: Api) -> None:
    body = {"name": "Metz Métropole", "kind": "metropolis"}
    created = expect(await api.post(api.admin, "/organisations", json=body), 201)
    assert created["commune_code"] is None


async def test_organisation_names_are_not_unique(api: Api) -> None:
    body = {"name": "Police municipale", "kind": "municipal_police", "commune_code": "57463"}
    one = expect(await api.post(api.admin, "/organisations", json=body), 201)
    two = expect(
        await api.post(api.admin, "/organisations", json=body | {"commune_code": "57751"}), 201
    )
    assert one["id"] != two["id"]


async def test_organisation_input_is_validated(api: Api) -> None:
    base = {"name": "Bailleur", "kind": "landlord", "commune_code": "57463"}
    cases = [
        ("commune_code", "99999"),
        ("commune_code", "Metz"),
        ("kind", "bank"),
        ("name", ""),
        ("name", "x" * 201),
    ]
    for field, value in cases:
        response = await api.post(api.admin, "/organisations", json=base | {field: value})
        problem = problem_of(response, 422)
        assert ["body", field] in locs(problem), (field, value)
    listed = expect(await api.get(api.admin, "/organisations"), 200)
    assert listed["items"] == []


async def test_organisations_are_readable_by_anyone_authenticated(world: World) -> None:
    for caller in (world.landlord_partner, world.outsider_partner, world.commander):
        listed = await all_items(world.api, caller, "/organisations")
        assert world.landlord["id"] in [o["id"] for o in listed]
        read = expect(
            await world.api.get(caller, f"/organisations/{world.outsider_org['id']}"), 200
        )
        assert read["name"] == "Bailleur hors GPO"
    problem_of(await world.api.get(world.commander, f"/organisations/{uuid.uuid4()}"), 404)


async def test_organisations_filters(world: World) -> None:
    landlords = await all_items(world.api, world.admin, "/organisations", kind="landlord")
    assert {o["id"] for o in landlords} == {world.landlord["id"], world.outsider_org["id"]}
    woippy = await all_items(world.api, world.admin, "/organisations", commune_code="57751")
    assert [o["id"] for o in woippy] == [world.outsider_org["id"]]
    both = await all_items(
        world.api, world.admin, "/organisations", kind="landlord", commune_code="57463"
    )
    assert [o["id"] for o in both] == [world.landlord["id"]]


async def test_only_admins_create_or_change_organisations(world: World) -> None:
    api = world.api
    body = {"name": "Bailleur pirate", "kind": "landlord"}
    path = f"/organisations/{world.landlord['id']}"
    for caller in (world.facilitator, world.commander, world.landlord_partner):
        problem_of(await api.post(caller, "/organisations", json=body), 403)
        problem_of(await api.patch(caller, path, json={"name": "Renamed"}), 403)
    read = expect(await api.get(world.admin, path), 200)
    assert read == world.landlord
    names = [o["name"] for o in await all_items(api, world.admin, "/organisations")]
    assert "Bailleur pirate" not in names


async def test_organisation_patch_is_partial(api: Api) -> None:
    created = await api.organisation("landlord", "Logiest", "57480")
    path = f"/organisations/{created['id']}"
    renamed = expect(await api.patch(api.admin, path, json={"name": "Logiest Moselle"}), 200)
    assert renamed["name"] == "Logiest Moselle"
    assert renamed["kind"] == "landlord"
    assert renamed["commune_code"] == "57480"
    assert renamed["created_at"] == created["created_at"]

    moved = expect(await api.patch(api.admin, path, json={"commune_code": "57751"}), 200)
    assert (moved["name"], moved["kind"], moved["commune_code"]) == (
        "Logiest Moselle",
        "landlord",
        "57751",
    )
    cleared = expect(await api.patch(api.admin, path, json={"commune_code": None}), 200)
    assert cleared["commune_code"] is None
    assert cleared["name"] == "Logiest Moselle"

    # Fields that are not nullable refuse null; nothing changes.
    for field in ("name", "kind"):
        problem = problem_of(await api.patch(api.admin, path, json={field: None}), 422)
        assert ["body", field] in locs(problem)
    assert expect(await api.get(api.admin, path), 200) == cleared


async def test_organisation_patch_checks_the_commune(api: Api) -> None:
    created = await api.organisation("landlord", "Vivest", "57463")
    path = f"/organisations/{created['id']}"
    problem = problem_of(await api.patch(api.admin, path, json={"commune_code": "12345"}), 422)
    assert ["body", "commune_code"] in locs(problem)
    problem = problem_of(await api.patch(api.admin, path, json={"id": str(uuid.uuid4())}), 422)
    assert ["body", "id"] in locs(problem)
    assert expect(await api.get(api.admin, path), 200) == created
    problem_of(await api.patch(api.admin, f"/organisations/{uuid.uuid4()}", json={}), 404)


async def test_stale_if_match_is_412_and_changes_nothing(api: Api) -> None:
    created = await api.organisation("landlord", "Batigère", "57463")
    path = f"/organisations/{created['id']}"
    first = await api.get(api.admin, path)
    etag = first.headers["etag"]
    assert etag == f'"{created["version"]}"'

    updated = await api.patch(
        api.admin, path, json={"name": "Batigère Nord-Est"}, headers={"If-Match": etag}
    )
    body = expect(updated, 200)
    assert updated.headers["etag"] != etag
    assert updated.headers["etag"] == f'"{body["version"]}"'

    stale = await api.patch(
        api.admin, path, json={"name": "Lost update"}, headers={"If-Match": etag}
    )
    problem_of(stale, 412)
    assert expect(await api.get(api.admin, path), 200) == body

    # A weak validator never matches under the strong comparison If-Match uses.
    weak = f"W/{updated.headers['etag']}"
    problem_of(
        await api.patch(api.admin, path, json={"name": "W"}, headers={"If-Match": weak}), 412
    )
    fresh = await api.patch(
        api.admin, path, json={"name": "Batigère"}, headers={"If-Match": updated.headers["etag"]}
    )
    assert expect(fresh, 200)["name"] == "Batigère"


async def test_if_match_on_categories_and_action_kinds(api: Api) -> None:
    for path, field in (("/categories/rodeo", "label_en"), ("/action-kinds/lighting", "label_en")):
        current = await api.get(api.admin, path)
        body = expect(current, 200)
        stale = f'"{body["version"] + 5}"'
        response = await api.patch(
            api.admin, path, json={field: "Changed"}, headers={"If-Match": stale}
        )
        problem_of(response, 412)
        assert expect(await api.get(api.admin, path), 200) == body
        ok = await api.patch(
            api.admin, path, json={field: "Changed"}, headers={"If-Match": current.headers["etag"]}
        )
        assert expect(ok, 200)[field] == "Changed"
