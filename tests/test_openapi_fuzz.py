"""Schema-driven fuzzing: schemathesis generates valid and invalid requests for every
operation of the OpenAPI document and checks the answers against it.

It runs against a real uvicorn server (own thread, own event loop) on a scratch database
holding reference data only, authenticated as the bootstrap admin. Checks: no server
error, only documented status codes, content types and headers, responses matching their
schemas, invalid input refused, authentication not ignored, undocumented methods answered
405.

Capped by default, complete in CI (.ci/run), one test per operation either way:
GPO_FUZZ_EXAMPLES is the number of examples generated per operation (3 by default, 12 in
CI), and GPO_FUZZ_COVERAGE=1 (CI) adds schemathesis' coverage phase, every boundary and
negative case the schema defines: some 4,000 requests whatever the count, four fifths of
the module's time.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis

from app.config import Settings
from app.main import create_app
from tests.api import live_server
from tests.conftest import BOOTSTRAP_TOKEN
from tests.databases import Worker

MAX_EXAMPLES = int(os.environ.get("GPO_FUZZ_EXAMPLES", "3"))
COVERAGE = os.environ.get("GPO_FUZZ_COVERAGE", "0") == "1"
pytestmark = pytest.mark.commits

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261128,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
        "phases": {"coverage": {"enabled": COVERAGE}},
        "auth": {"openapi": {"HTTPBearer": {"bearer": BOOTSTRAP_TOKEN}}},
        "checks": {
            # Schema-valid data may still be a cursor that was never issued (400), ask for
            # what the admin's role may not do (403: only partners report), name a code or
            # id that does not exist (404, 422), collide with a stored state (409) or carry
            # an If-Match that is not the current version (412).
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", 400, 403, 404, 409, 412, 422]
            },
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 409, 413, 415, 422]
            },
        },
    }
)
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi(), config=CONFIG)


@pytest.fixture(scope="module")
async def base_url(worker: Worker) -> AsyncIterator[str]:
    async with worker.scratch(world=False) as settings:
        with live_server(create_app(settings)) as (host, port):
            yield f"http://{host}:{port}"


@schema.parametrize()
def test_operation_conforms_to_the_openapi_document(case: Any, base_url: str) -> None:
    case.call_and_validate(base_url=base_url)
