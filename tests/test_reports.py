"""Reports (signalements) through HTTP, as landlords' systems, facilitators, commanders and
admins use them: submission, bad input, routing, possible duplicates, scoping, triage, and
what the reporter learns of the problem behind its report."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api import Api, Caller, World, every_page, expect, problem_of
from tests.intake import (
    METZ,
    MONTIGNY,
    WOIPPY,
    moved,
    names_field,
    read_report,
    report_body,
    report_ids,
    submit,
    triage,
)

REFERENCE = re.compile(r"^R-(\d{4})-(\d{6})$")


async def read_problem(api: Api, caller: Caller, problem_id: str) -> dict[str, Any]:
    return dict(expect(await api.get(caller, f"/problems/{problem_id}"), 200))


# --- Submission ------------------------------------------------------------------------


async def test_partner_submits_a_report(world: World) -> None:
    api = world.api
    body = report_body(
        location={"address": "4 rue de Toul", **moved(METZ, 30)},
        observed_at="2026-03-14T22:30:00+01:00",
        time_pattern="Tous les soirs, 22 h - 1 h",
        external_ref="MHT-2026-00412",
    )
    response = await api.post(world.landlord_partner, "/reports", json=body)
    created = expect(response, 201)

    match = REFERENCE.match(created["reference"])
    assert match, created["reference"]
    assert created["status"] == "received"
    assert created["submitted_by_organisation_id"] == world.landlord["id"]
    assert created["external_ref"] == "MHT-2026-00412"
    assert created["gpo_id"] == world.gpo["id"]
    assert created["possible_duplicates"] == []
    assert created["problem_id"] is None

    stored = await read_report(api, world.landlord_partner, created)
    assert stored["reference"] == created["reference"]
    assert stored["category"] == "hall_occupation"
    assert stored["commune_code"] == "57463"
    assert stored["description"] == body["description"]
    assert stored["external_ref"] == "MHT-2026-00412"
    assert stored["location"]["address"] == "4 rue de Toul"
    assert stored["location"]["lat"] == pytest.approx(body["location"]["lat"])
    assert stored["location"]["lon"] == pytest.approx(body["location"]["lon"])
    assert stored["status"] == "received"
    assert stored["problem_status"] is None
    assert stored["problem_outcome"] is None
    assert stored["public_note"] is None
    assert datetime.fromisoformat(stored["created_at"]).tzinfo is not None


async def test_a_report_answers_as_it_is_stored_and_its_creation_is_sealed_in_the_chain(
    world: World,
) -> None:
    """Intake writes without the ORM's unit of work: what it answers is what a read of the
    report gives, ETag included, and its creation is one more event in the audit chain."""
    api = world.api
    before = expect(await api.get(api.admin, "/governance/verify"), 200)
    body = report_body(
        location={"address": "4 rue de Toul", "lat": 49.1071, "lon": 6.1766},
        observed_at="2026-03-14T22:30:00+01:00",
        external_ref="MHT-2026-00413",
    )
    response = await api.post(
        world.landlord_partner, "/reports", json=body, headers={"Idempotency-Key": "stored-1"}
    )
    created = expect(response, 201)
    read = await api.get(world.landlord_partner, f"/reports/{created['id']}")
    stored = expect(read, 200)
    assert {name: created[name] for name in stored} == stored
    assert response.headers["etag"] == read.headers["etag"]
    assert response.headers["location"] == f"/api/v1/reports/{created['id']}"

    after = expect(await api.get(api.admin, "/governance/verify"), 200)
    assert after == {"ok": True, "entries": before["entries"] + 1, "first_broken_at": None}
    replayed = await api.post(
        world.landlord_partner, "/reports", json=body, headers={"Idempotency-Key": "stored-1"}
    )
    assert replayed.headers["idempotent-replayed"] == "true"
    assert expect(replayed, 201) == created
    assert expect(await api.get(api.admin, "/governance/verify"), 200) == after


async def test_reference_year_is_the_submission_year_and_references_are_unique(
    world: World,
) -> None:
    references = [(await submit(world.api, world.landlord_partner))["reference"] for _ in range(3)]
    assert len(set(references)) == 3
    years = {REFERENCE.match(r).group(1) for r in references}  # type: ignore[union-attr]
    # The Paris year and the UTC year differ only around midnight on 31 December.
    assert years <= {str(datetime.now(UTC).year), str(datetime.now(UTC).year + 1)}


async def test_external_ref_is_kept_and_filterable(world: World) -> None:
    api = world.api
    first = await submit(api, world.landlord_partner, external_ref="MHT-1")
    await submit(api, world.landlord_partner, external_ref="MHT-2")
    found = await every_page(api, world.landlord_partner, "/reports", [("external_ref", "MHT-1")])
    assert [item["id"] for item in found] == [first["id"]]


@pytest.mark.parametrize("role", ["admin", "commander", "facilitator"])
async def test_only_partners_submit_reports(world: World, role: str) -> None:
    caller = {
        "admin": world.admin,
        "commander": world.commander,
        "facilitator": world.facilitator,
    }[role]
    problem_of(await world.api.post(caller, "/reports", json=report_body()), 403)
    assert await report_ids(world.api, world.admin) == set()


async def test_submitting_needs_a_token(world: World) -> None:
    response = await world.api.post(None, "/reports", json=report_body())
    problem_of(response, 401)
    assert await report_ids(world.api, world.admin) == set()


# --- Bad input -------------------------------------------------------------------------

BAD_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown category": (report_body(category="no_such_category"), "category"),
    "malformed category": (report_body(category="Not A Code!"), "category"),
    "unknown commune": (report_body(commune_code="99999"), "commune_code"),
    "commune outside the contract": (report_body(commune_code="75056"), "commune_code"),
    "malformed commune": (report_body(commune_code="Metz"), "commune_code"),
    "latitude outside France": (report_body(location={"lat": 40.4, "lon": 6.17}), "lat"),
    "longitude outside France": (report_body(location={"lat": 49.11, "lon": 13.4}), "lon"),
    "madrid": (report_body(location={"lat": 40.4168, "lon": -3.7038}), "lat"),
    "lat without lon": (report_body(location={"lat": 49.12}), "location"),
    "lon without lat": (report_body(location={"lon": 6.17}), "location"),
    "empty description": (report_body(description=""), "description"),
    "blank description": (report_body(description="   \n\t "), "description"),
    "missing description": (
        {"category": "hall_occupation", "commune_code": "57463"},
        "description",
    ),
    "missing category": ({"commune_code": "57463", "description": "Regroupements"}, "category"),
    "unknown field": (report_body(urgency="high"), "urgency"),
    "server-owned status": (report_body(status="accepted"), "status"),
    "server-owned gpo": (report_body(gpo_id="00000000-0000-0000-0000-000000000000"), "gpo_id"),
    "unknown location field": (report_body(location={"floor": 3}), "floor"),
    "description too long": (report_body(description="x" * 10_001), "description"),
    "naive observed_at": (report_body(observed_at="2026-03-14T22:30:00"), "observed_at"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_bad_input_is_422_naming_the_field_and_nothing_is_stored(
    world: World, case: str
) -> None:
    body, field = BAD_BODIES[case]
    error = problem_of(await world.api.post(world.landlord_partner, "/reports", json=body), 422)
    assert names_field(error, field), error["errors"]
    assert await report_ids(world.api, world.admin) == set()


async def test_non_reportable_category_is_refused(world: World) -> None:
    api = world.api
    changed = expect(
        await api.patch(api.admin, "/categories/night_noise", json={"reportable": False}), 200
    )
    assert changed["reportable"] is False
    error = problem_of(
        await api.post(
            world.landlord_partner, "/reports", json=report_body(category="night_noise")
        ),
        422,
    )
    assert names_field(error, "category")
    assert await report_ids(api, api.admin) == set()

    # Made reportable again, it is accepted.
    expect(await api.patch(api.admin, "/categories/night_noise", json={"reportable": True}), 200)
    await submit(api, world.landlord_partner, category="night_noise")


# --- Routing ---------------------------------------------------------------------------


async def test_transport_family_goes_to_the_transport_gpo(world: World) -> None:
    api = world.api
    transport = await api.gpo(
        world.other_facilitator, kind="transport", communes=["57463", "57751"]
    )
    report = await submit(api, world.landlord_partner, category="transport_incivility")
    assert report["gpo_id"] == transport["id"]
    # A non-transport report in the same commune still goes to the general GPO.
    general = await submit(api, world.landlord_partner, category="hall_occupation")
    assert general["gpo_id"] == world.gpo["id"]


async def test_a_later_transport_gpo_cannot_capture_transport_reports(world: World) -> None:
    api = world.api
    contract = await api.gpo(world.other_facilitator, kind="transport", communes=["57463"])
    # Another facilitator creates a transport GPO covering a commune the first does not.
    later = await api.gpo(world.facilitator, kind="transport", communes=["57751", "57463"])
    for commune in ("57751", "57463"):
        report = await submit(
            api, world.landlord_partner, category="transport_incivility", commune_code=commune
        )
        assert report["gpo_id"] == contract["id"], commune
    # Nor can that facilitator designate its own GPO; an admin can.
    path = f"/gpos/{later['id']}"
    problem_of(await api.patch(world.facilitator, path, json={"transport_reports": True}), 403)
    designated = expect(await api.patch(api.admin, path, json={"transport_reports": True}), 200)
    assert designated["transport_reports"] is True
    report = await submit(api, world.landlord_partner, category="transport_incivility")
    assert report["gpo_id"] == later["id"]
    # The designation moves: one GPO at most holds it, and the change is versioned.
    before = expect(await api.get(api.admin, f"/gpos/{contract['id']}"), 200)
    moved = expect(
        await api.patch(api.admin, f"/gpos/{contract['id']}", json={"transport_reports": True}),
        200,
    )
    assert moved["transport_reports"] is True
    assert moved["version"] == before["version"] + 1
    assert expect(await api.get(api.admin, path), 200)["transport_reports"] is False
    # A general GPO cannot be designated.
    body = problem_of(
        await api.patch(api.admin, f"/gpos/{world.gpo['id']}", json={"transport_reports": True}),
        422,
    )
    assert ["body", "transport_reports"] in [e["loc"] for e in body["errors"]]


async def test_other_families_go_to_the_oldest_covering_general_gpo(world: World) -> None:
    api = world.api
    # A transport GPO older than any general GPO of Montigny never takes a general report.
    await api.gpo(world.other_facilitator, kind="transport", communes=["57480"])
    older = await api.gpo(world.other_facilitator, communes=["57480", "57751"])
    newer = await api.gpo(world.facilitator, communes=["57751", "57480", "57463"])

    assert (await submit(api, world.landlord_partner, commune_code="57480"))["gpo_id"] == older[
        "id"
    ]
    assert (await submit(api, world.landlord_partner, commune_code="57751"))["gpo_id"] == older[
        "id"
    ]
    # Metz: the world's GPO is older than `newer`.
    metz = await submit(api, world.landlord_partner, commune_code="57463", category="damage")
    assert metz["gpo_id"] == world.gpo["id"]
    drugs = await submit(api, world.landlord_partner, commune_code="57463", category="drug_dealing")
    assert drugs["gpo_id"] == world.gpo["id"]
    assert newer["id"] not in {metz["gpo_id"], drugs["gpo_id"]}


async def test_uncovered_report_is_stored_without_gpo_and_routed_by_an_admin(
    world: World,
) -> None:
    api = world.api
    report = await submit(api, world.landlord_partner, commune_code="57545")  # Plappeville
    assert report["gpo_id"] is None

    assert report["id"] in await report_ids(api, api.admin)
    assert report["id"] in await report_ids(api, world.commander)
    assert report["id"] in await report_ids(api, world.landlord_partner)
    assert report["id"] not in await report_ids(api, world.facilitator)
    problem_of(await api.get(world.facilitator, f"/reports/{report['id']}"), 404)
    unrouted = await every_page(api, api.admin, "/reports", [("unrouted", "true")])
    assert [item["id"] for item in unrouted] == [report["id"]]

    # Not routed: nobody can triage it yet.
    assert (await triage(api, api.admin, report, "reject", public_note="Non")).status_code == 409

    # Only an admin routes it.
    problem_of(
        await api.patch(
            world.commander, f"/reports/{report['id']}", json={"gpo_id": world.gpo["id"]}
        ),
        403,
    )
    problem_of(
        await api.patch(
            world.landlord_partner, f"/reports/{report['id']}", json={"gpo_id": world.gpo["id"]}
        ),
        403,
    )
    assert (await read_report(api, api.admin, report))["gpo_id"] is None

    routed = expect(
        await api.patch(api.admin, f"/reports/{report['id']}", json={"gpo_id": world.gpo["id"]}),
        200,
    )
    assert routed["gpo_id"] == world.gpo["id"]
    assert routed["status"] == "received"
    assert (await read_report(api, world.facilitator, report))["gpo_id"] == world.gpo["id"]
    assert report["id"] in await report_ids(api, world.facilitator)

    # The facilitator of the routed GPO sees it now, but may not re-route it.
    other = await api.gpo(world.facilitator, communes=["57545"])
    problem_of(
        await api.patch(
            world.facilitator, f"/reports/{report['id']}", json={"gpo_id": other["id"]}
        ),
        403,
    )
    assert (await read_report(api, api.admin, report))["gpo_id"] == world.gpo["id"]


async def test_routing_to_an_unknown_gpo_is_422(world: World) -> None:
    api = world.api
    report = await submit(api, world.landlord_partner, commune_code="57545")
    error = problem_of(
        await api.patch(
            api.admin,
            f"/reports/{report['id']}",
            json={"gpo_id": "00000000-0000-4000-8000-000000000000"},
        ),
        422,
    )
    assert names_field(error, "gpo_id")
    assert (await read_report(api, api.admin, report))["gpo_id"] is None


async def test_rerouting_after_triage_is_409(world: World) -> None:
    api = world.api
    report = await submit(api, world.landlord_partner)
    expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    other = await api.gpo(world.other_facilitator, communes=["57463"])
    problem_of(
        await api.patch(api.admin, f"/reports/{report['id']}", json={"gpo_id": other["id"]}),
        409,
    )
    assert (await read_report(api, api.admin, report))["gpo_id"] == world.gpo["id"]


# --- Possible duplicates -----------------------------------------------------------------


async def test_possible_duplicates(world: World) -> None:
    api, fac = world.api, world.facilitator
    point = moved(METZ, 0, 0)

    async def problem(**overrides: Any) -> dict[str, Any]:
        return await api.problem(fac, world.gpo, **overrides)

    near = await problem(location=moved(METZ, 100))
    nearer = await problem(location=moved(METZ, 0, -40))
    far = await problem(location=moved(METZ, 1000))
    unlocated = await problem()
    closed = await problem(location=moved(METZ, 20))
    expect(await api.move(fac, closed, "closed", outcome="not_in_scope"), 200)
    other_category = await problem(category="rodeo", location=moved(METZ, 10))
    other_commune = await problem(commune_code="57480", location=moved(METZ, 10))
    opened = await problem(location=moved(METZ, 200))
    expect(await api.move(fac, opened, "open"), 200)

    created = await submit(api, world.landlord_partner, location=point)
    duplicates = created["possible_duplicates"]
    by_id = {d["id"]: d for d in duplicates}

    assert set(by_id) == {near["id"], nearer["id"], unlocated["id"], opened["id"]}
    assert far["id"] not in by_id
    assert closed["id"] not in by_id
    assert other_category["id"] not in by_id
    assert other_commune["id"] not in by_id

    assert by_id[near["id"]]["distance_m"] == pytest.approx(100, abs=5)
    assert by_id[nearer["id"]]["distance_m"] == pytest.approx(40, abs=3)
    assert by_id[opened["id"]]["distance_m"] == pytest.approx(200, abs=8)
    assert by_id[unlocated["id"]]["distance_m"] is None
    assert by_id[near["id"]]["reference"] == near["reference"]
    assert by_id[near["id"]]["title"] == near["title"]
    assert by_id[near["id"]]["status"] == "new"
    assert by_id[opened["id"]]["status"] == "open"
    assert set(by_id[near["id"]]) >= {"id", "reference", "title", "status", "distance_m"}

    located = [d["distance_m"] for d in duplicates if d["distance_m"] is not None]
    assert located == sorted(located), "nearest first"
    assert [d["id"] for d in duplicates if d["distance_m"] is not None] == [
        nearer["id"],
        near["id"],
        opened["id"],
    ]


async def test_unlocated_report_lists_every_open_problem_of_the_category_in_the_commune(
    world: World,
) -> None:
    api, fac = world.api, world.facilitator
    located = await api.problem(fac, world.gpo, location=moved(METZ, 3000))
    unlocated = await api.problem(fac, world.gpo)
    await api.problem(fac, world.gpo, category="damage")
    created = await submit(api, world.landlord_partner)
    by_id = {d["id"]: d for d in created["possible_duplicates"]}
    assert set(by_id) == {located["id"], unlocated["id"]}
    assert all(d["distance_m"] is None for d in by_id.values())


async def test_possible_duplicates_show_only_what_the_reporter_may_see(world: World) -> None:
    api, fac = world.api, world.facilitator
    visible = await api.problem(fac, world.gpo, location=moved(METZ, 50))
    restricted = await api.problem(
        fac, world.gpo, location=moved(METZ, 60), visibility="restricted"
    )
    police_only = await api.problem(fac, world.gpo, location=moved(METZ, 70), visibility="police")
    # A problem of a GPO the landlord is not a member of.
    elsewhere_gpo = await api.gpo(world.other_facilitator, communes=["57463"])
    elsewhere = await api.problem(world.other_facilitator, elsewhere_gpo, location=moved(METZ, 80))

    landlord = await submit(api, world.landlord_partner, location=moved(METZ))
    assert [d["id"] for d in landlord["possible_duplicates"]] == [visible["id"]]

    police = await submit(api, world.police_partner, location=moved(METZ))
    assert [d["id"] for d in police["possible_duplicates"]] == [
        visible["id"],
        restricted["id"],
        police_only["id"],
    ]

    municipal = await submit(api, world.municipal_partner, location=moved(METZ))
    assert [d["id"] for d in municipal["possible_duplicates"]] == [
        visible["id"],
        police_only["id"],
    ]
    assert elsewhere["id"] not in {
        d["id"]
        for d in landlord["possible_duplicates"]
        + police["possible_duplicates"]
        + municipal["possible_duplicates"]
    }


# --- Scoping ---------------------------------------------------------------------------


async def test_reports_are_scoped_to_the_caller(world: World) -> None:
    api = world.api
    woippy_gpo = await api.gpo(world.other_facilitator, communes=["57751"])
    mine = await submit(api, world.landlord_partner)
    theirs = await submit(api, world.outsider_partner, commune_code="57751", location=moved(WOIPPY))
    assert theirs["gpo_id"] == woippy_gpo["id"]
    colleague = await api.user("partner", world.landlord, "Collègue du bailleur")

    assert await report_ids(api, world.landlord_partner) == {mine["id"]}
    assert await report_ids(api, colleague) == {mine["id"]}
    expect(await api.get(colleague, f"/reports/{mine['id']}"), 200)
    problem_of(await api.get(world.landlord_partner, f"/reports/{theirs['id']}"), 404)
    assert await report_ids(api, world.outsider_partner) == {theirs["id"]}
    problem_of(await api.get(world.outsider_partner, f"/reports/{mine['id']}"), 404)
    # A partner of another organisation of the same GPO does not see the landlord's reports.
    assert await report_ids(api, world.police_partner) == set()
    problem_of(await api.get(world.police_partner, f"/reports/{mine['id']}"), 404)

    assert await report_ids(api, world.facilitator) == {mine["id"]}
    problem_of(await api.get(world.facilitator, f"/reports/{theirs['id']}"), 404)
    assert await report_ids(api, world.other_facilitator) == {theirs["id"]}
    problem_of(await api.get(world.other_facilitator, f"/reports/{mine['id']}"), 404)

    assert await report_ids(api, world.commander) == {mine["id"], theirs["id"]}
    assert await report_ids(api, api.admin) == {mine["id"], theirs["id"]}
    expect(await api.get(world.commander, f"/reports/{theirs['id']}"), 200)


async def test_unknown_report_is_404(world: World) -> None:
    problem_of(
        await world.api.get(world.admin, "/reports/00000000-0000-4000-8000-000000000000"), 404
    )


# --- Triage ----------------------------------------------------------------------------


async def test_create_problem_from_a_report(world: World) -> None:
    api = world.api
    location = {"address": "4 rue de Toul", "sector": "Borny", **moved(METZ, 10)}
    report = await submit(
        api,
        world.landlord_partner,
        location=location,
        time_pattern="Tous les soirs",
        description="Regroupements bruyants dans le hall B, portes forcées.",
    )
    triaged = expect(
        await triage(api, world.facilitator, report, "create_problem", priority="high"), 200
    )
    assert triaged["status"] == "accepted"
    assert triaged["problem_id"]
    assert triaged["problem_status"] == "new"

    problem = await read_problem(api, world.facilitator, triaged["problem_id"])
    assert problem["status"] == "new"
    assert problem["gpo_id"] == world.gpo["id"]
    assert problem["category"] == "hall_occupation"
    assert problem["commune_code"] == "57463"
    assert problem["description"] == "Regroupements bruyants dans le hall B, portes forcées."
    assert problem["location"]["address"] == "4 rue de Toul"
    assert problem["location"]["lat"] == pytest.approx(location["lat"])
    assert problem["location"]["lon"] == pytest.approx(location["lon"])
    assert problem["visibility"] == "partners"
    assert problem["priority"] == "high"
    assert problem["report_count"] == 1
    assert problem["title"]

    stored = await read_report(api, world.landlord_partner, report)
    assert stored["status"] == "accepted"
    assert stored["problem_id"] == triaged["problem_id"]
    assert stored["problem_status"] == "new"
    # The landlord, a member of the GPO, sees the problem it caused.
    await read_problem(api, world.landlord_partner, triaged["problem_id"])

    listed = await every_page(
        api, world.facilitator, "/reports", [("problem_id", triaged["problem_id"])]
    )
    assert [item["id"] for item in listed] == [report["id"]]


async def test_created_problem_takes_the_category_default_visibility(world: World) -> None:
    api = world.api
    report = await submit(api, world.landlord_partner, category="drug_dealing")
    triaged = expect(
        await triage(api, world.facilitator, report, "create_problem", title="Point de deal"), 200
    )
    problem = await read_problem(api, world.facilitator, triaged["problem_id"])
    assert problem["visibility"] == "restricted"
    assert problem["category"] == "drug_dealing"
    assert problem["title"] == "Point de deal"
    problem_of(await api.get(world.landlord_partner, f"/problems/{problem['id']}"), 404)
    await read_problem(api, world.police_partner, problem["id"])


async def test_attach_a_report_to_a_problem(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    assert (await read_problem(api, fac, problem["id"]))["report_count"] == 0
    first = await submit(api, world.landlord_partner)
    second = await submit(api, world.municipal_partner)

    error = problem_of(await triage(api, fac, first, "attach"), 422)
    assert names_field(error, "problem_id")
    assert (await read_report(api, fac, first))["status"] == "received"

    attached = expect(await triage(api, fac, first, "attach", problem_id=problem["id"]), 200)
    assert attached["status"] == "accepted"
    assert attached["problem_id"] == problem["id"]
    assert (await read_problem(api, fac, problem["id"]))["report_count"] == 1
    expect(await triage(api, fac, second, "attach", problem_id=problem["id"]), 200)
    assert (await read_problem(api, fac, problem["id"]))["report_count"] == 2

    timeline = await every_page(api, fac, f"/problems/{problem['id']}/timeline")
    attach_events = [event for event in timeline if event["kind"] == "report.attach"]
    assert len(attach_events) == 2
    assert any(first["reference"] in event["summary"] for event in attach_events)
    assert any(second["reference"] in event["summary"] for event in attach_events)


async def test_attach_to_a_problem_of_another_gpo_changes_nothing(world: World) -> None:
    api = world.api
    other_gpo = await api.gpo(world.other_facilitator, communes=["57463"])
    foreign = await api.problem(world.other_facilitator, other_gpo)
    # The facilitator of the report's GPO also runs the other GPO: the problem is visible to
    # it, and still refused because it belongs to another GPO.
    shared = await api.gpo(world.other_facilitator, communes=["57480"])
    expect(
        await api.patch(
            world.other_facilitator,
            f"/gpos/{shared['id']}",
            json={"facilitator_user_ids": [world.other_facilitator.id, world.facilitator.id]},
        ),
        200,
    )
    visible_foreign = await api.problem(world.facilitator, shared, commune_code="57480")
    report = await submit(api, world.landlord_partner)

    for target in (foreign, visible_foreign):
        response = await triage(api, world.facilitator, report, "attach", problem_id=target["id"])
        assert response.status_code in {403, 404, 422}, response.text
        assert (await read_problem(api, api.admin, target["id"]))["report_count"] == 0
    unknown = await triage(
        api, world.facilitator, report, "attach", problem_id="00000000-0000-4000-8000-000000000000"
    )
    assert unknown.status_code in {404, 422}, unknown.text
    stored = await read_report(api, api.admin, report)
    assert stored["status"] == "received"
    assert stored["problem_id"] is None
    # Still triageable.
    expect(await triage(api, world.facilitator, report, "create_problem"), 200)


async def test_reject_needs_a_public_note_shown_to_the_reporter(world: World) -> None:
    api = world.api
    report = await submit(api, world.landlord_partner)
    for body in ({}, {"public_note": ""}, {"public_note": "   "}):
        error = problem_of(await triage(api, world.facilitator, report, "reject", **body), 422)
        assert names_field(error, "public_note"), body
    assert (await read_report(api, api.admin, report))["status"] == "received"

    note = "Relève de la gestion locative : transmis au gardien."
    rejected = expect(await triage(api, world.facilitator, report, "reject", public_note=note), 200)
    assert rejected["status"] == "rejected"
    assert rejected["problem_id"] is None
    seen = await read_report(api, world.landlord_partner, report)
    assert seen["status"] == "rejected"
    assert seen["public_note"] == note
    assert seen["problem_status"] is None


async def test_triage_bad_decision_is_422(world: World) -> None:
    report = await submit(world.api, world.landlord_partner)
    error = problem_of(await triage(world.api, world.facilitator, report, "ignore"), 422)
    assert names_field(error, "decision")
    error = problem_of(
        await triage(world.api, world.facilitator, report, "create_problem", colour="red"), 422
    )
    assert names_field(error, "colour")
    assert (await read_report(world.api, world.admin, report))["status"] == "received"


@pytest.mark.parametrize(
    ("first", "first_body"),
    [
        ("create_problem", {}),
        ("reject", {"public_note": "Hors champ."}),
        ("attach", None),
    ],
)
async def test_a_report_is_triaged_once(
    world: World, first: str, first_body: dict[str, Any] | None
) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo)
    report = await submit(api, world.landlord_partner)
    body = first_body if first_body is not None else {"problem_id": problem["id"]}
    done = expect(await triage(api, fac, report, first, **body), 200)
    count = (await read_problem(api, fac, problem["id"]))["report_count"]

    for decision, again in (
        ("create_problem", {}),
        ("reject", {"public_note": "Non"}),
        ("attach", {"problem_id": problem["id"]}),
    ):
        problem_of(await triage(api, fac, report, decision, **again), 409)
    after = await read_report(api, api.admin, report)
    assert (after["status"], after["problem_id"], after["public_note"]) == (
        done["status"],
        done["problem_id"],
        done["public_note"],
    )
    assert (await read_problem(api, fac, problem["id"]))["report_count"] == count


async def test_who_may_triage(world: World) -> None:
    api = world.api
    report = await submit(api, world.landlord_partner)
    # A facilitator of another GPO may not see it.
    await api.gpo(world.other_facilitator, communes=["57463"])
    problem_of(await triage(api, world.other_facilitator, report, "create_problem"), 404)
    # The reporter sees its own report but does not triage it; another member may not see it.
    problem_of(await triage(api, world.landlord_partner, report, "create_problem"), 403)
    response = await triage(api, world.police_partner, report, "create_problem")
    assert response.status_code in {403, 404}, response.text
    # A commander reads everything but runs no GPO.
    problem_of(await triage(api, world.commander, report, "create_problem"), 403)

    stored = await read_report(api, api.admin, report)
    assert stored["status"] == "received"
    assert stored["problem_id"] is None
    assert [
        p
        for p in await every_page(api, api.admin, "/problems")
        if p["category"] == "hall_occupation"
    ] == []
    expect(await triage(api, world.facilitator, report, "create_problem"), 200)


# --- What the reporter learns ----------------------------------------------------------


async def test_reporter_follows_a_restricted_problem_closed_from_new(world: World) -> None:
    api, fac = world.api, world.facilitator
    report = await submit(api, world.landlord_partner, category="drug_dealing")
    triaged = expect(await triage(api, fac, report, "create_problem"), 200)
    problem_id = triaged["problem_id"]
    problem_of(await api.get(world.landlord_partner, f"/problems/{problem_id}"), 404)

    seen = await read_report(api, world.landlord_partner, report)
    assert (seen["problem_status"], seen["problem_outcome"]) == ("new", None)
    assert seen["problem_id"] == problem_id

    closing = await api.post(
        fac,
        f"/problems/{problem_id}/transitions",
        json={"to": "closed", "outcome": "not_in_scope", "note": "Transmis à la CROSS."},
    )
    expect(closing, 200)
    seen = await read_report(api, world.landlord_partner, report)
    assert (seen["problem_status"], seen["problem_outcome"]) == ("closed", "not_in_scope")
    listed = {
        item["id"]: item for item in await every_page(api, world.landlord_partner, "/reports")
    }
    assert listed[report["id"]]["problem_status"] == "closed"
    assert listed[report["id"]]["problem_outcome"] == "not_in_scope"
    problem_of(await api.get(world.landlord_partner, f"/problems/{problem_id}"), 404)


async def test_reporter_follows_a_problem_opened_then_closed(world: World) -> None:
    api, fac = world.api, world.facilitator
    problem = await api.problem(fac, world.gpo, visibility="restricted")
    report = await submit(api, world.landlord_partner)
    expect(await triage(api, fac, report, "attach", problem_id=problem["id"]), 200)
    problem_of(await api.get(world.landlord_partner, f"/problems/{problem['id']}"), 404)

    expect(await api.move(fac, problem, "open"), 200)
    seen = await read_report(api, world.landlord_partner, report)
    assert (seen["problem_status"], seen["problem_outcome"]) == ("open", None)

    expect(await api.move(fac, problem, "closed", outcome="better_handled", note="Gardien"), 200)
    seen = await read_report(api, world.landlord_partner, report)
    assert (seen["problem_status"], seen["problem_outcome"]) == ("closed", "better_handled")

    expect(await api.move(fac, problem, "open", note="Ça recommence."), 200)
    seen = await read_report(api, world.landlord_partner, report)
    assert (seen["problem_status"], seen["problem_outcome"]) == ("open", None)


async def test_report_in_montigny_with_coordinates_keeps_its_commune(world: World) -> None:
    """The submitted commune is kept; coordinates do not move a report to another commune."""
    api = world.api
    report = await submit(
        api, world.landlord_partner, commune_code="57463", location=moved(MONTIGNY)
    )
    assert (await read_report(api, world.landlord_partner, report))["commune_code"] == "57463"


async def test_a_landlord_never_reads_the_sensitive_problem_made_from_its_report(
    world: World,
) -> None:
    """Even when an admin has lowered the sensitive category's default visibility."""
    api = world.api
    expect(
        await api.patch(
            world.admin, "/categories/drug_dealing", json={"default_visibility": "partners"}
        ),
        200,
    )
    report = await submit(api, world.landlord_partner, category="drug_dealing")
    triaged = expect(await triage(api, world.facilitator, report, "create_problem"), 200)
    problem = await read_problem(api, world.facilitator, triaged["problem_id"])
    assert problem["visibility"] == "restricted"
    path = f"/problems/{problem['id']}"
    for reader in (world.landlord_partner, world.municipal_partner):
        problem_of(await api.get(reader, path), 404)
        problem_of(await api.get(reader, f"{path}/timeline"), 404)
        listed = await every_page(api, reader, "/problems")
        assert problem["id"] not in {item["id"] for item in listed}
    # The reporter still follows its report.
    followed = expect(await api.get(world.landlord_partner, f"/reports/{report['id']}"), 200)
    assert followed["problem_status"] == "new"
