"""The DPO's tools through HTTP: the subject search (every kind of text and people, case
and accents folded, pages, CSV, its own audit) and the processing register (JSON and
Markdown, following the settings and the reference data); both for admins only."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.config import Settings
from app.core.audit import AuditEvent
from app.core.search import normalise
from app.governance.search import SOURCES, ascii_folded, excerpt, folded_with_origins
from tests.api import Api, Caller, World, every_page, expect, problem_of
from tests.intake import submit, triage

SEARCH = "/governance/subject-search"
REGISTER = "/governance/register"


async def matches(api: Api, q: str, **params: Any) -> list[dict[str, Any]]:
    return await every_page(api, api.admin, SEARCH, {"q": q, **params})


def found(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(item["resource_type"], item["field"]) for item in items}


async def write_everywhere(world: World) -> dict[str, Any]:
    """The name of one person written, in several spellings, in every kind of text."""
    api, fac = world.api, world.facilitator
    problem = await api.problem(
        fac,
        world.gpo,
        title="Hall du 4 rue de Toul, signalé par GRÉGOIRE VAUTRIN",
        description="Le gardien, Grégoire  Vautrin, signale des regroupements.",
    )
    pid = problem["id"]
    closed = await api.problem(fac, world.gpo)
    response = await api.move(
        fac, closed, "closed", outcome="not_in_scope", note="Vu avec gregoire vautrin."
    )
    expect(response, 200)
    comment = {"body": "Rappeler Grégoire Vautrin demain."}
    expect(await api.post(fac, f"/problems/{pid}/comments", json=comment), 201)
    meeting_body = {
        "scheduled_at": "2026-03-14T18:30:00+01:00",
        "notes": "Présents : Grégoire Vautrin (gardien).",
    }
    meeting = expect(
        await api.post(fac, f"/gpos/{world.gpo['id']}/meetings", json=meeting_body), 201
    )
    review = {"problem_id": pid, "note": "M. Vautrin Grégoire confirme ; grégoire vautrin."}
    expect(await api.post(fac, f"/meetings/{meeting['id']}/reviews", json=review), 201)
    action = await api.action(
        fac, problem, world.landlord, description="Rencontrer Grégoire Vautrin sur place."
    )
    patched = {"result_note": "Grégoire VAUTRIN rencontré."}
    expect(await api.patch(fac, f"/actions/{action['id']}", json=patched), 200)
    indicator_body = {
        "name": "Appels au 17",
        "unit": "appels",
        "direction": "decrease",
        "baseline": {"value": 31, "period_start": "2026-01-01", "period_end": "2026-01-31"},
        "source": "Relevés de Grégoire Vautrin",
    }
    indicator = expect(await api.post(fac, f"/problems/{pid}/indicators", json=indicator_body), 201)
    measurement = {
        "period_start": "2026-02-01",
        "period_end": "2026-02-28",
        "value": 20,
        "note": "Compté par grégoire vautrin.",
    }
    response = await api.post(fac, f"/indicators/{indicator['id']}/measurements", json=measurement)
    expect(response, 201)
    report = await submit(
        api, world.landlord_partner, description="Plainte de Grégoire Vautrin, locataire."
    )
    rejected = await submit(api, world.landlord_partner)
    note = "Transmis à Grégoire Vautrin, gestionnaire."
    expect(await triage(api, api.admin, rejected, "reject", public_note=note), 200)
    person = {
        "email": "g.vautrin@example.org",
        "display_name": "Grégoire VAUTRIN",
        "role": "partner",
        "organisation_id": world.landlord["id"],
    }
    user = expect(await api.post(api.admin, "/users", json=person), 201)
    return {"problem": problem, "meeting": meeting, "report": report, "user": user}


# --- The subject search ---------------------------------------------------------------------


async def test_the_search_finds_a_name_in_every_kind_of_text_and_in_people(world: World) -> None:
    written = await write_everywhere(world)
    items = await matches(world.api, "Gregoire Vautrin")
    assert found(items) >= {
        ("problem", "title"),
        ("problem", "description"),
        ("problem", "outcome_note"),
        ("report", "description"),
        ("report", "public_note"),
        ("comment", "body"),
        ("meeting", "notes"),
        ("review", "note"),
        ("action", "description"),
        ("action", "result_note"),
        ("indicator", "source"),
        ("measurement", "note"),
        ("audit_event", "summary"),  # the comment's, the review's, the transition's
        ("audit_event", "changes.outcome_note"),  # the transition note's new value
        ("audit_event", "changes.result_note"),
        ("user", "display_name"),
    }
    # Nothing that does not mention the name.
    assert all("vautrin" in normalise(item["excerpt"]) for item in items)
    by_type = {(item["resource_type"], item["resource_id"]): item for item in items}
    problem = written["problem"]
    assert by_type[("problem", problem["id"])]["problem_reference"] == problem["reference"]
    comment = next(item for item in items if item["resource_type"] == "comment")
    assert (comment["problem_id"], comment["problem_reference"]) == (
        problem["id"],
        problem["reference"],
    )
    meeting = by_type[("meeting", written["meeting"]["id"])]
    assert (meeting["problem_id"], meeting["problem_reference"]) == (None, None)
    user = by_type[("user", written["user"]["id"])]
    assert user["excerpt"] == "Grégoire VAUTRIN"
    # The e-mail is a person's too; an identifier alone finds it.
    assert ("user", "email") in found(await matches(world.api, "G.VAUTRIN@example.org"))


async def test_case_accents_and_spaces_do_not_matter(world: World) -> None:
    await write_everywhere(world)
    reference = await matches(world.api, "grégoire vautrin")
    assert len(reference) >= 16
    for spelling in ("GREGOIRE VAUTRIN", "Grègoïre   Vàutrin", "  gregoire vautrin "):
        assert await matches(world.api, spelling) == reference
    # The excerpt is the text as written, cut around the match.
    titles = [item for item in reference if item["field"] == "title"]
    assert [item["excerpt"] for item in titles] == [
        "Hall du 4 rue de Toul, signalé par GRÉGOIRE VAUTRIN"
    ]


async def test_results_come_in_the_order_of_the_sources_then_of_ids(world: World) -> None:
    await write_everywhere(world)
    items = await matches(world.api, "vautrin")
    ranks = {source.resource_type: rank for rank, source in enumerate(SOURCES)}
    keys = [(ranks[item["resource_type"]], uuid.UUID(item["resource_id"])) for item in items]
    assert keys == sorted(keys)
    assert len({(i["resource_type"], i["resource_id"], i["field"]) for i in items}) == len(items)


async def test_pages_follow_one_another_without_gaps(world: World) -> None:
    problem = await world.api.problem(world.facilitator, world.gpo)
    for n in range(7):
        body = {"body": f"Appel n° {n} de Mme Zéphirine Quillard."}
        path = f"/problems/{problem['id']}/comments"
        expect(await world.api.post(world.facilitator, path, json=body), 201)
    whole = expect(await world.api.get(world.api.admin, SEARCH, params={"q": "quillard"}), 200)
    assert whole["next_cursor"] is None
    assert len(whole["items"]) == 14  # 7 comments, 7 audit summaries
    assert await matches(world.api, "quillard", limit=3) == whole["items"]

    first = expect(
        await world.api.get(world.api.admin, SEARCH, params={"q": "quillard", "limit": 5}), 200
    )
    assert first["items"] == whole["items"][:5]
    # A cursor is for its own query.
    params = {"q": "zephirine", "cursor": first["next_cursor"]}
    problem_of(await world.api.get(world.api.admin, SEARCH, params=params), 400)


async def test_csv_has_every_match(world: World) -> None:
    await write_everywhere(world)
    items = await matches(world.api, "vautrin")
    response = await world.api.get(
        world.api.admin, SEARCH, params={"q": "vautrin", "limit": 2}, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert [row["resource_id"] for row in rows] == [item["resource_id"] for item in items]
    assert [row["excerpt"] for row in rows] == [item["excerpt"] for item in items]
    assert [row["problem_reference"] for row in rows] == [
        item["problem_reference"] or "" for item in items
    ]


@pytest.mark.parametrize("q", ["ab", "a  ", " é "])
async def test_a_query_of_fewer_than_three_characters_is_422(api: Api, q: str) -> None:
    body = problem_of(await api.get(api.admin, SEARCH, params={"q": q}), 422)
    assert [error["loc"] for error in body["errors"]] == [["query", "q"]]


async def test_each_search_is_audited_without_the_query(api: Api, database: Any) -> None:
    known = expect(await api.get(api.admin, SEARCH, params={"q": "Bootstrap"}), 200)
    assert known["items"]  # the bootstrap admin's records
    expect(await api.get(api.admin, SEARCH, params={"q": "Personne Inconnue"}), 200)
    async with database.session(write=False) as session:
        events = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "governance.subject_search")
                .order_by(AuditEvent.at)
            )
        ).all()
    assert [event.changes for event in events] == [
        {"query_length": [None, 9], "matches": [None, len(known["items"])]},
        {"query_length": [None, 17], "matches": [None, 0]},
    ]
    assert all(event.actor_id is not None for event in events)
    for event in events:
        assert "bootstrap" not in event.summary.casefold()
        assert "inconnue" not in event.summary.casefold()


# --- Who may call ---------------------------------------------------------------------------

NOT_ADMINS = [
    "facilitator",
    "other_facilitator",
    "commander",
    "police_partner",
    "municipal_partner",
    "landlord_partner",
    "outsider_partner",
]


@pytest.mark.parametrize("path", [SEARCH, REGISTER])
@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_only_admins_use_the_dpo_tools(world: World, path: str, who: str) -> None:
    caller: Caller = getattr(world, who)
    params = {"q": "Metz"}
    problem_of(await world.api.get(caller, path, params=params), 403)
    problem_of(await world.api.get(None, path, params=params), 401)
    expect(await world.api.get(world.admin, path, params=params), 200)


@pytest.mark.parametrize("path", [SEARCH, REGISTER])
async def test_the_auditor_uses_the_dpo_tools(world: World, path: str) -> None:
    auditor = await world.api.user("auditor")
    expect(await world.api.get(auditor, path, params={"q": "Metz"}), 200)


async def test_a_search_names_the_records_found_in_the_access_log(world: World) -> None:
    api = world.api
    problem = await api.problem(
        world.facilitator, world.gpo, description="Signalé par Mme Wojciechowska, gardienne."
    )
    found = expect(
        await api.get(
            api.admin, SEARCH, params={"q": "wojciechowska"}, headers={"X-Access-Purpose": "audit"}
        ),
        200,
    )
    ids = list(dict.fromkeys(m["resource_id"] for m in found["items"]))
    assert problem["id"] in ids  # and the audit event of its creation
    log = expect(await api.get(api.admin, "/governance/access-log"), 200)["items"]
    searched = [e for e in log if e["resource_type"] == "subject_search"]
    assert [(e["resource_ids"], e["purpose"]) for e in searched] == [(ids, "audit")]
    assert "wojciechowska" not in str(log).casefold()  # the ids, never the query


async def test_the_report_counts_reads_by_purpose_and_screenings_by_kind(world: World) -> None:
    api = world.api
    report = "/governance/report"
    before = expect(await api.get(api.admin, report), 200)
    problem = await api.problem(
        world.facilitator,
        world.gpo,
        visibility="police",
        description="Appeler le 06 12 34 56 78, souffre d'une dépression.",
    )
    await api.get(
        world.commander, f"/problems/{problem['id']}", headers={"X-Access-Purpose": "meeting"}
    )
    after = expect(await api.get(api.admin, report), 200)
    assert after["reads"] == before["reads"] + 2  # the create's answer, then the read
    assert (
        after["reads_by_purpose"].get("meeting", 0)
        == before["reads_by_purpose"].get("meeting", 0) + 1
    )
    for kind in ("phone", "sensitive_health"):
        assert after["screenings"].get(kind, 0) == before["screenings"].get(kind, 0) + 1
    later = expect(await api.get(api.admin, report, params={"from": "2099-01-01"}), 200)
    assert (later["reads"], later["screenings"]) == (0, {})
    problem_of(await api.get(world.commander, report), 403)


async def test_a_refused_search_is_not_audited(world: World, database: Any) -> None:
    problem_of(await world.api.get(world.commander, SEARCH, params={"q": "Metz"}), 403)
    async with database.session(write=False) as session:
        logged = await session.scalar(
            select(AuditEvent.id).where(AuditEvent.action == "governance.subject_search")
        )
    assert logged is None


# --- The processing register ----------------------------------------------------------------


async def register(api: Api) -> dict[str, Any]:
    return dict(expect(await api.get(api.admin, REGISTER), 200))


async def register_markdown(api: Api) -> str:
    response = await api.get(api.admin, REGISTER, headers={"Accept": "text/markdown"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    return response.text


async def test_the_register_states_purposes_recipients_and_legal_bases(world: World) -> None:
    document = await register(world.api)
    codes = [purpose["code"] for purpose in document["purposes"]]
    assert codes[:5] == ["meeting", "follow_up", "investigation", "statistics", "audit"]
    recipients = {r["organisation_kind"]: r for r in document["recipients"]}
    assert recipients["national_police"]["clearance"] == "restricted"
    assert recipients["municipal_police"]["clearance"] == "police"
    assert recipients["landlord"]["clearance"] == "partners"
    assert world.landlord["name"] in recipients["landlord"]["organisations"]
    categories = {c["code"]: c for c in document["problem_categories"]}
    assert categories["drug_dealing"]["sensitive"] is True
    assert categories["hall_occupation"]["sensitive"] is False
    fields = {c["code"]: c["fields"] for c in document["data_categories"]}
    assert "problem_comments.body" in fields["free_text"]
    assert "audit_events.changes" in fields["free_text"]
    assert "users.email" in fields["people"]
    assert "problems.address" in fields["locations"]
    assert "problems.address" not in fields["free_text"]
    bases = " ".join(basis["text"] for basis in document["legal_bases"])
    for law in ("2016/680", "titre III", "6(1)(e)", "L132-5"):
        assert law in bases
    measures = " ".join(document["security_measures"])
    assert "Argon2id" in measures
    assert "HMAC-SHA256" in measures
    # Not configured in tests: the register says what to set.
    assert document["controller"]["configured"] is False
    assert "GPO_CONTROLLER_NAME" in document["controller"]["name"]


async def test_the_register_follows_the_settings(
    api: Api, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await register(api))["retention"]["years"] == 5
    monkeypatch.setenv("GPO_RETENTION_YEARS", "8")
    monkeypatch.setenv("GPO_CONTROLLER_NAME", "Préfecture de la Moselle")
    monkeypatch.setenv("GPO_DPO_CONTACT", "dpd@moselle.gouv.fr")
    from_env = Settings()
    changed = app.state.settings.model_copy(
        update={
            name: getattr(from_env, name)
            for name in ("retention_years", "gpo_controller_name", "gpo_dpo_contact")
        }
    )
    monkeypatch.setattr(app.state, "settings", changed)
    document = await register(api)
    assert document["retention"]["years"] == 8
    assert "plus de 8 ans" in document["retention"]["description"]
    assert document["controller"] == {
        "name": "Préfecture de la Moselle",
        "dpo_contact": "dpd@moselle.gouv.fr",
        "configured": True,
    }
    text = await register_markdown(api)
    assert "plus de 8 ans" in text
    assert "- Préfecture de la Moselle" in text
    assert "dpd@moselle.gouv.fr" in text


async def test_the_register_follows_the_reference_data(api: Api) -> None:
    before = await register_markdown(api)
    assert "Parquet de Thionville" not in before
    category = {
        "code": "fichage_test",
        "family": "other",
        "label_fr": "Atteintes aux personnes (test)",
        "label_en": "Offences against persons (test)",
        "sensitive": True,
        "default_visibility": "restricted",
    }
    expect(await api.post(api.admin, "/categories", json=category), 201)
    await api.organisation("prosecutor", name="Parquet de Thionville", commune_code=None)
    document = await register(api)
    categories = {c["code"]: c for c in document["problem_categories"]}
    assert categories["fichage_test"] == {
        "code": "fichage_test",
        "label": "Atteintes aux personnes (test)",
        "sensitive": True,
        "default_visibility": "restricted",
    }
    recipients = {r["organisation_kind"]: r for r in document["recipients"]}
    assert recipients["prosecutor"]["organisations"] == ["Parquet de Thionville"]
    assert recipients["prosecutor"]["clearance"] == "partners"
    text = await register_markdown(api)
    assert "`fichage_test` Atteintes aux personnes (test) : sensible" in text
    assert "Parquet de Thionville" in text
    assert text.startswith("# Registre des activités de traitement")


# --- Matching, as a property ----------------------------------------------------------------


@given(st.text(max_size=60))
def test_folding_with_origins_folds_as_the_search_does(text: str) -> None:
    folded, origins = folded_with_origins(text)
    assert folded == normalise(text)
    assert len(origins) == len(folded)
    assert origins == sorted(origins)


@given(st.text(max_size=30), st.text(min_size=3, max_size=10), st.text(max_size=30))
def test_an_excerpt_holds_what_it_matched(before: str, needle: str, after: str) -> None:
    text = before + needle + after
    if len(normalise(needle)) < 3:
        return
    window = excerpt(text, normalise(needle))
    assert window is not None
    assert normalise(needle) in normalise(window)


# Letters, accents as combining marks, spaces of every kind, ligatures, and anything else.
TRICKY = st.text(
    alphabet=st.sampled_from("aeE é\u0301\u0308\u2028\u00a0\t\u3000œﬁ¨ß") | st.characters(),
    max_size=40,
)


def ascii_needles(text: str) -> Iterator[str]:
    """Every ASCII piece of the text's normalised form: what a search for it must find."""
    folded = normalise(text)
    for start in range(len(folded)):
        for end in range(start + 1, len(folded) + 1):
            if (needle := folded[start:end].strip()) and needle.isascii():
                yield needle


@given(TRICKY)
def test_the_ascii_pre_test_never_rules_out_a_match(text: str) -> None:
    assert all(needle in ascii_folded(text) for needle in ascii_needles(text))


@pytest.mark.parametrize(
    "text", ["a\u2028b", "a \u0301 b", "Éric  Dupont", "cœur de ville", "ﬁxe", "x\u00a8y"]
)
def test_the_ascii_pre_test_on_tricky_texts(text: str) -> None:
    assert all(needle in ascii_folded(text) for needle in ascii_needles(text))
