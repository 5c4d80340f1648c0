"""Users, API tokens and /me, as an admin and the people it equips would use them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select, text, update

from app.core.audit import AuditEvent
from app.identity.models import ApiToken
from tests.api import Api, Caller, World, expect, problem_of, unique
from tests.conftest import BOOTSTRAP_TOKEN


def when(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, f"{value} has no offset"
    return moment


def user_body(
    role: str, organisation: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    name = unique(role.capitalize())
    return {
        "email": f"{name.replace(' ', '.').lower()}@example.org",
        "display_name": name,
        "role": role,
        "organisation_id": organisation["id"] if organisation else None,
        **extra,
    }


def assert_unauthorized(response: Any) -> None:
    problem_of(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")


async def new_token(api: Api, caller: Caller, user_id: str, **body: Any) -> dict[str, Any]:
    response = await api.post(caller, f"/users/{user_id}/tokens", json={"name": "cli", **body})
    return dict(expect(response, 201))


# --- users -------------------------------------------------------------------------------


async def test_admin_creates_a_user_and_reads_it_back(api: Api) -> None:
    organisation = await api.organisation("landlord")
    body = user_body("partner", organisation)
    response = await api.post(api.admin, "/users", json=body)
    created = expect(response, 201)
    assert created["email"] == body["email"]
    assert created["display_name"] == body["display_name"]
    assert created["role"] == "partner"
    assert created["organisation_id"] == organisation["id"]
    assert created["active"] is True
    uuid.UUID(created["id"])
    when(created["created_at"])
    assert response.headers["etag"] == f'"{created["version"]}"'

    read = expect(await api.get(api.admin, f"/users/{created['id']}"), 200)
    assert read == created


async def test_user_email_is_normalised_and_validated(api: Api) -> None:
    body = user_body("commander", email="  Paul.Durand@Example.ORG ")
    created = expect(await api.post(api.admin, "/users", json=body), 201)
    assert created["email"] == "paul.durand@example.org"

    bad = user_body("commander", email="not-an-email")
    problem = problem_of(await api.post(api.admin, "/users", json=bad), 422)
    assert ["body", "email"] in [e["loc"] for e in problem["errors"]]


async def test_emails_are_not_unique(api: Api) -> None:
    first = user_body("commander", email="shared@example.org")
    second = user_body("facilitator", email="shared@example.org")
    one = expect(await api.post(api.admin, "/users", json=first), 201)
    two = expect(await api.post(api.admin, "/users", json=second), 201)
    assert one["id"] != two["id"]


async def test_partner_needs_an_organisation(api: Api) -> None:
    problem = problem_of(await api.post(api.admin, "/users", json=user_body("partner")), 422)
    assert ["body", "organisation_id"] in [e["loc"] for e in problem["errors"]]
    listed = expect(await api.get(api.admin, "/users", params={"role": "partner"}), 200)
    assert listed["items"] == []


async def test_unknown_organisation_or_role_is_refused(api: Api) -> None:
    body = user_body("partner", {"id": str(uuid.uuid4())})
    problem = problem_of(await api.post(api.admin, "/users", json=body), 422)
    assert ["body", "organisation_id"] in [e["loc"] for e in problem["errors"]]

    problem = problem_of(await api.post(api.admin, "/users", json=user_body("superuser")), 422)
    assert ["body", "role"] in [e["loc"] for e in problem["errors"]]


async def test_server_owned_fields_cannot_be_set(api: Api) -> None:
    for field, value in [("id", str(uuid.uuid4())), ("version", 7), ("active", False)]:
        body = user_body("commander", **{field: value})
        problem = problem_of(await api.post(api.admin, "/users", json=body), 422)
        assert ["body", field] in [e["loc"] for e in problem["errors"]], field


async def test_only_admins_manage_users(world: World) -> None:
    api = world.api
    for caller in (world.facilitator, world.commander, world.landlord_partner):
        problem_of(await api.post(caller, "/users", json=user_body("commander")), 403)
        problem_of(await api.get(caller, "/users"), 403)
        problem_of(
            await api.patch(caller, f"/users/{caller.id}", json={"display_name": "Moi"}), 403
        )
    # Nothing was created by the refused calls.
    listed = expect(await api.get(world.admin, "/users", params={"role": "commander"}), 200)
    assert [u["id"] for u in listed["items"]] == [world.commander.id]


async def test_a_user_reads_itself_but_not_others(world: World) -> None:
    api = world.api
    me = expect(await api.get(world.landlord_partner, f"/users/{world.landlord_partner.id}"), 200)
    assert me["id"] == world.landlord_partner.id
    assert me["display_name"] == "Sophie Leroy"

    for caller, other in [
        (world.landlord_partner, world.facilitator),
        (world.facilitator, world.other_facilitator),
        (world.commander, world.landlord_partner),
    ]:
        problem_of(await api.get(caller, f"/users/{other.id}"), 404)


async def test_unknown_or_malformed_user_id_is_404(api: Api) -> None:
    problem_of(await api.get(api.admin, f"/users/{uuid.uuid4()}"), 404)
    # Ids are opaque: one that could never exist is not found, like any other.
    problem_of(await api.get(api.admin, "/users/not-a-uuid"), 404)
    problem_of(await api.patch(api.admin, "/users/not-a-uuid", json={"display_name": "X"}), 404)


async def test_list_users_with_filters(world: World) -> None:
    api = world.api
    everyone = expect(await api.get(world.admin, "/users", params={"limit": 200}), 200)
    ids = {u["id"] for u in everyone["items"]}
    assert {world.facilitator.id, world.commander.id, world.outsider_partner.id} <= ids

    partners = expect(await api.get(world.admin, "/users", params={"role": "partner"}), 200)
    assert {u["id"] for u in partners["items"]} == {
        world.police_partner.id,
        world.municipal_partner.id,
        world.landlord_partner.id,
        world.outsider_partner.id,
    }

    landlord = expect(
        await api.get(world.admin, "/users", params={"organisation_id": world.landlord["id"]}),
        200,
    )
    assert [u["id"] for u in landlord["items"]] == [world.landlord_partner.id]

    expect(
        await api.patch(world.admin, f"/users/{world.commander.id}", json={"active": False}), 200
    )
    disabled = expect(await api.get(world.admin, "/users", params={"active": "false"}), 200)
    assert [u["id"] for u in disabled["items"]] == [world.commander.id]


async def test_patch_is_partial(world: World) -> None:
    api = world.api
    before = expect(await api.get(world.admin, f"/users/{world.commander.id}"), 200)
    after = expect(
        await api.patch(
            world.admin, f"/users/{world.commander.id}", json={"display_name": "Paul D."}
        ),
        200,
    )
    assert after["display_name"] == "Paul D."
    for field in ("email", "role", "organisation_id", "active", "created_at"):
        assert after[field] == before[field], field
    assert after["version"] == before["version"] + 1


async def test_patch_cannot_leave_a_partner_without_organisation(world: World) -> None:
    api = world.api
    path = f"/users/{world.landlord_partner.id}"
    problem = problem_of(await api.patch(world.admin, path, json={"organisation_id": None}), 422)
    assert ["body", "organisation_id"] in [e["loc"] for e in problem["errors"]]
    # Nor turn an organisation-less user into a partner.
    lone = expect(await api.post(world.admin, "/users", json=user_body("commander")), 201)
    problem = problem_of(
        await api.patch(world.admin, f"/users/{lone['id']}", json={"role": "partner"}), 422
    )
    assert ["body", "organisation_id"] in [e["loc"] for e in problem["errors"]]
    read = expect(await api.get(world.admin, path), 200)
    assert read["organisation_id"] == world.landlord["id"]


async def test_patch_refuses_null_for_required_fields(world: World) -> None:
    api = world.api
    path = f"/users/{world.commander.id}"
    for field in ("email", "display_name", "role", "active"):
        problem = problem_of(await api.patch(world.admin, path, json={field: None}), 422)
        assert ["body", field] in [e["loc"] for e in problem["errors"]], field


async def test_disabling_a_user_revokes_its_tokens_for_good(world: World, app: FastAPI) -> None:
    api = world.api
    expect(await api.get(world.commander, "/me"), 200)
    path = f"/users/{world.commander.id}"
    disabled = expect(await api.patch(world.admin, path, json={"active": False}), 200)
    assert disabled["active"] is False
    assert_unauthorized(await api.get(world.commander, "/me"))
    tokens = expect(await api.get(world.admin, f"{path}/tokens"), 200)["items"]
    assert tokens
    assert all(t["revoked_at"] is not None and t["active"] is False for t in tokens)
    # Enabling it again revives none of them: its systems get new tokens, knowingly.
    expect(await api.patch(world.admin, path, json={"active": True}), 200)
    assert_unauthorized(await api.get(world.commander, "/me"))
    fresh = await new_token(api, world.admin, world.commander.id)
    expect(await api.get(Caller(fresh["token"]), "/me"), 200)
    async with app.state.database.session(write=False) as session:
        logged = set(
            await session.scalars(
                select(AuditEvent.resource_id).where(AuditEvent.action == "token.revoke")
            )
        )
    assert {t["token_id"] for t in tokens} <= logged


async def test_an_admin_cannot_disable_itself_or_drop_its_role(api: Api) -> None:
    body = expect(await api.post(api.admin, "/users", json=user_body("admin")), 201)
    second = Caller((await new_token(api, api.admin, body["id"]))["token"])
    path = f"/users/{body['id']}"
    for change in ({"active": False}, {"role": "commander"}):
        problem = problem_of(await api.patch(second, path, json=change), 409)
        assert "another admin" in problem["detail"]
    read = expect(await api.get(second, path), 200)
    assert read["active"] is True
    assert read["role"] == "admin"
    # Another admin may, and the disabled admin's token stops working at once.
    expect(await api.patch(api.admin, path, json={"active": False}), 200)
    assert_unauthorized(await api.get(second, "/me"))


# --- /me and the bootstrap admin -----------------------------------------------------------


async def test_me_gives_user_organisation_and_role(world: World) -> None:
    body = expect(await world.api.get(world.landlord_partner, "/me"), 200)
    assert body["role"] == "partner"
    assert body["user"]["id"] == world.landlord_partner.id
    assert body["user"]["display_name"] == "Sophie Leroy"
    assert body["organisation"]["id"] == world.landlord["id"]
    assert body["organisation"]["kind"] == "landlord"
    assert body["organisation"]["name"] == "Metz Habitat Territoire"


async def test_me_without_organisation(api: Api) -> None:
    created = expect(await api.post(api.admin, "/users", json=user_body("commander")), 201)
    token = await new_token(api, api.admin, created["id"])
    body = expect(await api.get(Caller(token["token"]), "/me"), 200)
    assert body["user"]["id"] == created["id"]
    assert body["organisation"] is None
    assert body["role"] == "commander"


async def test_bootstrap_admin_token_is_a_working_admin(api: Api) -> None:
    body = expect(await api.get(Caller(BOOTSTRAP_TOKEN), "/me"), 200)
    assert body["role"] == "admin"
    assert body["user"]["active"] is True
    # It can configure a fresh deployment.
    expect(await api.post(Caller(BOOTSTRAP_TOKEN), "/users", json=user_body("commander")), 201)
    tokens = expect(await api.get(api.admin, f"/users/{body['user']['id']}/tokens"), 200)
    bootstrap = [t for t in tokens["items"] if BOOTSTRAP_TOKEN.startswith(t["prefix"])]
    assert len(bootstrap) == 1
    assert bootstrap[0]["expires_at"] is None
    assert bootstrap[0]["active"] is True


async def test_missing_or_invalid_token_is_401(api: Api) -> None:
    assert_unauthorized(await api.get(None, "/me"))
    assert_unauthorized(await api.get(Caller("gpo_not_a_real_token"), "/me"))
    assert_unauthorized(
        await api.get(None, "/me", headers={"Authorization": f"Basic {BOOTSTRAP_TOKEN}"})
    )
    for empty in ("Bearer", "Bearer ", "Bearer    ", ""):
        assert_unauthorized(await api.get(None, "/me", headers={"Authorization": empty}))


async def test_the_scheme_is_read_in_any_case_and_the_token_trimmed(api: Api) -> None:
    """As RFC 9110 says of auth schemes, and as FastAPI's `HTTPBearer` reads them."""
    for header in (f"bearer {BOOTSTRAP_TOKEN}", f"BEARER   {BOOTSTRAP_TOKEN}  "):
        me = expect(await api.get(None, "/me", headers={"Authorization": header}), 200)
        assert me["role"] == "admin"


