"""Operations: the audit trail of a change, and one JSON log line per request."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.core.requests import JsonFormatter
from app.reference import service as reference_service
from tests.api import Api, World, expect, problem_of


async def test_every_change_is_audited_with_who_when_what_and_the_request(
    world: World, app: FastAPI
) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo, title="Avant")
    me = expect(await api.get(world.facilitator, "/me"), 200)
    response = await api.patch(
        world.facilitator,
        f"/problems/{problem['id']}",
        json={"title": "Après", "priority": "urgent"},
        headers={"X-Request-ID": "audit-check-1"},
    )
    expect(response, 200)
    async with app.state.database.session(write=False) as session:
        event = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.resource_id == problem["id"],
                    AuditEvent.action == "problem.update",
                )
            )
        ).one()
    assert event.actor_id is not None
    assert str(event.actor_id) == me["user"]["id"]
    assert event.token_id is not None
    assert event.request_id == "audit-check-1"
    assert event.resource_type == "problem"
    assert event.changes == {"title": ["Avant", "Après"], "priority": ["normal", "urgent"]}
    assert event.at is not None


async def test_a_refused_change_leaves_no_audit_event(world: World, app: FastAPI) -> None:
    api = world.api
    problem = await api.problem(world.facilitator, world.gpo)
    problem_of(
        await api.patch(world.landlord_partner, f"/problems/{problem['id']}", json={"title": "x"}),
        403,
    )
    problem_of(
        await api.patch(world.facilitator, f"/problems/{problem['id']}", json={"title": ""}), 422
    )
    async with app.state.database.session(write=False) as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.resource_id == problem["id"])
            )
        ).all()
    assert actions == ["problem.create"]


async def test_one_json_log_line_per_request(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.access")
    caplog.clear()
    response = await world.api.get(
        world.commander, "/problems", headers={"X-Request-ID": "log-line-check"}
    )
    expect(response, 200)
    (record,) = [r for r in caplog.records if r.name == "app.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "log-line-check"
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/problems"
    assert line["status"] == 200
    assert line["user_id"] == world.commander.id
    assert line["duration_ms"] >= 0


async def test_an_unexpected_failure_is_a_500_problem_without_internals(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("connection string postgresql://secret@db")

    monkeypatch.setattr(reference_service, "get_coded", broken)
    caplog.set_level(logging.ERROR, logger="app.errors")
    response = await api.get(api.admin, "/categories/rodeo", headers={"X-Request-ID": "boom-1"})
    body = problem_of(response, 500)
    assert body["request_id"] == "boom-1"
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    # The log keeps what the client does not see.
    (record,) = [r for r in caplog.records if r.name == "app.errors"]
    assert record.exc_info is not None
    assert "secret" in str(record.exc_info[1])
