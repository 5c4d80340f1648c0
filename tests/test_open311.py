"""The Open311 GeoReport v2 facade, as civic-reporting tools use it: discovery, services,
form-encoded service requests with a partner's api_key, reading one's own requests, and the
specification's error shape. The third-party client `georeport` runs against a live server."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import requests
from georeport import GeoReport  # type: ignore[import-untyped]

from app.main import create_app
from tests.api import Api, Caller, World, expect, live_server
from tests.conftest import BOOTSTRAP_TOKEN
from tests.databases import Worker
from tests.intake import (
    METZ,
    WOIPPY,
    every_page,
    moved,
    read_report,
    report_ids,
    submit,
    triage,
)

BASE = "/open311/v2"
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_code",
    "agency_responsible",
    "requested_datetime",
    "updated_datetime",
    "address",
    "lat",
    "long",
}


# --- helpers ---------------------------------------------------------------------------


async def o311(api: Api, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return await api.client.request(method, BASE + path, **kwargs)


def open311_error(response: httpx.Response, status: int) -> str:
    """The GeoReport v2 error body: `[{"code", "description"}]`; returns the description."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} -> {response.status_code}, "
        f"expected {status}: {response.text}"
    )
    body = response.json()
    assert isinstance(body, list), body
    assert len(body) >= 1
    assert body[0]["code"] == status
    assert isinstance(body[0]["description"], str)
    assert body[0]["description"]
    return str(body[0]["description"])


async def create_request(api: Api, caller: Caller | None, **form: Any) -> httpx.Response:
    data = {"api_key": caller.token} if caller is not None else {}
    data.update({name: str(value) for name, value in form.items() if value is not None})
    return await o311(api, "POST", "/requests.json", data=data)


async def created_request(api: Api, caller: Caller, **form: Any) -> str:
    response = await create_request(api, caller, **form)
    assert response.status_code in {200, 201}, response.text
    body = response.json()
    assert isinstance(body, list)
    assert len(body) == 1
    assert set(body[0]) >= {"service_request_id", "service_notice"}
    return str(body[0]["service_request_id"])


async def read_requests(api: Api, caller: Caller, **params: str) -> list[dict[str, Any]]:
    response = await o311(api, "GET", "/requests.json", params={"api_key": caller.token, **params})
    body = expect(response, 200)
    assert isinstance(body, list)
    return list(body)


async def read_request(api: Api, caller: Caller, request_id: str) -> dict[str, Any]:
    response = await o311(
        api, "GET", f"/requests/{request_id}.json", params={"api_key": caller.token}
    )
    body = expect(response, 200)
    assert isinstance(body, list)
    assert len(body) == 1, body
    return dict(body[0])


def instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed


async def reportable_codes(api: Api) -> set[str]:
    categories = await every_page(api, api.admin, "/categories")
    return {c["code"] for c in categories if c["reportable"]}


# --- Discovery and services --------------------------------------------------------------


async def test_public_urls_never_come_from_the_host_header(world: World) -> None:
    api = world.api
    forged = {"Host": "phishing.example", "X-Forwarded-Host": "phishing.example"}
    body = expect(await o311(api, "GET", "/discovery.json", headers=forged), 200)
    assert body["endpoints"][0]["url"] == "http://gpo.test/open311/v2"  # GPO_PUBLIC_URL
    created = expect(
        await api.post(api.admin, f"/users/{world.commander.id}/invitations", headers=forged),
        201,
    )
    assert created["invitation_url"].startswith("http://gpo.test/console/invitation/")
    assert "phishing" not in str(body) + created["invitation_url"]


