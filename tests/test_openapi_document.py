"""The OpenAPI document as its readers use it: a validator accepts it as OpenAPI 3.1, a
client generator turns it into a package that talks to a live server, and every operation
shows a request and a response example, the headers it sends, and descriptions that say
more than the field's name."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from app.config import Settings
from app.main import create_app
from tests.api import Api, World, expect, live_server
from tests.conftest import BOOTSTRAP_TOKEN, asgi_client
from tests.intake import report_body

JSON_TYPES = re.compile(r"^application/(.+\+)?json$")
# Words that a description may add to a field's name and still say nothing more.
FILLER = {"the", "a", "an", "its", "of", "id", "ids", "in", "it"}
GENERATOR = [sys.executable, "-m", "openapi_python_client"]


@pytest.fixture(scope="module")
async def document(app: FastAPI) -> dict[str, Any]:
    """`/openapi.json` as a client downloads it."""
    async with asgi_client(app) as http:
        return dict(expect(await http.get("/openapi.json"), 200))


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def json_contents(holder: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for media_type, content in holder.get("content", {}).items():
        if JSON_TYPES.match(media_type):
            yield media_type, content


def success_responses(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            yield status, response


def schema_errors(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    """How `instance` fails `schema`, whose references point into the document."""
    rooted = {"allOf": [schema], "components": document["components"]}
    return [error.message for error in OAS31Validator(rooted).iter_errors(instance)]


def repeats_its_name(name: str, description: str) -> bool:
    """The description's words are the name's (give or take an article): a tautology."""
    words = set(re.findall(r"[a-z0-9]+", description.lower())) - FILLER
    return words <= set(re.findall(r"[a-z0-9]+", name.lower().replace("_", " ")))


# --- the document is valid ---------------------------------------------------------------


def test_the_document_refers_only_to_what_it_defines(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    dangling = sorted(
        ref
        for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text))
        if not _resolves(document, ref.split("/"))
    )
    assert not dangling, f"references to nothing: {dangling}"


def _resolves(document: dict[str, Any], parts: list[str]) -> bool:
    node: Any = document
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert not errors, errors[:10]


def test_no_parameter_lists_its_examples(document: dict[str, Any]) -> None:
    """A parameter's `examples` is a map of named examples; one example is `example`."""
    listed = [
        f"{method} {path} {parameter['name']}"
        for method, path, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if not isinstance(parameter.get("examples", {}), dict)
    ]
    assert not listed


def test_parameter_examples_match_their_schemas(document: dict[str, Any]) -> None:
    wrong = {
        f"{method} {path} {parameter['name']}": errors
        for method, path, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if "example" in parameter
        and (errors := schema_errors(document, parameter["schema"], parameter["example"]))
    }
    assert not wrong


# --- examples ------------------------------------------------------------------------------


def test_every_body_and_json_answer_has_an_example_that_fits_its_schema(
    document: dict[str, Any],
) -> None:
    missing: list[str] = []
    wrong: dict[str, list[str]] = {}
    bodies = 0
    for method, path, operation in operations(document):
        holders = [("request", operation.get("requestBody", {}))]
        holders += list(success_responses(operation))
        for label, holder in holders:
            for media_type, content in holder.get("content", {}).items():
                if not JSON_TYPES.match(media_type) and label != "request":
                    continue
                bodies += label == "request"
                where = f"{method} {path} {label} {media_type}"
                if "example" not in content:
                    missing.append(where)
                elif errors := schema_errors(document, content["schema"], content["example"]):
                    wrong[where] = errors
    assert bodies >= 27
    assert not missing, missing
    assert not wrong, wrong


def test_examples_read_like_metz(document: dict[str, Any]) -> None:
    text = json.dumps(document, ensure_ascii=False)
    for expected in ("57463", "57751", "P-2026-000123", "2026-03-14T18:30:00+01:00"):
        assert expected in text
    created = document["paths"]["/api/v1/problems"]["post"]["requestBody"]
    example = created["content"]["application/json"]["example"]
    assert example["commune_code"] == "57463"
    assert "rue de Toul" in example["location"]["address"]


