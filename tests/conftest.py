"""Test set-up: databases built once per worker, each test in a transaction rolled back.

TEST_DATABASE=sqlite (default) or a postgresql:// URL of a server where scratch databases
may be created. Each pytest-xdist worker (or a serial run) builds its own databases
(`tests.databases`): one at the migrations' head with reference data and the bootstrap
admin, and a copy of it holding the World rows (`tests.world`). A test that requests
`world` runs on the world database, any other on the base one, both times inside one
transaction rolled back at its end, which every request's session joins through a
savepoint. A test marked `commits` (concurrent requests, another app instance on the same
data) runs with real commits on a scratch copy of its own instead.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.api import Api, Caller, World
from tests.console import Person, browser, open_session_for
from tests.databases import BOOTSTRAP_TOKEN, Worker, installed, open_worker, rolled_back
from tests.world import read_world

__all__ = ["BOOTSTRAP_TOKEN"]


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gpo.test")


@pytest.fixture(scope="session")
async def worker() -> AsyncIterator[Worker]:
    target = os.environ.get("TEST_DATABASE", "sqlite")
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with tempfile.TemporaryDirectory(prefix="gpo-test-") as folder:
        async with open_worker(target, worker_id, Path(folder)) as opened:
            yield opened


@pytest.fixture(scope="session")
async def app(worker: Worker) -> AsyncIterator[FastAPI]:
    """One app for the session; each test puts its own database in it (`database`)."""
    application = create_app(worker.base.settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def world_as_read(app: FastAPI, worker: Worker) -> World:
    """The World rows as the API shows them, read once per worker."""
    async with rolled_back(worker.world) as database, asgi_client(app) as http:
        with installed(app, database):
            return await read_world(Api(http, BOOTSTRAP_TOKEN), worker.world_rows)


@pytest.fixture
async def database(
    request: pytest.FixtureRequest, app: FastAPI, worker: Worker
) -> AsyncIterator[Any]:
    """The app's database during this test: the world one if the test uses `world`, else
    the base one, inside a transaction rolled back at the end; with `commits`, a scratch
    copy of its own where commits are real."""
    with_world = "world" in request.fixturenames
    if request.node.get_closest_marker("commits") is None:
        async with rolled_back(worker.world if with_world else worker.base) as rolled:
            with installed(app, rolled):
                yield rolled
        return
    async with worker.scratch(world=with_world) as settings:
        real = Database(settings)
        try:
            with installed(app, real):
                yield real
        finally:
            await real.dispose()


@pytest.fixture
def settings(request: pytest.FixtureRequest, database: Any) -> Settings:
    """The settings of this test's database, to start another app on the same data."""
    if request.node.get_closest_marker("commits") is None:
        pytest.fail(
            "another app cannot see the test's rolled-back transaction: mark the test "
            "@pytest.mark.commits to run it on a database of its own",
            pytrace=False,
        )
    settings: Settings = database.settings
    return settings


@pytest.fixture
async def client(app: FastAPI, database: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as http:
        yield http


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client, BOOTSTRAP_TOKEN)


@pytest.fixture
async def console(app: FastAPI, database: Any) -> AsyncIterator[Callable[..., Awaitable[Person]]]:
    """`await console(caller)`: a browser signed in to the console as the caller's user
    (None: signed out), each with its own cookies, the charter accepted (unless
    `accept_charter=False`)."""
    opened: list[httpx.AsyncClient] = []

    async def open_as(caller: Caller | None, *, accept_charter: bool = True) -> Person:
        client = browser(app)
        opened.append(client)
        if caller is None:
            return Person(client, None)
        secret, csrf = await open_session_for(app, caller, accept_charter=accept_charter)
        client.cookies.set("gpo_session", secret, domain="gpo.test", path="/console")
        return Person(client, caller, csrf)

    try:
        yield open_as
    finally:
        for client in opened:
            await client.aclose()


@pytest.fixture
def world(api: Api, world_as_read: World) -> World:
    """The shared World, its dicts copied so that a test may change them at will."""
    copied = {
        field.name: deepcopy(getattr(world_as_read, field.name))
        for field in dataclasses.fields(World)
        if field.name != "api"
    }
    return World(api=api, **copied)