async def test_discovery(api: Api) -> None:
    body = expect(await o311(api, "GET", "/discovery.json"), 200)
    endpoints = body["endpoints"]
    assert endpoints
    endpoint = endpoints[0]
    assert endpoint["url"].rstrip("/").endswith("/open311/v2")
    assert endpoint["url"].startswith("http")
    assert "application/json" in endpoint["formats"]
    assert "GeoReport" in endpoint["specification"]
    assert endpoint["type"] in {"production", "test"}
    instant(endpoint["changeset"])
    assert {"changeset", "contact", "key_service"} <= body.keys()
    deviations = " ".join(body["deviations"])
    assert "api_key" in deviations
    assert "requests" in deviations
    assert "organisation" in deviations


async def test_services_are_the_reportable_categories(api: Api) -> None:
    services = expect(await o311(api, "GET", "/services.json"), 200)
    assert isinstance(services, list)
    codes = [s["service_code"] for s in services]
    assert len(codes) == len(set(codes))
    assert set(codes) == await reportable_codes(api)
    categories = {c["code"]: c for c in await every_page(api, api.admin, "/categories")}
    for item in services:
        assert SERVICE_FIELDS | {"group"} <= item.keys(), item
        assert item["type"] in {"realtime", "batch", "blackbox"}
        assert isinstance(item["metadata"], bool)
        assert item["service_name"]
        assert item["description"]
        assert isinstance(item["keywords"], str)
        assert isinstance(item["group"], str)
        assert item["group"]
        category = categories[item["service_code"]]
        assert item["service_name"] in {category["label_fr"], category["label_en"]}

    # A category an admin makes unreportable is no longer a service.
    expect(await api.patch(api.admin, "/categories/rodeo", json={"reportable": False}), 200)
    after = expect(await o311(api, "GET", "/services.json"), 200)
    assert {s["service_code"] for s in after} == set(codes) - {"rodeo"}
    open311_error(await o311(api, "GET", "/services/rodeo.json"), 404)


async def test_service_definition_lists_the_communes(api: Api) -> None:
    definition = expect(await o311(api, "GET", "/services/hall_occupation.json"), 200)
    assert definition["service_code"] == "hall_occupation"
    attributes = {a["code"]: a for a in definition["attributes"]}
    commune = attributes["commune_code"]
    assert commune["datatype"] == "singlevaluelist"
    assert {"variable", "required", "datatype_description", "order", "description"} <= set(commune)
    communes = expect(await api.get(api.admin, "/communes"), 200)["items"]
    assert len(communes) == 10
    assert {v["key"] for v in commune["values"]} == {c["code"] for c in communes}
    names = {c["code"]: c["name"] for c in communes}
    assert all(v["name"] == names[v["key"]] for v in commune["values"])


@pytest.mark.parametrize("code", ["no_such_service", "HALL", "x" * 60])
async def test_unknown_service_definition_is_404(api: Api, code: str) -> None:
    open311_error(await o311(api, "GET", f"/services/{code}.json"), 404)


# --- Creating requests -------------------------------------------------------------------


async def test_request_by_point_takes_the_nearest_commune(world: World) -> None:
    api = world.api
    point = moved(WOIPPY, 300, -200)
    response = await create_request(
        api,
        world.landlord_partner,
        service_code="wrecked_vehicle",
        lat=point["lat"],
        long=point["lon"],
        description="Épave sans plaques sur le parking de la résidence.",
        media_url="https://photos.example.org/epave.jpg",
    )
    assert response.status_code in {200, 201}, response.text
    body = response.json()
    assert len(body) == 1
    request_id = body[0]["service_request_id"]
    assert body[0]["service_notice"]

    report = await read_report(api, world.landlord_partner, {"id": request_id})
    assert report["id"] == request_id
    assert report["commune_code"] == "57751"
    assert report["category"] == "wrecked_vehicle"
    assert report["status"] == "received"
    assert report["description"] == "Épave sans plaques sur le parking de la résidence."
    assert report["submitted_by_organisation_id"] == world.landlord["id"]
    assert report["location"]["lat"] == pytest.approx(point["lat"])
    assert report["location"]["lon"] == pytest.approx(point["lon"])
    assert report["reference"] in body[0]["service_notice"]

    seen = await read_request(api, world.landlord_partner, request_id)
    assert seen["media_url"] == "https://photos.example.org/epave.jpg"