# --- descriptions --------------------------------------------------------------------------


def test_no_description_merely_repeats_its_name(document: dict[str, Any]) -> None:
    described: list[tuple[str, str, str]] = []
    for schema_name, schema in document["components"]["schemas"].items():
        for name, field in schema.get("properties", {}).items():
            described.append((schema_name, name, field.get("description", "")))
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            name = parameter["name"]
            described.append((f"{method} {path}", name, parameter.get("description", "")))
    assert len(described) > 500
    humanised = [d for d in described if d[2] == d[1].replace("_", " ").capitalize() + "."]
    assert not humanised
    tautologies = [d for d in described if d[2] and repeats_its_name(d[1], d[2])]
    assert not tautologies


def test_tautology_detector() -> None:
    assert repeats_its_name("name", "Name.")
    assert repeats_its_name("by_gpo", "By gpo.")
    assert repeats_its_name("gpo_id", "The GPO.")
    assert not repeats_its_name("gpo_id", "The GPO in charge (see GET /api/v1/gpos).")


# --- headers -------------------------------------------------------------------------------


def _headers(response: dict[str, Any]) -> set[str]:
    return set(response.get("headers", {}))


def test_response_headers_are_described_once_and_referenced(document: dict[str, Any]) -> None:
    described = document["components"]["headers"]
    for name in ("ETag", "Idempotent-Replayed", "X-Request-ID", "Location", "Retry-After"):
        assert described[name]["description"]
        assert "example" in described[name]
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            assert "X-Request-ID" in _headers(response), (method, path, status)
            for header in response.get("headers", {}).values():
                assert set(header) == {"$ref"}, (method, path, status)