# --- tokens ----------------------------------------------------------------------------


async def test_admin_creates_a_token_shown_once(world: World) -> None:
    api = world.api
    started = datetime.now(UTC)
    created = await new_token(api, world.admin, world.landlord_partner.id, name="SI bailleur")
    assert created["token"].startswith("gpo_")
    assert len(created["token"]) >= 30
    assert created["token"].startswith(created["prefix"])
    assert len(created["prefix"]) < len(created["token"])
    uuid.UUID(created["token_id"])
    expires_at = when(created["expires_at"])
    # The default life is 90 days.
    assert started + timedelta(days=90) - timedelta(minutes=1) <= expires_at
    assert expires_at <= datetime.now(UTC) + timedelta(days=90, minutes=1)

    me = expect(await api.get(Caller(created["token"]), "/me"), 200)
    assert me["user"]["id"] == world.landlord_partner.id

    listed = await api.get(world.admin, f"/users/{world.landlord_partner.id}/tokens")
    body = expect(listed, 200)
    assert created["token"] not in listed.text
    mine = [t for t in body["items"] if t["token_id"] == created["token_id"]]
    assert len(mine) == 1
    assert "token" not in mine[0]
    assert mine[0]["prefix"] == created["prefix"]
    assert mine[0]["name"] == "SI bailleur"
    assert mine[0]["active"] is True
    assert mine[0]["revoked_at"] is None