async def test_an_open311_request_names_the_problems_it_may_duplicate(world: World) -> None:
    """The intake is the API's: an Open311 request gets the same possible duplicates as a
    report, those the reporter may see, named in `service_notice`."""
    api = world.api
    near = moved(METZ, 40)
    shared = await api.problem(
        world.facilitator, world.gpo, location=near, category="wrecked_vehicle"
    )
    hidden = await api.problem(
        world.facilitator,
        world.gpo,
        location=moved(METZ, 60),
        category="wrecked_vehicle",
        visibility="police",
    )
    through_api = await submit(
        api, world.landlord_partner, category="wrecked_vehicle", location=moved(METZ, 10)
    )
    assert [d["id"] for d in through_api["possible_duplicates"]] == [shared["id"]]

    point = moved(METZ, 10)
    response = await create_request(
        api,
        world.landlord_partner,
        service_code="wrecked_vehicle",
        lat=point["lat"],
        long=point["lon"],
        description="Épave devant le 4 rue de Toul.",
    )
    assert response.status_code == 201, response.text
    notice = response.json()[0]["service_notice"]
    assert shared["reference"] in notice
    assert hidden["reference"] not in notice


@pytest.mark.parametrize(
    ("point", "commune"),
    [
        (moved(METZ, 100, 100), "57463"),
        (moved((49.0633, 6.1547), -200), "57447"),  # Marly
        (moved((49.1328, 6.2039), 0, 150), "57616"),  # Saint-Julien-lès-Metz
    ],
)
async def test_nearest_commune_centre(world: World, point: dict[str, float], commune: str) -> None:
    request_id = await created_request(
        world.api,
        world.landlord_partner,
        service_code="damage",
        lat=point["lat"],
        long=point["lon"],
    )
    report = await read_report(world.api, world.landlord_partner, {"id": request_id})
    assert report["commune_code"] == commune


MARLY = (49.0633, 6.1547)  # the commune centre farthest from its nearest neighbour (4.1 km)
FAR_AWAY = {
    "Paris": (48.8566, 2.3522),
    "Thionville": (49.3579, 6.1683),
    "Nancy": (48.6921, 6.1844),
    "10 km south of Marly": tuple(moved(MARLY, -10_000).values()),
}


@pytest.mark.parametrize("place", list(FAR_AWAY))
async def test_a_point_outside_the_district_is_refused(world: World, place: str) -> None:
    """Not filed under the nearest commune centre when that centre is far away: the district
    reaches the widest gap between neighbouring centres plus 5 km (some 9 km)."""
    lat, lon = FAR_AWAY[place]
    response = await create_request(
        world.api, world.landlord_partner, service_code="damage", lat=lat, long=lon
    )
    assert "commune_code" in open311_error(response, 400)
    assert await report_ids(world.api, world.admin) == set()


async def test_a_point_outside_the_district_is_taken_with_its_commune(world: World) -> None:
    lat, lon = FAR_AWAY["Paris"]
    request_id = await created_request(
        world.api,
        world.landlord_partner,
        service_code="damage",
        lat=lat,
        long=lon,
        **{"attribute[commune_code]": "57463"},
    )
    report = await read_report(world.api, world.landlord_partner, {"id": request_id})
    assert report["commune_code"] == "57463"
    assert report["location"]["lat"] == pytest.approx(lat)


async def test_the_district_reaches_past_its_outermost_centre(world: World) -> None:
    point = moved(MARLY, -8_000)
    request_id = await created_request(
        world.api,
        world.landlord_partner,
        service_code="damage",
        lat=point["lat"],
        long=point["lon"],
    )
    report = await read_report(world.api, world.landlord_partner, {"id": request_id})
    assert report["commune_code"] == "57447"