def test_the_operations_a_token_opens_declare_the_bearer_scheme(
    document: dict[str, Any],
) -> None:
    """Every `/api/v1` operation takes a token (401 without one); the Open311 facade's
    and the health checks take none, and say so."""
    scheme = document["components"]["securitySchemes"]["HTTPBearer"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    declared = {(method, path) for method, path, op in operations(document) if op.get("security")}
    api = {(method, path) for method, path, _ in operations(document) if path.startswith("/api/")}
    assert api
    assert declared == api
    for method, path, operation in operations(document):
        if (method, path) in declared:
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            assert "401" in operation["responses"], (method, path)


def test_versioned_resources_document_their_etag(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for method, path, operation in operations(document):
        for status, response in success_responses(operation):
            for _, content in json_contents(response):
                ref = content["schema"].get("$ref", "")
                versioned = "version" in schemas.get(ref.rsplit("/", 1)[-1], {}).get(
                    "properties", {}
                )
                assert versioned == ("ETag" in _headers(response)), (method, path, status)


def test_stored_post_answers_document_idempotent_replayed(document: dict[str, Any]) -> None:
    replaying = [
        (path, operation)
        for method, path, operation in operations(document)
        # The answers that show a secret once are never stored, so never replayed.
        if method == "POST"
        and not path.endswith(("/tokens", "/invitations", "/webhooks", "/rotate-secret"))
    ]
    assert len(replaying) > 10
    for path, operation in replaying:
        for status, response in operation["responses"].items():
            stored = status.startswith("2") or status in ("403", "404", "409")
            assert stored == ("Idempotent-Replayed" in _headers(response)), (path, status)


def test_201_operations_document_location(document: dict[str, Any]) -> None:
    created = {
        f"{method} {path}": _headers(operation["responses"]["201"])
        for method, path, operation in operations(document)
        if "201" in operation["responses"]
    }
    assert len([operation for operation in created if " /api/v1/" in operation]) == 16
    without = {operation for operation, headers in created.items() if "Location" not in headers}
    # GeoReport's POST requests answers the new id in its body, as the specification says;
    # every creation of the API names what it created.
    assert without <= {"POST /open311/v2/requests.json", "POST /open311/v2/requests.xml"}


async def test_every_creation_answers_with_its_location(world: World) -> None:
    """Through HTTP: each 201 of /api/v1 carries `Location`; where the resource has a URL
    of its own, reading it gives back what was created."""
    api = world.api
    facilitator = world.facilitator
    gpo_path = f"/gpos/{world.gpo['id']}"
    problem = await api.problem(facilitator, world.gpo)
    problem_path = f"/problems/{problem['id']}"
    creations: list[tuple[Any, str, dict[str, Any], str | None]] = [
        (api.admin, "/users", _user_body(), "/users/{id}"),
        (api.admin, "/organisations", {"name": "Bailleur test", "kind": "landlord"}, None),
        (api.admin, "/categories", _category_body(), "/categories/{code}"),
        (api.admin, "/action-kinds", _action_kind_body(), "/action-kinds/{code}"),
        (facilitator, "/gpos", _gpo_body(), None),
        (facilitator, "/problems", _problem_body(world), None),
        (facilitator, f"{problem_path}/comments", {"body": "Vu."}, f"{problem_path}/comments"),
        (facilitator, f"{problem_path}/actions", _action_body(world), "/actions/{id}"),
        (facilitator, f"{gpo_path}/meetings", {"scheduled_at": "2026-03-14T18:30:00+01:00"}, None),
        (facilitator, f"{problem_path}/indicators", _indicator_body(), "/indicators/{id}"),
        (world.landlord_partner, "/reports", report_body(), "/reports/{id}"),
    ]
    expected = {
        "/organisations": "/organisations/{id}",
        "/gpos": "/gpos/{id}",
        "/problems": "/problems/{id}",
        f"{gpo_path}/meetings": "/meetings/{id}",
    }
    created: dict[str, dict[str, Any]] = {}
    for caller, path, body, location in creations:
        response = await api.post(caller, path, json=body)
        answer = expect(response, 201)
        template = location or expected[path]
        assert response.headers["location"] == "/api/v1" + template.format(**answer), path
        created[path] = answer
        if "{" in template:
            read = await api.get(caller, template.format(**answer))
            assert expect(read, 200)["version"] == answer["version"], path

    user = created["/users"]
    token = await api.post(api.admin, f"/users/{user['id']}/tokens", json={"name": "essai"})
    assert token.headers["location"] == f"/api/v1/tokens/{expect(token, 201)['token_id']}"
    invitation = await api.post(api.admin, f"/users/{user['id']}/invitations")
    assert invitation.headers["location"] == expect(invitation, 201)["invitation_url"]

    meeting = created[f"{gpo_path}/meetings"]
    review_body = {"problem_id": problem["id"], "note": "Point fait."}
    review = await api.post(facilitator, f"/meetings/{meeting['id']}/reviews", json=review_body)
    expect(review, 201)
    assert review.headers["location"] == f"/api/v1{problem_path}/timeline"
    indicator = created[f"{problem_path}/indicators"]
    measured = await api.post(
        facilitator,
        f"/indicators/{indicator['id']}/measurements",
        json={"period_start": "2026-02-01", "period_end": "2026-02-28", "value": 9},
    )
    expect(measured, 201)
    assert measured.headers["location"] == f"/api/v1/indicators/{indicator['id']}"


async def test_a_replayed_creation_keeps_its_location(api: Api) -> None:
    key = {"Idempotency-Key": "lieu-de-creation"}
    body = {"name": "Mairie de Woippy", "kind": "municipality", "commune_code": "57751"}
    first = await api.post(api.admin, "/organisations", json=body, headers=key)
    again = await api.post(api.admin, "/organisations", json=body, headers=key)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert first.headers["location"] == f"/api/v1/organisations/{expect(first, 201)['id']}"


def _user_body() -> dict[str, Any]:
    return {"email": "lea.muller@metz.fr", "display_name": "Léa Muller", "role": "commander"}


def _category_body() -> dict[str, Any]:
    return {"code": "squat", "family": "residential", "label_fr": "Squat", "label_en": "Squat"}


def _action_kind_body() -> dict[str, Any]:
    return {"code": "mediation", "label_fr": "Médiation", "label_en": "Mediation"}


def _gpo_body() -> dict[str, Any]:
    return {"name": "GPO Woippy", "kind": "general", "commune_codes": ["57751"]}


def _problem_body(world: World) -> dict[str, Any]:
    return {
        "gpo_id": world.gpo["id"],
        "title": "Rodéos urbains, boulevard de Trèves",
        "description": "Motos le dimanche après-midi.",
        "category": "hall_occupation",
        "commune_code": "57463",
        "priority": "high",
    }


def _action_body(world: World) -> dict[str, Any]:
    return {
        "title": "Patrouilles pédestres",
        "kind": "foot_patrol",
        "assignee_organisation_id": world.municipal_police["id"],
        "due_date": "2026-04-15",
    }


def _indicator_body() -> dict[str, Any]:
    return {
        "name": "Appels au 17",
        "unit": "appels",
        "direction": "decrease",
        "baseline": {"period_start": "2026-01-01", "period_end": "2026-01-31", "value": 42},
    }


# --- a generated client --------------------------------------------------------------------


@pytest.mark.commits
def test_a_generated_client_talks_to_a_live_server(
    document: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    """openapi-python-client (installed, offline) generates a package from the document;
    imported, it calls three routes of a live server as the bootstrap admin."""
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    config = tmp_path / "generator.yml"
    config.write_text("package_name_override: gpo_client\npost_hooks: []\n", encoding="utf-8")
    package = tmp_path / "generated" / "gpo_client"
    run = subprocess.run(  # noqa: S603 (the installed generator, on a file of ours)
        [
            *GENERATOR,
            "generate",
            f"--path={source}",
            "--meta=none",
            f"--output-path={package}",
            f"--config={config}",
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr

    sys.path.insert(0, str(package.parent))
    try:
        client_module = importlib.import_module("gpo_client")
        me = importlib.import_module("gpo_client.api.identity.me_api_v1_me_get")
        organisations = "gpo_client.api.reference_data"
        create = importlib.import_module(
            f"{organisations}.create_organisation_api_v1_organisations_post"
        )
        read = importlib.import_module(
            f"{organisations}.get_organisation_api_v1_organisations_organisation_id_get"
        )
        models = importlib.import_module("gpo_client.models")
        with live_server(create_app(settings)) as (host, port):
            client = client_module.AuthenticatedClient(
                base_url=f"http://{host}:{port}", token=BOOTSTRAP_TOKEN
            )
            who = me.sync_detailed(client=client)
            assert who.status_code == 200
            assert who.parsed.role == models.Role.ADMIN

            body = models.OrganisationCreate(
                name="Mairie de Woippy",
                kind=models.OrganisationKind.MUNICIPALITY,
                commune_code="57751",
            )
            created = create.sync_detailed(client=client, body=body, idempotency_key="essai-1")
            assert created.status_code == 201, created.content
            organisation = created.parsed
            assert isinstance(organisation, models.OrganisationOut)
            assert created.headers["location"] == f"/api/v1/organisations/{organisation.id}"

            again = read.sync_detailed(organisation.id, client=client)
            assert again.status_code == 200
            assert again.parsed.name == "Mairie de Woippy"
            assert again.parsed.commune_code == "57751"
            assert again.headers["etag"] == f'"{again.parsed.version}"'
    finally:
        sys.path.remove(str(package.parent))
        for name in [name for name in sys.modules if name.split(".")[0] == "gpo_client"]:
            del sys.modules[name]
