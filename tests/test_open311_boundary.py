"""Everything under /open311/v2 answers in the specification's error shape, whoever wrote the
error (an unknown path, a wrong method, a body over the limit), in the format the path
names; browsers may read cross-origin (GET), never write."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.api import Api, World, expect
from tests.intake import METZ, report_ids

BASE = "/open311/v2"
CIVIC_APP = "https://civic-app.example"


def open311_error(response: httpx.Response, status: int) -> str:
    """The error in the format the path names: `[{"code", "description"}]` or
    `<errors><error><code/><description/></error></errors>`; returns the description."""
    assert response.status_code == status, response.text
    content_type = response.headers["content-type"]
    if response.request.url.path.endswith(".xml"):
        assert content_type == "text/xml; charset=utf-8"
        root = ET.fromstring(response.content)  # noqa: S314 - our own server's answer
        assert root.tag == "errors"
        errors = [
            {"code": int(e.findtext("code", "")), "description": e.findtext("description")}
            for e in root.findall("error")
        ]
    else:
        assert content_type.startswith("application/json")
        errors = response.json()
    assert len(errors) == 1, errors
    assert errors[0]["code"] == status
    description = errors[0]["description"]
    assert isinstance(description, str)
    assert description
    return description


@pytest.mark.parametrize("suffix", ["json", "xml"])
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("GET", "/services/damage/extra", 404),
        ("POST", "/services", 405),
        ("DELETE", "/requests", 405),
        ("PUT", "/discovery", 405),
        ("PATCH", "/requests/00000000-0000-0000-0000-000000000000", 405),
    ],
)
async def test_framework_errors_take_the_open311_shape(
    api: Api, suffix: str, method: str, path: str, status: int
) -> None:
    response = await api.client.request(method, f"{BASE}{path}.{suffix}")
    open311_error(response, status)
    if status == 405:
        assert response.headers["allow"]
    assert response.headers["x-request-id"]


async def test_the_prefix_itself_is_an_open311_404(api: Api) -> None:
    open311_error(await api.client.get(BASE), 404)
    open311_error(await api.client.get(f"{BASE}/"), 404)


@pytest.mark.parametrize("suffix", ["json", "xml"])
async def test_a_body_over_the_limit_is_an_open311_413(world: World, suffix: str) -> None:
    form = {"api_key": world.landlord_partner.token, "service_code": "damage"}
    response = await world.api.client.post(
        f"{BASE}/requests.{suffix}", data={**form, "description": "x" * 1_100_000}
    )
    assert "bytes" in open311_error(response, 413)
    assert await report_ids(world.api, world.admin) == set()


@pytest.mark.parametrize("suffix", ["json", "xml"])
async def test_a_body_that_is_not_a_form_is_an_open311_400(world: World, suffix: str) -> None:
    response = await world.api.client.post(
        f"{BASE}/requests.{suffix}",
        json={"api_key": world.landlord_partner.token, "service_code": "damage"},
    )
    assert "Content-Type" in open311_error(response, 400)


@pytest.mark.commits
async def test_too_many_requests_is_an_open311_429_a_browser_can_read(settings: Settings) -> None:
    limited = create_app(settings.model_copy(update={"gpo_anonymous_rate_per_minute": 2}))
    async with limited.router.lifespan_context(limited):
        transport = httpx.ASGITransport(app=limited, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gpo.test") as client:
            answers = [
                await client.get(f"{BASE}/services.xml", headers={"Origin": CIVIC_APP})
                for _ in range(3)
            ]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    open311_error(answers[2], 429)
    assert int(answers[2].headers["retry-after"]) >= 1
    assert answers[2].headers["access-control-allow-origin"] == "*"
    assert "retry-after" in answers[2].headers["access-control-expose-headers"].lower()


async def test_the_api_keeps_its_problem_details(api: Api) -> None:
    response = await api.client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


# --- CORS --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/discovery.json", "/services.xml", "/services/damage.json"])
async def test_anonymous_reads_are_open_to_any_origin(api: Api, path: str) -> None:
    response = await api.client.get(BASE + path, headers={"Origin": CIVIC_APP})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    assert "retry-after" in response.headers["access-control-expose-headers"].lower()


async def test_a_keyed_read_is_readable_cross_origin_without_credentials(world: World) -> None:
    partner = world.landlord_partner
    headers = {"Origin": CIVIC_APP, "Authorization": f"Bearer {partner.token}"}
    response = await world.api.client.get(f"{BASE}/requests.json", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    # Its errors too: a browser app can tell a bad key from a network failure.
    refused = await world.api.client.get(f"{BASE}/requests.xml", headers={"Origin": CIVIC_APP})
    open311_error(refused, 403)
    assert refused.headers["access-control-allow-origin"] == "*"
    missing = await world.api.client.get(f"{BASE}/nope.json", headers={"Origin": CIVIC_APP})
    open311_error(missing, 404)
    assert missing.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ["/services.json", "/requests.xml", "/requests/abc.json"])
async def test_a_preflight_for_get_is_allowed(api: Api, path: str) -> None:
    response = await api.client.options(
        BASE + path,
        headers={
            "Origin": CIVIC_APP,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert int(response.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_a_preflight_for_writing_is_refused(api: Api, method: str) -> None:
    response = await api.client.options(
        f"{BASE}/requests.json",
        headers={"Origin": CIVIC_APP, "Access-Control-Request-Method": method},
    )
    open311_error(response, 403)
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("suffix", ["json", "xml"])
async def test_a_cross_origin_post_is_refused_and_stores_nothing(world: World, suffix: str) -> None:
    """A form POST needs no preflight: without this a page elsewhere could file requests."""
    form = {
        "api_key": world.landlord_partner.token,
        "service_code": "damage",
        "lat": str(METZ[0]),
        "long": str(METZ[1]),
    }
    response = await world.api.client.post(
        f"{BASE}/requests.{suffix}", data=form, headers={"Origin": CIVIC_APP}
    )
    open311_error(response, 403)
    assert "access-control-allow-origin" not in response.headers
    assert await report_ids(world.api, world.admin) == set()
    # From a server (no Origin) or the service's own origin, the same form is taken.
    for headers in ({}, {"Origin": "http://gpo.test"}):
        taken = await world.api.client.post(f"{BASE}/requests.json", data=form, headers=headers)
        assert taken.status_code == 201, taken.text
        assert "access-control-allow-origin" not in taken.headers


async def test_no_cors_on_the_api(world: World) -> None:
    headers = {"Origin": CIVIC_APP, **world.admin.headers}
    response = await world.api.client.get("/api/v1/categories", headers=headers)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = await world.api.client.options(
        "/api/v1/categories",
        headers={"Origin": CIVIC_APP, "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


# --- The OpenAPI document ------------------------------------------------------------------


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


async def test_open311_operations_document_their_own_errors(api: Api) -> None:
    document = expect(await api.client.get("/openapi.json"), 200)
    operations = [
        (path, operation)
        for path, methods in document["paths"].items()
        if path.startswith(BASE)
        for operation in methods.values()
    ]
    assert len(operations) == 12  # six operations, two formats each
    for path, operation in operations:
        for ref in refs(operation):
            kind, _, name = ref.removeprefix("#/components/").partition("/")
            assert kind in ("schemas", "headers"), (path, ref)
            assert name in document["components"][kind], (path, ref)
        media_type = "text/xml" if path.endswith(".xml") else "application/json"
        for status, response in operation["responses"].items():
            assert list(response["content"]) == [media_type], (path, status)
            if not status.startswith("2"):
                assert "Open311Error" in str(response["content"]), (path, status)
