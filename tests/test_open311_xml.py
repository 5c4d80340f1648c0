"""GeoReport v2's required format, as an XML-only client (FixMyStreet's kind) uses it: the
`.xml` routes answer `text/xml; charset=utf-8` documents in the specification's shapes,
holding the same data as the `.json` routes, under the same access rules and errors."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api import Api, Caller, World, expect
from tests.intake import METZ, report_ids, triage

BASE = "/open311/v2"
Record = dict[str, Any]


def document(response: httpx.Response, status: int, root: str) -> ET.Element:
    """The XML document of an answer, parsed as a client would; checks its status, type,
    declaration and root element."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    element = ET.fromstring(response.content)  # noqa: S314 - our own server's answer
    assert element.tag == root, response.text
    return element


def record(element: ET.Element) -> Record:
    """An element's children as a dict: text for leaves, lists of records for lists."""
    out: Record = {}
    for child in element:
        if len(child) and all(len(item) for item in child):
            out[child.tag] = [record(item) for item in child]
        elif len(child):
            out[child.tag] = [item.text for item in child]
        else:
            out[child.tag] = child.text
    return out


def as_text(value: Any) -> Any:
    """A JSON value as the XML document writes it."""
    if isinstance(value, dict):
        return {name: as_text(item) for name, item in value.items()}
    if isinstance(value, list):
        return [as_text(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def error_of(response: httpx.Response, status: int) -> str:
    errors = document(response, status, "errors").findall("error")
    assert len(errors) == 1
    assert errors[0].findtext("code") == str(status)
    description = errors[0].findtext("description")
    assert description
    return description


@dataclass
class XmlClient:
    """What an XML-only GeoReport v2 client does: form-encoded POSTs, `.xml` everywhere."""

    http: httpx.AsyncClient
    api_key: str | None = None

    def _key(self) -> dict[str, str]:
        return {"api_key": self.api_key} if self.api_key else {}

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.http.get(f"{BASE}/{path}.xml", params={**self._key(), **params})

    async def submit(self, **form: Any) -> httpx.Response:
        data = {**self._key(), **{k: str(v) for k, v in form.items()}}
        return await self.http.post(f"{BASE}/requests.xml", data=data)

    async def created(self, **form: Any) -> Record:
        requests = document(await self.submit(**form), 201, "service_requests")
        [created] = requests.findall("request")
        return record(created)

    async def service_request(self, request_id: str) -> Record:
        requests = document(await self.get(f"requests/{request_id}"), 200, "service_requests")
        [one] = requests.findall("request")
        return record(one)

    async def service_requests(self, **params: str) -> list[Record]:
        requests = document(await self.get("requests", **params), 200, "service_requests")
        return [record(item) for item in requests.findall("request")]


def xml_client(api: Api, caller: Caller | None = None) -> XmlClient:
    return XmlClient(api.client, caller.token if caller else None)


async def json_of(api: Api, path: str, **params: str) -> Any:
    return expect(await api.client.get(f"{BASE}/{path}.json", params=params), 200)


# --- Discovery and services --------------------------------------------------------------


async def test_discovery_in_xml_lists_both_formats(api: Api) -> None:
    discovery = record(document(await xml_client(api).get("discovery"), 200, "discovery"))
    [endpoint] = discovery["endpoints"]
    assert endpoint["url"] == "http://gpo.test/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert not any("JSON format" in d for d in discovery["deviations"])
    assert discovery == as_text(await json_of(api, "discovery"))


async def test_services_in_xml_are_those_of_json(api: Api) -> None:
    services = document(await xml_client(api).get("services"), 200, "services")
    items = [record(item) for item in services]
    assert {item.tag for item in services} == {"service"}
    assert items == as_text(await json_of(api, "services"))
    assert {item["metadata"] for item in items} == {"true"}


async def test_service_definition_in_xml(api: Api) -> None:
    definition = record(
        document(await xml_client(api).get("services/damage"), 200, "service_definition")
    )
    assert definition["service_code"] == "damage"
    [attribute] = definition["attributes"]
    assert attribute["code"] == "commune_code"
    assert attribute["required"] == "false"
    assert {"key": "57463", "name": "Metz"} in attribute["values"]
    assert definition == as_text(await json_of(api, "services/damage"))


# --- Requests ----------------------------------------------------------------------------


async def test_an_xml_client_files_and_follows_a_request(world: World) -> None:
    api = world.api
    client = xml_client(api, world.landlord_partner)
    created = await client.created(
        service_code="hall_occupation",
        lat=METZ[0],
        long=METZ[1],
        description="Regroupements le soir dans le hall.",
    )
    request_id = created["service_request_id"]
    assert uuid.UUID(request_id)
    assert created["service_notice"]

    seen = await client.service_request(request_id)
    assert seen["service_request_id"] == request_id
    assert seen["status"] == "open"
    assert seen["status_notes"] is None  # null: an empty element
    assert seen["service_code"] == "hall_occupation"
    assert float(seen["lat"]) == pytest.approx(METZ[0])
    json_seen = expect(
        await api.client.get(
            f"{BASE}/requests/{request_id}.json", params={"api_key": client.api_key or ""}
        ),
        200,
    )
    assert [seen] == as_text(json_seen)

    note = "Relève du règlement intérieur : courrier aux locataires."
    expect(
        await triage(api, world.facilitator, {"id": request_id}, "reject", public_note=note), 200
    )
    closed = await client.service_request(request_id)
    assert closed["status"] == "closed"
    assert closed["status_notes"] == note
    assert [r["service_request_id"] for r in await client.service_requests(status="closed")] == [
        request_id
    ]
    assert await client.service_requests(status="open") == []


async def test_xml_text_is_escaped(world: World) -> None:
    client = xml_client(world.api, world.landlord_partner)
    text = 'Tags <script>alert("x")</script> & "graffiti" ]]> l\'entrée'
    created = await client.created(
        service_code="damage", lat=METZ[0], long=METZ[1], description=text
    )
    seen = await client.service_request(created["service_request_id"])
    assert seen["description"] == text


async def test_a_retried_xml_post_is_replayed_in_xml(world: World) -> None:
    form = {
        "api_key": world.landlord_partner.token,
        "service_code": "damage",
        "lat": str(METZ[0]),
        "long": str(METZ[1]),
    }
    headers = {"Idempotency-Key": f"open311-xml-{uuid.uuid4()}"}
    post = world.api.client.post
    first = await post(f"{BASE}/requests.xml", data=form, headers=headers)
    second = await post(f"{BASE}/requests.xml", data=form, headers=headers)
    document(first, 201, "service_requests")
    document(second, 201, "service_requests")
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert len(await report_ids(world.api, world.admin)) == 1


# --- Errors, as in JSON ------------------------------------------------------------------


async def test_xml_errors_are_those_of_json(world: World) -> None:
    api = world.api
    anonymous = xml_client(api)
    partner = xml_client(api, world.landlord_partner)
    outsider = xml_client(api, world.outsider_partner)
    created = await partner.created(service_code="damage", lat=METZ[0], long=METZ[1])
    request_id = created["service_request_id"]

    cases = [
        (await anonymous.get("services/no_such_service"), 404),
        (await anonymous.get("requests"), 403),
        (await anonymous.get(f"requests/{request_id}"), 403),
        (await xml_client(api, world.facilitator).get("requests"), 403),
        (await outsider.get(f"requests/{request_id}"), 404),
        (await partner.get("requests/not-an-id"), 404),
        (await partner.get("requests", status="pending"), 400),
        (await partner.get("requests", start_date="hier"), 400),
        (await anonymous.submit(service_code="damage", lat=METZ[0], long=METZ[1]), 403),
        (await partner.submit(service_code="no_such_service", lat=METZ[0], long=METZ[1]), 400),
        (await partner.submit(service_code="damage", lat=48.8566, long=2.3522), 400),
        (await partner.submit(service_code="damage", lat="nord", long=METZ[1]), 400),
    ]
    for response, status in cases:
        description = error_of(response, status)
        as_json = await api.client.request(
            response.request.method,
            str(response.request.url).replace(".xml", ".json"),
            content=response.request.content,
            headers={"content-type": response.request.headers.get("content-type", "")},
        )
        assert as_json.status_code == status
        assert as_json.json() == [{"code": status, "description": description}]
    assert await report_ids(api, world.admin) == {request_id}