async def test_request_by_address_and_commune_attribute(world: World) -> None:
    api = world.api
    request_id = await created_request(
        api,
        world.landlord_partner,
        service_code="hall_occupation",
        address_string="12 rue des Couronnes, Montigny-lès-Metz",
        **{"attribute[commune_code]": "57480"},
    )
    report = await read_report(api, world.landlord_partner, {"id": request_id})
    assert report["commune_code"] == "57480"
    assert report["location"]["address"] == "12 rue des Couronnes, Montigny-lès-Metz"
    assert report["location"]["lat"] is None
    assert report["description"]  # a description is made when the tool sends none
    seen = await read_request(api, world.landlord_partner, request_id)
    assert seen["address"] == "12 rue des Couronnes, Montigny-lès-Metz"
    assert seen["lat"] is None
    assert seen["long"] is None


async def test_commune_attribute_wins_over_the_point(world: World) -> None:
    point = moved(METZ)
    request_id = await created_request(
        world.api,
        world.landlord_partner,
        service_code="damage",
        lat=point["lat"],
        long=point["lon"],
        **{"attribute[commune_code]": "57480"},
    )
    report = await read_report(world.api, world.landlord_partner, {"id": request_id})
    assert report["commune_code"] == "57480"


async def test_request_is_routed_like_a_report(world: World) -> None:
    request_id = await created_request(
        world.api,
        world.landlord_partner,
        service_code="hall_occupation",
        lat=METZ[0],
        long=METZ[1],
    )
    report = await read_report(world.api, world.facilitator, {"id": request_id})
    assert report["gpo_id"] == world.gpo["id"]


def _caller(world: World, who: str) -> Caller | None:
    return {
        "nobody": None,
        "forged": Caller("gpo_not_a_real_token_0123456789abcdef"),
        "admin": world.admin,
        "commander": world.commander,
        "facilitator": world.facilitator,
    }[who]


@pytest.mark.parametrize("who", ["nobody", "forged", "admin", "commander", "facilitator"])
async def test_creating_needs_a_partners_api_key(world: World, who: str) -> None:
    response = await create_request(
        world.api, _caller(world, who), service_code="damage", lat=METZ[0], long=METZ[1]
    )
    open311_error(response, 403)
    assert await report_ids(world.api, world.admin) == set()


BAD_FORMS: dict[str, dict[str, Any]] = {
    "unknown service": {"service_code": "no_such_service", "lat": METZ[0], "long": METZ[1]},
    "no service": {"lat": METZ[0], "long": METZ[1]},
    "malformed service code": {
        "service_code": "HALL OCCUPATION",
        "lat": METZ[0],
        "long": METZ[1],
    },
    "no location": {"service_code": "damage", "description": "Quelque part."},
    "no location, commune only": {"service_code": "damage", "attribute[commune_code]": "57463"},
    "lat outside France": {"service_code": "damage", "lat": 40.4168, "long": 6.17},
    "long outside France": {"service_code": "damage", "lat": 49.11, "long": 13.4},
    "lat without long": {"service_code": "damage", "lat": METZ[0]},
    "long without lat": {"service_code": "damage", "long": METZ[1]},
    "lat not a number": {"service_code": "damage", "lat": "nord", "long": METZ[1]},
    "address only, no commune": {"service_code": "damage", "address_string": "4 rue de Toul"},
    "unknown commune": {
        "service_code": "damage",
        "address_string": "4 rue de Toul",
        "attribute[commune_code]": "99999",
    },
    "malformed commune": {
        "service_code": "damage",
        "address_string": "4 rue de Toul",
        "attribute[commune_code]": "Metz",
    },
}


@pytest.mark.parametrize("case", list(BAD_FORMS))
async def test_bad_requests_are_400_and_store_nothing(world: World, case: str) -> None:
    response = await create_request(world.api, world.landlord_partner, **BAD_FORMS[case])
    open311_error(response, 400)
    assert await report_ids(world.api, world.admin) == set()


