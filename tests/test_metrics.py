"""What an operator on call sees: Prometheus metrics kept from the public, and an access
line naming the client (the proxy's client only when the proxy is trusted)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings, load_settings
from app.main import create_app
from tests.api import Api, expect, live_server, problem_of
from tests.databases import BOOTSTRAP_TOKEN, installed

SCRAPER_TOKEN = "scrape-" + "s" * 40
ADMIN = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
PUBLIC = ("203.0.113.7", 40000)  # an address on the internet, as far as the service knows


@asynccontextmanager
async def app_with(database: Any, **settings: Any) -> AsyncIterator[FastAPI]:
    """An app of its own, with `settings`, on the test's rolled-back database."""
    own: FastAPI = create_app(database.settings.model_copy(update=settings))
    async with own.router.lifespan_context(own):
        with installed(own, database):
            yield own


def client(app: FastAPI, address: tuple[str, int] = ("127.0.0.1", 5000)) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=address)
    return httpx.AsyncClient(transport=transport, base_url="http://gpo.test")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus exposition, by name and labels (the parser checks the
    format as Prometheus would read it)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def found_in(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """A sample that must be in the exposition (unlike `value`, absent is a failure)."""
    return found[(name, frozenset(labels.items()))]


async def test_metrics_are_closed_to_everyone_by_default(api: Api) -> None:
    problem_of(await api.client.get("/metrics"), 404)
    problem_of(await api.client.get("/metrics", headers=ADMIN), 404)  # an admin is no scraper


async def test_metrics_count_requests_by_route_template_status_and_latency(
    database: Any,
) -> None:
    async with app_with(database, gpo_metrics_allow="127.0.0.1,10.0.0.0/8") as app:
        async with client(app) as http:
            missing = f"/api/v1/problems/{uuid.uuid4()}"
            for _ in range(3):
                assert (await http.get(missing, headers=ADMIN)).status_code == 404
            assert (await http.get("/api/v1/me", headers=ADMIN)).status_code == 200
            assert (await http.get("/no/such/page")).status_code == 404
            scraped = await http.get("/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        found = samples(scraped.text)
    problem = {"method": "GET", "route": "/api/v1/problems/{problem_id}"}
    assert value(found, "gpo_http_requests_total", **problem, status="404") == 3
    assert (
        value(found, "gpo_http_requests_total", method="GET", route="/api/v1/me", status="200") == 1
    )
    assert (
        value(found, "gpo_http_requests_total", method="GET", route="unmatched", status="404") == 1
    )
    assert value(found, "gpo_http_request_duration_seconds_count", **problem) == 3
    assert value(found, "gpo_http_request_duration_seconds_bucket", **problem, le="+Inf") == 3
    assert value(found, "gpo_http_request_duration_seconds_sum", **problem) > 0
    # No series per id or per raw path: the cardinality stays that of the routes.
    assert not [key for key in found if any(missing in v for _, v in key[1])]
    assert ("gpo_db_pool_connections", frozenset({("pool", "write"), ("state", "size")})) in found
    assert found[("gpo_database_unavailable", frozenset())] == 0


async def test_metrics_from_another_address_need_the_bearer_token(database: Any) -> None:
    allowed = f"127.0.0.1,{SCRAPER_TOKEN}"
    async with app_with(database, gpo_metrics_allow=allowed) as app, client(app, PUBLIC) as outside:
        problem_of(await outside.get("/metrics"), 404)
        wrong = {"Authorization": "Bearer " + "x" * 47}
        problem_of(await outside.get("/metrics", headers=wrong), 404)
        scraped = await outside.get(
            "/metrics", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"}
        )
        assert scraped.status_code == 200
        assert "gpo_http_requests_total" in scraped.text


async def test_rate_limit_refusals_are_counted(database: Any) -> None:
    async with app_with(
        database, gpo_metrics_allow="127.0.0.1", gpo_auth_failures_per_minute=2
    ) as app:
        async with client(app, PUBLIC) as guesser:
            bad = {"Authorization": "Bearer gpo_not-a-real-token-0123456789"}
            statuses = [
                (await guesser.get("/api/v1/me", headers=bad)).status_code for _ in range(4)
            ]
        assert statuses == [401, 401, 429, 429]
        async with client(app) as operator:
            found = samples((await operator.get("/metrics")).text)
    assert value(found, "gpo_rate_limit_refusals_total", limit="auth_failures") == 2
    assert value(found, "gpo_rate_limit_refusals_total", limit="token") == 0


def test_a_metrics_allow_entry_that_is_neither_address_nor_token_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GPO_METRICS_ALLOW", "10.0.0.0/8,secret")
    with pytest.raises(SystemExit) as stopped:
        load_settings()
    assert stopped.value.code == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("gpo: invalid configuration: GPO_METRICS_ALLOW: ")
    assert "secret" not in line.partition("GPO_METRICS_ALLOW")[2].replace("'secret'...", "")


# --- the access line --------------------------------------------------------------------------


def access_lines(out: str) -> list[dict[str, Any]]:
    lines = []
    for line in out.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("logger") == "app.access":
                lines.append(record)
    return lines


async def test_the_access_line_names_the_client_with_a_millisecond_rfc3339_time(
    database: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    async with app_with(database) as app, client(app, PUBLIC) as http:
        capsys.readouterr()
        await http.get("/health")
    (line,) = access_lines(capsys.readouterr().out)
    assert line["client"] == PUBLIC[0]
    assert line["path"] == "/health"
    # 2026-12-01T13:45:36.832+00:00
    date, _, time = line["time"].partition("T")
    assert len(date) == 10
    assert len(time) == len("13:45:36.832+00:00")
    assert time.endswith("+00:00")


@pytest.fixture
def served(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.mark.commits
@pytest.mark.parametrize(
    ("trusted", "seen"),
    [("127.0.0.1", "198.51.100.4"), ("10.9.9.9", "127.0.0.1")],
    ids=["from-a-trusted-proxy", "from-anyone-else"],
)
async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    served: FastAPI, trusted: str, seen: str, caplog: pytest.LogCaptureFixture
) -> None:
    with live_server(served, proxy_headers=True, forwarded_allow_ips=trusted) as (host, port):
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
            answered = await http.get("/health", headers={"X-Forwarded-For": "198.51.100.4"})
        expect(answered, 200)
        await asyncio.sleep(0.05)  # the line is written as the response ends
    lines = [
        record.fields  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "app.access" and record.fields["path"] == "/health"  # type: ignore[attr-defined]
    ]
    assert [line["client"] for line in lines] == [seen]


async def test_the_outbox_and_webhook_deliveries_are_watched(database: Any, world: Any) -> None:
    """Outbox lag, deliveries waiting and disabled endpoints, read from the database at each
    scrape (whichever process runs the worker)."""
    from app import worker
    from tests.intake import submit, triage

    async with app_with(database, gpo_metrics_allow="127.0.0.1") as app, client(app) as http:
        api = Api(http, BOOTSTRAP_TOKEN)
        hook = {"url": "http://127.0.0.1:9/refused", "events": ["report.triaged"]}
        expect(await api.post(world.landlord_partner, "/webhooks", json=hook), 201)
        report = await submit(api, world.landlord_partner)
        expect(await triage(api, world.facilitator, report, "create_problem"), 200)
        before = samples((await http.get("/metrics")).text)
        async with worker.http_client() as sender:
            await worker.run_once(database, database.settings, sender)  # refused: pending
        after = samples((await http.get("/metrics")).text)
    # Before the worker ran, the triage's event waits; after, nothing does.
    assert found_in(before, "gpo_outbox_lag_seconds") > 0
    assert found_in(before, "gpo_webhook_deliveries", status="pending") == 0
    assert found_in(after, "gpo_outbox_lag_seconds") == 0
    # Refused: tried once, waiting for its retry.
    assert value(after, "gpo_webhook_deliveries", status="pending") == 0
    assert value(after, "gpo_webhook_deliveries", status="retrying") == 1
    assert value(after, "gpo_webhook_deliveries", status="failed") == 0
    assert ("gpo_webhooks_disabled", frozenset()) in after