async def test_token_expiry_is_chosen_within_bounds(world: World) -> None:
    api = world.api
    path = f"/users/{world.commander.id}/tokens"
    # At most a year and a day: a system's token is renewed at least once a year.
    created = await new_token(api, world.admin, world.commander.id, expires_in_days=366)
    assert when(created["expires_at"]) > datetime.now(UTC) + timedelta(days=365)
    created = await new_token(api, world.admin, world.commander.id, expires_in_days=1)
    assert when(created["expires_at"]) < datetime.now(UTC) + timedelta(days=1, minutes=1)
    for days in (0, 367, 3650, -5, "30"):
        response = await api.post(world.admin, path, json={"name": "x", "expires_in_days": days})
        problem = problem_of(response, 422)
        assert ["body", "expires_in_days"] in [e["loc"] for e in problem["errors"]], days
    problem = problem_of(await api.post(world.admin, path, json={"name": " "}), 422)
    assert ["body", "name"] in [e["loc"] for e in problem["errors"]]
    # Both fields have defaults: a name, and 90 days.
    default = expect(await api.post(world.admin, path, json={}), 201)
    assert default["name"] == "API token"
    assert when(default["expires_at"]) > datetime.now(UTC) + timedelta(days=89)


async def test_a_user_holds_at_most_ten_live_tokens(world: World) -> None:
    api = world.api
    partner = await api.user("partner", world.landlord)  # one token already, from the factory
    path = f"/users/{partner.id}/tokens"
    made = [await new_token(api, partner, partner.id, name=f"t{n}") for n in range(9)]
    problem = problem_of(await api.post(partner, path, json={"name": "eleventh"}), 409)
    assert "10 live tokens" in problem["detail"]
    live = [t for t in expect(await api.get(partner, path), 200)["items"] if t["active"]]
    assert len(live) == 10
    # A revoked token frees its place.
    expect(await api.delete(partner, f"/tokens/{made[0]['token_id']}"), 204)
    await new_token(api, partner, partner.id, name="replacement")