async def test_retried_request_with_an_idempotency_key_is_recorded_once(world: World) -> None:
    api = world.api
    form = {
        "api_key": world.landlord_partner.token,
        "service_code": "damage",
        "lat": str(METZ[0]),
        "long": str(METZ[1]),
    }
    headers = {"Idempotency-Key": f"open311-{uuid.uuid4()}"}
    first = await o311(api, "POST", "/requests.json", data=form, headers=headers)
    assert first.status_code in {200, 201}, first.text
    second = await o311(api, "POST", "/requests.json", data=form, headers=headers)
    assert second.status_code == first.status_code, second.text
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json() == first.json()
    assert await report_ids(api, api.admin) == {first.json()[0]["service_request_id"]}


# --- Reading requests --------------------------------------------------------------------


async def test_reading_needs_an_api_key(world: World) -> None:
    api = world.api
    request_id = await created_request(
        api, world.landlord_partner, service_code="damage", lat=METZ[0], long=METZ[1]
    )
    open311_error(await o311(api, "GET", "/requests.json"), 403)
    open311_error(await o311(api, "GET", f"/requests/{request_id}.json"), 403)
    forged = {"api_key": "gpo_forged_key_00000000000000000000"}
    open311_error(await o311(api, "GET", "/requests.json", params=forged), 403)
    open311_error(await o311(api, "GET", f"/requests/{request_id}.json", params=forged), 403)


async def test_the_key_may_come_in_the_authorization_header(world: World) -> None:
    """As a bearer token, or as Basic's password (what many Open311 clients send)."""
    api = world.api
    request_id = await created_request(
        api, world.landlord_partner, service_code="damage", lat=METZ[0], long=METZ[1]
    )
    token = world.landlord_partner.token
    basic = base64.b64encode(f"bailleur:{token}".encode()).decode()
    for header in (f"Bearer {token}", f"bearer  {token} ", f"Basic {basic}"):
        response = await o311(
            api, "GET", f"/requests/{request_id}.json", headers={"Authorization": header}
        )
        assert response.status_code == 200, (header, response.text)
        assert response.json()[0]["service_request_id"] == request_id
    for refused in ("Basic %%%", f"Basic {base64.b64encode(token.encode()).decode()}", "Bearer"):
        response = await o311(
            api, "GET", f"/requests/{request_id}.json", headers={"Authorization": refused}
        )
        open311_error(response, 403)


async def test_reading_shows_only_the_callers_organisation(world: World) -> None:
    api = world.api
    via_open311 = await created_request(
        api, world.landlord_partner, service_code="damage", lat=METZ[0], long=METZ[1]
    )
    via_api = (await submit(api, world.landlord_partner))["id"]
    outsider = await created_request(
        api, world.outsider_partner, service_code="damage", lat=WOIPPY[0], long=WOIPPY[1]
    )
    colleague = await api.user("partner", world.landlord, "Collègue Open311")

    for caller in (world.landlord_partner, colleague):
        ids = {r["service_request_id"] for r in await read_requests(api, caller)}
        assert ids == {via_open311, via_api}
        assert (await read_request(api, caller, via_open311))["service_request_id"] == via_open311

    assert {r["service_request_id"] for r in await read_requests(api, world.outsider_partner)} == {
        outsider
    }
    open311_error(
        await o311(
            api,
            "GET",
            f"/requests/{via_open311}.json",
            params={"api_key": world.outsider_partner.token},
        ),
        404,
    )
    open311_error(
        await o311(
            api,
            "GET",
            f"/requests/{uuid.uuid4()}.json",
            params={"api_key": world.landlord_partner.token},
        ),
        404,
    )
    # An id filter cannot reach another organisation's request either.
    assert await read_requests(api, world.outsider_partner, service_request_id=via_open311) == []


