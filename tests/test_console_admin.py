"""Administration, through HTTP as an admin's browser sends it: organisations, users
(creation, invitation, disabling), systems' API tokens (the secret shown once, revocation);
everyone else refused on every address; stale edits refused, not applied."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.identity.service import BUILTIN_ADMIN_EMAIL
from tests.api import Api, Caller, World, every_page, expect
from tests.console import Person, csrf_of, text_of

Console = Callable[[Caller | None], Awaitable[Person]]
BASE = "/console/administration"


async def as_admin(world: World, console: Console) -> Person:
    return await console(await world.api.user("admin", name="Alice Admin"))


async def read(api: Api, path: str) -> dict[str, Any]:
    return dict(expect(await api.get(api.admin, path), 200))


def version_in(page: str, action: str) -> str:
    """The version carried by the form posting to `action`."""
    found = re.search(rf'action="{re.escape(action)}".*?name="version" value="(\d+)"', page, re.S)
    assert found is not None, f"no form to {action} with a version"
    return found[1]


async def test_only_admins_reach_the_administration(world: World, console: Console) -> None:
    api = world.api
    organisation_id = world.landlord["id"]
    user_id = world.landlord_partner.id
    tokens = await every_page(api, api.admin, f"/users/{user_id}/tokens")
    token_id = tokens[0]["token_id"]
    pages = [
        BASE,
        f"{BASE}/organisations",
        f"{BASE}/organisations/nouvelle",
        f"{BASE}/organisations/{organisation_id}",
        f"{BASE}/organisations/{uuid.uuid4()}",
        f"{BASE}/utilisateurs",
        f"{BASE}/utilisateurs/nouveau",
        f"{BASE}/utilisateurs/{user_id}",
        f"{BASE}/nulle-part",
    ]
    forms = [
        f"{BASE}/organisations",
        f"{BASE}/organisations/{organisation_id}",
        f"{BASE}/utilisateurs",
        f"{BASE}/utilisateurs/{user_id}",
        f"{BASE}/utilisateurs/{user_id}/activation",
        f"{BASE}/utilisateurs/{user_id}/invitation",
        f"{BASE}/utilisateurs/{user_id}/jetons",
        f"{BASE}/utilisateurs/{user_id}/jetons/{token_id}/revocation",
    ]
    body = {"name": "Piratée", "kind": "other", "version": "1", "active": "false"}
    for caller in (world.facilitator, world.commander, world.landlord_partner):
        person = await console(caller)
        assert "Administration" not in text_of((await person.get("/console/gpo")).text)
        for path in pages:
            answer = await person.get(path)
            assert answer.status_code == 403, path
            assert "réservée aux administrateurs" in text_of(answer.text)
        for path in forms:
            assert (await person.post(path, body)).status_code == 403, path
    assert (await read(api, f"/organisations/{organisation_id}"))["name"] == world.landlord["name"]
    assert (await read(api, f"/users/{user_id}"))["active"] is True
    tokens_after = await every_page(api, api.admin, f"/users/{user_id}/tokens")
    assert tokens_after == tokens

    admin = await as_admin(world, console)
    home = await admin.get("/console")
    assert f'href="{BASE}"' in home.text
    assert (await admin.get(BASE)).status_code == 200
    for path in (
        f"{BASE}/nulle-part",
        f"{BASE}/organisations/{uuid.uuid4()}",
        f"{BASE}/utilisateurs/{uuid.uuid4()}",
        f"{BASE}/utilisateurs/pas-un-id",
    ):
        assert (await admin.get(path)).status_code == 404, path


async def test_an_admin_creates_and_edits_an_organisation(world: World, console: Console) -> None:
    api = world.api
    admin = await as_admin(world, console)
    before = await every_page(api, api.admin, "/organisations")
    form = await admin.get(f"{BASE}/organisations/nouvelle")
    assert form.status_code == 200
    text = text_of(form.text)
    assert "bailleur" in text
    assert "police municipale" in text

    invalid = await admin.post(f"{BASE}/organisations", {"name": "", "kind": "pas_un_type"})
    assert invalid.status_code == 422
    text = text_of(invalid.text)
    assert "Ce champ est obligatoire." in text
    assert "Choisissez une valeur de la liste." in text
    assert 'aria-describedby="nom-erreur"' in invalid.text
    assert await every_page(api, api.admin, "/organisations") == before
    unforged = await admin.post(
        f"{BASE}/organisations", {"name": "Logiest", "kind": "landlord"}, csrf=False
    )
    assert unforged.status_code == 403
    assert await every_page(api, api.admin, "/organisations") == before

    created = await admin.post(
        f"{BASE}/organisations", {"name": "Logiest", "kind": "landlord", "commune_code": "57463"}
    )
    assert created.status_code == 303, created.text
    listing = await admin.get(created.headers["location"])
    text = text_of(listing.text)
    assert "Organisation « Logiest » créée." in text
    assert re.search(r"Logiest bailleur Metz", text)
    stored = next(
        o for o in await every_page(api, api.admin, "/organisations") if o["name"] == "Logiest"
    )
    assert (stored["kind"], stored["commune_code"]) == ("landlord", "57463")

    # Renamed, moved to no commune in particular.
    path = f"{BASE}/organisations/{stored['id']}"
    page = await admin.get(path)
    version = version_in(page.text, path)
    assert version == str(stored["version"])
    renamed = await admin.post(
        path,
        {"version": version, "name": "Logiest Moselle", "kind": "landlord", "commune_code": ""},
    )
    assert renamed.status_code == 303, renamed.text
    assert "Organisation enregistrée." in text_of(
        (await admin.get(renamed.headers["location"])).text
    )
    after = await read(api, f"/organisations/{stored['id']}")
    assert (after["name"], after["commune_code"]) == ("Logiest Moselle", None)
    assert after["version"] == stored["version"] + 1

    # A form made from the older version is refused, and says what to do.
    stale = await admin.post(path, {"version": version, "name": "Logiest Est", "kind": "other"})
    assert stale.status_code == 412
    text = text_of(stale.text)
    assert "modifiée entre-temps" in text
    assert "rechargez" in text
    assert (await read(api, f"/organisations/{stored['id']}")) == after


async def test_an_admin_creates_a_user_and_invites_it(world: World, console: Console) -> None:
    api = world.api
    admin = await as_admin(world, console)
    users_before = await every_page(api, api.admin, "/users")
    no_organisation = await admin.post(
        f"{BASE}/utilisateurs",
        {"email": "lea.gardien@logiest.fr", "display_name": "Léa Gardien", "role": "partner"},
    )
    assert no_organisation.status_code == 422
    assert "Un partenaire appartient à une organisation" in text_of(no_organisation.text)
    assert 'aria-describedby="organisation-erreur"' in no_organisation.text
    bad_email = await admin.post(
        f"{BASE}/utilisateurs",
        {"email": "pas une adresse", "display_name": "Léa Gardien", "role": "partner"},
    )
    assert bad_email.status_code == 422
    assert "Le format n'est pas celui attendu." in text_of(bad_email.text)
    assert await every_page(api, api.admin, "/users") == users_before

    created = await admin.post(
        f"{BASE}/utilisateurs",
        {
            "email": "Lea.Gardien@Logiest.fr",
            "display_name": "Léa Gardien",
            "role": "partner",
            "organisation_id": world.landlord["id"],
        },
    )
    assert created.status_code == 303, created.text
    page = await admin.get(created.headers["location"])
    text = text_of(page.text)
    assert "Utilisateur créé." in text
    assert "partenaire" in text
    assert "Metz Habitat Territoire" in text
    user_id = created.headers["location"].split("/")[-1].split("?")[0]
    stored = await read(api, f"/users/{user_id}")
    assert (stored["email"], stored["role"]) == ("lea.gardien@logiest.fr", "partner")

    # The invitation link, shown once; it opens the page where the person sets a password.
    invited = await admin.post(f"{BASE}/utilisateurs/{user_id}/invitation")
    assert invited.status_code == 200, invited.text
    assert "ne sera plus affiché" in text_of(invited.text)
    found = re.search(r'value="(http://gpo\.test/console/invitation/[^"]+)"', invited.text)
    assert found is not None
    link = html.unescape(found[1]).removeprefix("http://gpo.test")
    assert (
        link.removeprefix("/console/invitation/")
        not in (await admin.get(f"{BASE}/utilisateurs/{user_id}")).text
    )
    person = await console(None)
    welcome = await person.get(link)
    assert welcome.status_code == 200
    assert "Bienvenue, Léa Gardien" in text_of(welcome.text)
    assert "Mot de passe" in text_of(welcome.text)
    # A new invitation replaces it.
    await admin.post(f"{BASE}/utilisateurs/{user_id}/invitation")
    assert (await person.get(link)).status_code == 404


async def test_an_admin_edits_disables_and_enables_a_user(world: World, console: Console) -> None:
    api = world.api
    admin = await as_admin(world, console)
    target = world.municipal_partner
    path = f"{BASE}/utilisateurs/{target.id}"
    page = await admin.get(path)
    version = version_in(page.text, path)
    edited = await admin.post(
        path,
        {
            "version": version,
            "display_name": "Karim Benali-Roux",
            "email": "k.benali@example.org",
            "role": "partner",
            "organisation_id": world.municipal_police["id"],
        },
    )
    assert edited.status_code == 303, edited.text
    assert "Fiche enregistrée." in text_of((await admin.get(edited.headers["location"])).text)
    user = await read(api, f"/users/{target.id}")
    assert (user["display_name"], user["email"]) == ("Karim Benali-Roux", "k.benali@example.org")

    # The older form is refused; a partner keeps its organisation.
    stale = await admin.post(path, {"version": version, "display_name": "Karim B."})
    assert stale.status_code == 412
    assert "modifiée entre-temps" in text_of(stale.text)
    orphan = await admin.post(
        path, {"version": str(user["version"]), "role": "partner", "organisation_id": ""}
    )
    assert orphan.status_code == 422
    assert "Un partenaire appartient à une organisation" in text_of(orphan.text)
    assert await read(api, f"/users/{target.id}") == user

    # Disabled: its token and its console session stop working.
    session = await console(target)
    page = await admin.get(path)
    disabled = await admin.post(
        f"{path}/activation",
        {"version": version_in(page.text, f"{path}/activation"), "active": "false"},
    )
    assert disabled.status_code == 303, disabled.text
    text = text_of((await admin.get(disabled.headers["location"])).text)
    assert "compte désactivé" in text
    assert "Réactiver le compte" in text
    assert "Créer un lien d'invitation" not in text
    assert "Créer le jeton" not in text
    assert (await api.get(target, "/me")).status_code == 401
    assert (await session.get("/console/mon-organisation")).status_code == 303
    # A stale activation form is refused too.
    again = await admin.post(f"{path}/activation", {"version": version, "active": "true"})
    assert again.status_code == 412
    assert (await read(api, f"/users/{target.id}"))["active"] is False

    page = await admin.get(path)
    enabled = await admin.post(
        f"{path}/activation",
        {"version": version_in(page.text, f"{path}/activation"), "active": "true"},
    )
    assert enabled.status_code == 303
    assert (await read(api, f"/users/{target.id}"))["active"] is True


async def test_the_users_list_pages_and_filters(world: World, console: Console) -> None:
    api = world.api
    for n in range(50):
        body = {
            "email": f"agent{n}@example.org",
            "display_name": f"Agent {n:02d}",
            "role": "commander",
        }
        expect(await api.post(api.admin, "/users", json=body), 201)
    admin = await as_admin(world, console)
    first = await admin.get(f"{BASE}/utilisateurs")
    assert first.status_code == 200
    text = text_of(first.text)
    assert "Claire Martin" in text  # oldest first
    assert f"/utilisateurs/{admin.caller.id}" not in first.text  # the newest
    link = re.search(r'href="([^"]+)"[^>]*>Page suivante', first.text)
    assert link is not None
    second = await admin.get(html.unescape(link[1]))
    text = text_of(second.text)
    assert f"/utilisateurs/{admin.caller.id}" in second.text
    assert "Claire Martin" not in text
    assert "Première page" in text

    partners = text_of((await admin.get(f"{BASE}/utilisateurs", params={"role": "partner"})).text)
    assert "Sophie Leroy" in partners
    assert "Claire Martin" not in partners
    assert "Page suivante" not in partners
    members = await admin.get(f"{BASE}/utilisateurs", params={"organisation": world.landlord["id"]})
    assert "Sophie Leroy" in text_of(members.text)
    assert "Karim Benali" not in text_of(members.text)
    assert (await admin.get(f"{BASE}/utilisateurs", params={"role": "roi"})).status_code == 400
    forged = await admin.get(f"{BASE}/utilisateurs", params={"cursor": "abc.def"})
    assert forged.status_code == 400
    # A cursor is valid only with the filters it was made for.
    cursor = html.unescape(link[1]).split("cursor=")[1]
    mixed = await admin.get(f"{BASE}/utilisateurs", params={"role": "partner", "cursor": cursor})
    assert mixed.status_code == 400


async def test_a_token_secret_is_shown_once_and_a_token_revoked(
    world: World, console: Console
) -> None:
    api = world.api
    admin = await as_admin(world, console)
    user = world.landlord_partner
    path = f"{BASE}/utilisateurs/{user.id}"

    invalid = await admin.post(f"{path}/jetons", {"name": "", "expires_in_days": "0"})
    assert invalid.status_code == 422
    text = text_of(invalid.text)
    assert "Ce champ est obligatoire." in text
    assert "La valeur doit être au moins 1." in text
    before = await every_page(api, api.admin, f"/users/{user.id}/tokens")

    created = await admin.post(f"{path}/jetons", {"name": "SI bailleur", "expires_in_days": "30"})
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    assert "ne sera plus jamais affiché" in text_of(created.text)
    found = re.search(r'id="secret-jeton" value="(gpo_[^"]+)"', created.text)
    assert found is not None
    secret = found[1]
    system = Caller(secret)
    me = expect(await api.get(system, "/me"), 200)
    assert me["user"]["id"] == user.id

    page = await admin.get(path)
    assert secret not in page.text
    assert "SI bailleur" in text_of(page.text)
    tokens = await every_page(api, api.admin, f"/users/{user.id}/tokens")
    assert len(tokens) == len(before) + 1
    new = next(t for t in tokens if t["name"] == "SI bailleur")
    assert secret.startswith(new["prefix"])

    # Revoked: the system is refused; the list says so. Another user's path finds nothing.
    elsewhere = await admin.post(
        f"{BASE}/utilisateurs/{world.facilitator.id}/jetons/{new['token_id']}/revocation"
    )
    assert elsewhere.status_code == 404
    assert (await api.get(system, "/me")).status_code == 200
    revoke = f"{path}/jetons/{new['token_id']}/revocation"
    assert f'action="{revoke}"' in page.text
    assert (await admin.post(revoke, csrf=False)).status_code == 403
    revoked = await admin.post(revoke)
    assert revoked.status_code == 303
    text = text_of((await admin.get(revoked.headers["location"])).text)
    assert "Jeton révoqué." in text
    assert re.search(r"SI bailleur \S+ \S+ \S+ révoqué le", text)
    assert (await api.get(system, "/me")).status_code == 401


async def test_the_bootstrap_admin_keeps_its_token_and_role(world: World, console: Console) -> None:
    api = world.api
    builtin = next(
        u for u in await every_page(api, api.admin, "/users") if u["email"] == BUILTIN_ADMIN_EMAIL
    )
    admin = await as_admin(world, console)
    page = await admin.get(f"{BASE}/utilisateurs/{builtin['id']}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "GPO_BOOTSTRAP_ADMIN_TOKEN" in text
    assert "/revocation" not in page.text
    assert "Désactiver le compte" not in text
    assert 'name="role"' not in page.text


async def test_an_admin_cannot_disable_itself(world: World, console: Console) -> None:
    me = await world.api.user("admin", name="Alice Admin")
    admin = await console(me)
    path = f"{BASE}/utilisateurs/{me.id}"
    page = await admin.get(path)
    text = text_of(page.text)
    assert "un autre administrateur peut le désactiver" in text
    assert "Désactiver le compte" not in text
    assert 'name="role"' not in page.text
    # Posting the form anyway is refused in French, and the account stays active.
    refused = await admin.post(
        f"{path}/activation",
        {"version": version_in(page.text, f"{path}/activation"), "active": "false"},
    )
    assert refused.status_code == 409
    assert "demandez-le à un autre administrateur" in text_of(refused.text)
    assert (await read(world.api, f"/users/{me.id}"))["active"] is True
    assert (await admin.get(path)).status_code == 200


@pytest.mark.parametrize("path", ["/organisations", "/utilisateurs"])
async def test_admin_forms_need_their_csrf_token(world: World, console: Console, path: str) -> None:
    admin = await as_admin(world, console)
    page = await admin.get(BASE + path)
    assert csrf_of(page.text) == admin.csrf
    admin.csrf = "forged"
    answer = await admin.post(BASE + path, {"name": "X", "kind": "other"})
    assert answer.status_code == 403
    assert "expiré" in text_of(answer.text)