async def test_a_user_creates_and_lists_its_own_tokens(world: World) -> None:
    api = world.api
    partner = world.landlord_partner
    created = await new_token(api, partner, partner.id, name="script")
    expect(await api.get(Caller(created["token"]), "/me"), 200)
    listed = expect(await api.get(partner, f"/users/{partner.id}/tokens"), 200)
    assert created["token_id"] in [t["token_id"] for t in listed["items"]]
    assert all(t["user_id"] == partner.id for t in listed["items"])


async def test_another_users_tokens_are_404(world: World) -> None:
    api = world.api
    victim = world.police_partner
    for caller in (world.landlord_partner, world.facilitator, world.commander):
        problem_of(await api.get(caller, f"/users/{victim.id}/tokens"), 404)
        problem_of(
            await api.post(caller, f"/users/{victim.id}/tokens", json={"name": "steal"}), 404
        )
    listed = expect(await api.get(world.admin, f"/users/{victim.id}/tokens"), 200)
    assert [t["name"] for t in listed["items"]] == ["tests"]


async def test_revoked_token_is_refused(world: World) -> None:
    api = world.api
    partner = world.landlord_partner
    created = await new_token(api, world.admin, partner.id)
    caller = Caller(created["token"])
    expect(await api.get(caller, "/me"), 200)

    response = await api.delete(world.admin, f"/tokens/{created['token_id']}")
    assert expect(response, 204) is None
    assert_unauthorized(await api.get(caller, "/me"))
    # Revoking again is harmless; the other token of the user still works.
    expect(await api.delete(world.admin, f"/tokens/{created['token_id']}"), 204)
    expect(await api.get(partner, "/me"), 200)

    listed = expect(await api.get(world.admin, f"/users/{partner.id}/tokens"), 200)
    revoked = next(t for t in listed["items"] if t["token_id"] == created["token_id"])
    assert revoked["active"] is False
    assert revoked["revoked_at"] is not None