async def test_a_request_carries_the_specifications_fields(world: World) -> None:
    api = world.api
    point = moved(METZ, 50)
    request_id = await created_request(
        api,
        world.landlord_partner,
        service_code="hall_occupation",
        lat=point["lat"],
        long=point["lon"],
        address_string="4 rue de Toul, Metz",
        description="Regroupements le soir.",
    )
    seen = await read_request(api, world.landlord_partner, request_id)
    assert seen.keys() >= REQUEST_FIELDS, seen.keys()
    assert seen["service_request_id"] == request_id
    assert seen["status"] == "open"
    assert seen["status_notes"] is None
    assert seen["service_code"] == "hall_occupation"
    assert seen["description"] == "Regroupements le soir."
    assert seen["address"] == "4 rue de Toul, Metz"
    assert seen["lat"] == pytest.approx(point["lat"])
    assert seen["long"] == pytest.approx(point["lon"])
    assert isinstance(seen["agency_responsible"], str)
    assert seen["agency_responsible"]
    requested = instant(seen["requested_datetime"])
    assert instant(seen["updated_datetime"]) >= requested
    report = await read_report(api, world.landlord_partner, {"id": request_id})
    assert requested == instant(report["created_at"])
    listed = {r["service_request_id"]: r for r in await read_requests(api, world.landlord_partner)}
    assert listed[request_id] == seen


async def test_rejected_request_is_closed_with_the_public_note(world: World) -> None:
    api = world.api
    request_id = await created_request(
        api, world.landlord_partner, service_code="hall_occupation", lat=METZ[0], long=METZ[1]
    )
    before = await read_request(api, world.landlord_partner, request_id)
    note = "Relève du règlement intérieur : courrier aux locataires."
    expect(
        await triage(api, world.facilitator, {"id": request_id}, "reject", public_note=note), 200
    )
    after = await read_request(api, world.landlord_partner, request_id)
    assert after["status"] == "closed"
    assert after["status_notes"] == note
    assert instant(after["updated_datetime"]) >= instant(before["updated_datetime"])
    assert after["requested_datetime"] == before["requested_datetime"]


async def test_request_status_follows_the_problem_behind_it(world: World) -> None:
    api, fac = world.api, world.facilitator
    request_id = await created_request(
        api, world.landlord_partner, service_code="drug_dealing", lat=METZ[0], long=METZ[1]
    )
    triaged = expect(await triage(api, fac, {"id": request_id}, "create_problem"), 200)
    problem = {"id": triaged["problem_id"]}
    # Restricted: the landlord may not read the problem, and still learns its state.
    assert (await api.get(world.landlord_partner, f"/problems/{problem['id']}")).status_code == 404
    assert (await read_request(api, world.landlord_partner, request_id))["status"] == "open"

    expect(await api.move(fac, problem, "open"), 200)
    assert (await read_request(api, world.landlord_partner, request_id))["status"] == "open"
    expect(await api.move(fac, problem, "closed", outcome="better_handled", note="Fait."), 200)
    closed = await read_request(api, world.landlord_partner, request_id)
    assert closed["status"] == "closed"
    assert [
        r["service_request_id"]
        for r in await read_requests(api, world.landlord_partner, status="closed")
    ] == [request_id]
    expect(await api.move(fac, problem, "open", note="Ça reprend."), 200)
    assert (await read_request(api, world.landlord_partner, request_id))["status"] == "open"


async def test_request_filters(world: World) -> None:
    api, partner = world.api, world.landlord_partner
    first = await created_request(api, partner, service_code="damage", lat=METZ[0], long=METZ[1])
    second = await created_request(
        api, partner, service_code="hall_occupation", lat=METZ[0], long=METZ[1]
    )
    third = await created_request(
        api, partner, service_code="rubbish_dumping", lat=METZ[0], long=METZ[1]
    )
    expect(await triage(api, world.facilitator, {"id": second}, "reject", public_note="Non."), 200)

    def ids(items: list[dict[str, Any]]) -> set[str]:
        return {item["service_request_id"] for item in items}

    assert ids(await read_requests(api, partner)) == {first, second, third}
    assert ids(await read_requests(api, partner, service_request_id=f"{first},{third}")) == {
        first,
        third,
    }
    assert ids(await read_requests(api, partner, service_code="damage")) == {first}
    assert ids(await read_requests(api, partner, service_code="damage,rubbish_dumping")) == {
        first,
        third,
    }
    assert ids(await read_requests(api, partner, status="closed")) == {second}
    assert ids(await read_requests(api, partner, status="open")) == {first, third}
    assert ids(await read_requests(api, partner, status="open,closed")) == {first, second, third}

    times = {
        rid: (await read_request(api, partner, rid))["requested_datetime"]
        for rid in (first, second, third)
    }
    assert ids(await read_requests(api, partner, start_date=times[second])) == {second, third}
    assert ids(await read_requests(api, partner, end_date=times[second])) == {first, second}
    assert ids(
        await read_requests(api, partner, start_date=times[second], end_date=times[second])
    ) == {second}
    assert await read_requests(api, partner, start_date="2999-01-01T00:00:00Z") == []
    assert await read_requests(api, partner, end_date="2000-01-01T00:00:00Z") == []
    key = {"api_key": partner.token}
    open311_error(
        await o311(api, "GET", "/requests.json", params={**key, "start_date": "hier"}), 400
    )
    open311_error(
        await o311(api, "GET", "/requests.json", params={**key, "status": "pending"}), 400
    )


# --- The third-party client `georeport` against a live server ----------------------------


@pytest.fixture(scope="module")
async def served(worker: Worker) -> AsyncIterator[tuple[str, int]]:
    """The app served live on a scratch database: uvicorn's own event loop has its own
    connections, so it sees committed data only."""
    async with worker.scratch(world=False) as settings:
        with live_server(create_app(settings)) as address:
            yield address


def status_of(raised: pytest.ExceptionInfo[requests.HTTPError]) -> int:
    """The HTTP status behind an error the client raised."""
    assert raised.value.response is not None
    return raised.value.response.status_code


def _ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()


def _user_token(
    http: httpx.Client, organisation: dict[str, Any], name: str, role: str = "partner"
) -> tuple[str, str]:
    """A new user of `organisation` and a token of it: (user id, token)."""
    user = _ok(
        http.post(
            "/api/v1/users",
            json={
                "email": f"{name}@example.org",
                "display_name": name,
                "role": role,
                "organisation_id": organisation["id"],
            },
        )
    )
    created = _ok(http.post(f"/api/v1/users/{user['id']}/tokens", json={"name": "o311"}))
    return str(user["id"]), str(created["token"])