async def test_owner_revokes_its_own_token_but_not_anothers(world: World) -> None:
    api = world.api
    spare = await new_token(api, world.landlord_partner, world.landlord_partner.id)
    others = await new_token(api, world.admin, world.police_partner.id)

    problem_of(await api.delete(world.landlord_partner, f"/tokens/{others['token_id']}"), 404)
    expect(await api.get(Caller(others["token"]), "/me"), 200)

    expect(await api.delete(world.landlord_partner, f"/tokens/{spare['token_id']}"), 204)
    assert_unauthorized(await api.get(Caller(spare["token"]), "/me"))
    problem_of(await api.delete(world.admin, f"/tokens/{uuid.uuid4()}"), 404)


async def test_a_token_can_revoke_itself(world: World) -> None:
    api = world.api
    created = await new_token(api, world.admin, world.commander.id)
    caller = Caller(created["token"])
    expect(await api.delete(caller, f"/tokens/{created['token_id']}"), 204)
    assert_unauthorized(await api.get(caller, "/me"))


async def test_expired_token_is_refused(world: World, app: FastAPI) -> None:
    api = world.api
    created = await new_token(api, world.admin, world.commander.id)
    caller = Caller(created["token"])
    expect(await api.get(caller, "/me"), 200)
    async with app.state.database.session(write=True) as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.id == uuid.UUID(created["token_id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert_unauthorized(await api.get(caller, "/me"))
    listed = expect(await api.get(world.admin, f"/users/{world.commander.id}/tokens"), 200)
    expired = next(t for t in listed["items"] if t["token_id"] == created["token_id"])
    assert expired["active"] is False


async def test_tokens_are_stored_hashed(world: World, app: FastAPI) -> None:
    api = world.api
    created = await new_token(api, world.admin, world.commander.id)
    secret = created["token"]
    async with app.state.database.session(write=False) as session:
        tokens = (await session.execute(text("SELECT * FROM api_tokens"))).all()
        events = (await session.execute(text("SELECT * FROM audit_events"))).all()
    assert tokens
    for row in [*tokens, *events]:
        for value in row:
            assert secret not in str(value)
            assert BOOTSTRAP_TOKEN not in str(value)
    # The token still authenticates: it is found through its hash.
    expect(await api.get(Caller(secret), "/me"), 200)


async def test_disabled_user_cannot_use_tokens_created_for_it(world: World) -> None:
    api = world.api
    created = await new_token(api, world.admin, world.municipal_partner.id)
    path = f"/users/{world.municipal_partner.id}"
    expect(await api.patch(world.admin, path, json={"active": False}), 200)
    assert_unauthorized(await api.get(Caller(created["token"]), "/me"))
    assert_unauthorized(await api.get(world.municipal_partner, "/me"))


async def test_users_list_pages_oldest_first(api: Api) -> None:
    created = [
        expect(await api.post(api.admin, "/users", json=user_body("commander")), 201)["id"]
        for _ in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "role": "commander"} | ({"cursor": cursor} if cursor else {})
        page = expect(await api.get(api.admin, "/users", params=params), 200)
        seen += [user["id"] for user in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(seen) < 10, "pagination does not end"
    assert seen == created


# --- notification preferences ------------------------------------------------------------------


async def test_a_person_chooses_how_often_it_gets_the_digest(world: World) -> None:
    api = world.api
    assert expect(await api.get(world.landlord_partner, "/me/notifications"), 200) == {
        "digest": "daily"
    }
    changed = await api.patch(
        world.landlord_partner, "/me/notifications", json={"digest": "weekly"}
    )
    assert expect(changed, 200) == {"digest": "weekly"}
    assert (
        expect(await api.get(world.landlord_partner, "/me/notifications"), 200)["digest"]
        == "weekly"
    )
    # One's own only: another person's stays as it was.
    assert (
        expect(await api.get(world.police_partner, "/me/notifications"), 200)["digest"] == "daily"
    )
    bad = problem_of(
        await api.patch(world.landlord_partner, "/me/notifications", json={"digest": "hourly"}), 422
    )
    assert ["body", "digest"] in [e["loc"] for e in bad["errors"]]
    unknown = await api.patch(world.landlord_partner, "/me/notifications", json={"email": "x@y.fr"})
    problem_of(unknown, 422)
    problem_of(await api.get(None, "/me/notifications"), 401)