@pytest.mark.commits
def test_georeport_client_against_a_live_server(served: tuple[str, int]) -> None:
    host, port = served
    root = f"http://{host}:{port}"
    tag = uuid.uuid4().hex[:8]
    admin = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    with httpx.Client(base_url=root, headers=admin, timeout=30) as http:
        # Two landlords, a police organisation with a facilitator, and a GPO of Metz.
        landlord = _ok(
            http.post(
                "/api/v1/organisations",
                json={"name": f"Bailleur {tag}", "kind": "landlord", "commune_code": "57463"},
            )
        )
        other = _ok(
            http.post(
                "/api/v1/organisations",
                json={"name": f"Autre bailleur {tag}", "kind": "landlord"},
            )
        )
        police = _ok(
            http.post(
                "/api/v1/organisations",
                json={"name": f"DDSP {tag}", "kind": "national_police"},
            )
        )
        _, token = _user_token(http, landlord, f"landlord.{tag}")
        _, other_token = _user_token(http, other, f"other.{tag}")
        facilitator_id, facilitator = _user_token(http, police, f"fac.{tag}", "facilitator")
        gpo = _ok(
            http.post(
                "/api/v1/gpos",
                json={
                    "name": f"GPO {tag}",
                    "kind": "general",
                    "commune_codes": ["57463"],
                    "member_organisation_ids": [landlord["id"], police["id"]],
                    "facilitator_user_ids": [facilitator_id],
                },
            )
        )
        reportable = {
            c["code"]
            for c in _ok(http.get("/api/v1/categories", params={"limit": 200}), 200)["items"]
            if c["reportable"]
        }

        def post_request(api_key: str, **form: str) -> str:
            # No admin bearer here: the api_key alone says who reports.
            response = httpx.post(
                f"{root}/open311/v2/requests.json", data={"api_key": api_key, **form}, timeout=30
            )
            assert response.status_code in {200, 201}, response.text
            return str(response.json()[0]["service_request_id"])

        kept = post_request(token, service_code="damage", lat=str(METZ[0]), long=str(METZ[1]))
        rejected = post_request(
            token,
            service_code="hall_occupation",
            address_string="4 rue de Toul",
            **{"attribute[commune_code]": "57463"},
        )
        foreign = post_request(
            other_token, service_code="damage", lat=str(WOIPPY[0]), long=str(WOIPPY[1])
        )
        # Route to this test's GPO (whatever else the shared database holds), then reject.
        _ok(http.patch(f"/api/v1/reports/{rejected}", json={"gpo_id": gpo["id"]}), 200)
        note = "Hors du champ du GPO : transmis au syndic."
        _ok(
            http.post(
                f"/api/v1/reports/{rejected}/triage",
                json={"decision": "reject", "public_note": note},
                headers={"Authorization": f"Bearer {facilitator}"},
            ),
            200,
        )

    anonymous = GeoReport(f"{root}/open311/v2")
    services = anonymous.get_service_list()
    assert {s["service_code"] for s in services} == reportable
    definition = anonymous.get_service_definition("damage")
    assert definition["service_code"] == "damage"
    commune = next(a for a in definition["attributes"] if a["code"] == "commune_code")
    assert "57751" in {v["key"] for v in commune["values"]}
    with pytest.raises(requests.HTTPError) as missing:
        anonymous.get_service_definition("no_such_service")
    assert status_of(missing) == 404
    # Reads need the key: the client sends none of its own.
    with pytest.raises(requests.HTTPError) as refused:
        anonymous.get_service_requests()
    assert status_of(refused) == 403

    keyed = GeoReport(f"http://apikey:{token}@{host}:{port}/open311/v2")
    mine = keyed.get_service_requests()
    assert {r["service_request_id"] for r in mine} == {kept, rejected}
    assert foreign not in {r["service_request_id"] for r in mine}
    closed = keyed.get_service_requests(status="closed")
    assert [r["service_request_id"] for r in closed] == [rejected]
    assert [r["service_request_id"] for r in keyed.get_service_requests(status="open")] == [kept]
    assert [r["service_request_id"] for r in keyed.get_service_requests(service_code="damage")] == [
        kept
    ]
    both = keyed.get_service_requests(service_request_id=f"{kept},{rejected}")
    assert {r["service_request_id"] for r in both} == {kept, rejected}

    one = keyed.get_service_request(rejected)
    assert one["service_request_id"] == rejected
    assert one["status"] == "closed"
    assert one["status_notes"] == note
    assert one["address"] == "4 rue de Toul"
    assert keyed.get_service_request(kept)["status"] == "open"
    with pytest.raises(requests.HTTPError) as hidden:
        keyed.get_service_request(foreign)
    assert status_of(hidden) == 404

    wrong = GeoReport(f"http://apikey:gpo_wrong_{tag}@{host}:{port}/open311/v2")
    with pytest.raises(requests.HTTPError) as bad_key:
        wrong.get_service_requests()
    assert status_of(bad_key) == 403
