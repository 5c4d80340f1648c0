"""The database away, hung or locked: 503 with Retry-After in seconds, never 500 or a hang,
one warning per incident, and the service back by itself when the database is.

PostgreSQL is taken away through a proxy the test controls (`tests.faults`); SQLite's lock
is held by another process, as a backup or a second writer would hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, literal, select, text
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.core import audit
from app.core.db import Database, built_once, fetch_rows, is_unavailable, savepoint
from app.core.references import Counter
from app.main import create_app
from tests.databases import BOOTSTRAP_TOKEN, settings_for
from tests.faults import Proxy, proxy_to

pytestmark = pytest.mark.commits

# Short timeouts, so that the tests wait about a second where the defaults wait a few.
QUICK = {
    "gpo_db_connect_timeout": 1.0,
    "gpo_db_pool_timeout": 1.0,
    "gpo_db_statement_timeout": 1.0,
    "gpo_sqlite_lock_timeout": 2.0,
    "gpo_db_pool_size": 3,
}
ADMIN = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}


@asynccontextmanager
async def serving(
    settings: Settings, proxy: Proxy | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own on the test's database (through `proxy` if given), started and
    stopped as uvicorn would."""
    url = proxy.url(settings.database_url) if proxy else settings.database_url
    app: FastAPI = create_app(settings_for(url).model_copy(update=QUICK))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gpo.test") as http:
            yield http


def new_user() -> dict[str, str]:
    return {
        "email": f"agent-{uuid.uuid4().hex[:8]}@metz.fr",
        "display_name": "Agent de test",
        "role": "facilitator",
    }


async def within(seconds: float, request: Awaitable[httpx.Response]) -> httpx.Response:
    """The response to `request`, which must come in less than `seconds`."""
    started = time.monotonic()
    response = await request
    took = time.monotonic() - started
    assert took < seconds, f"answered in {took:.2f} s"
    return response


def assert_ok(response: httpx.Response, status: int = 200) -> None:
    assert response.status_code == status, response.text


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["status"] == 503
    assert body["request_id"]
    assert "Traceback" not in response.text


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The service's JSON log lines written so far (the app logs to standard output)."""
    lines = []
    for line in capsys.readouterr().out.splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(line))
    return lines


def outages(lines: list[dict[str, Any]]) -> list[str]:
    return [line["message"] for line in lines if line["logger"] == "app.db"]


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[Proxy]:
    if settings.is_sqlite:
        pytest.skip("a PostgreSQL server to take away")
    async with proxy_to(settings.database_url) as running:
        yield running


# --- PostgreSQL stopped, then back ----------------------------------------------------------


async def test_postgres_down_gives_503_within_a_second_and_one_warning(
    proxy: Proxy, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serving(settings, proxy) as http:
        assert_ok(await http.get("/api/v1/users", headers=ADMIN))
        proxy.refuse()
        for _ in range(5):
            assert_unavailable(await within(1.0, http.get("/api/v1/users", headers=ADMIN)))
        post = http.post("/api/v1/users", json=new_user(), headers=ADMIN)
        assert_unavailable(await within(1.0, post))
        ready = await within(2.0, http.get("/health/ready"))
        assert ready.status_code == 503
        during = log_lines(capsys)
        assert len(outages(during)) == 1, outages(during)
        assert "unavailable" in outages(during)[0]

        proxy.relay()
        assert_ok(await http.post("/api/v1/users", json=new_user(), headers=ADMIN), 201)
        assert_ok(await http.get("/health/ready"))
        after = log_lines(capsys)
        assert [m for m in outages(after) if "available again" in m]
    assert not [line for line in during + after if line["level"] in ("error", "critical")]


async def test_a_write_refused_by_an_outage_leaves_nothing_and_replays_nothing(
    proxy: Proxy, settings: Settings
) -> None:
    """A 503 stores no Idempotency-Key answer: the retry after the outage creates the user."""
    async with serving(settings, proxy) as http:
        assert_ok(await http.get("/api/v1/users", headers=ADMIN))
        body = new_user()
        headers = {**ADMIN, "Idempotency-Key": uuid.uuid4().hex}
        proxy.refuse()
        assert_unavailable(await http.post("/api/v1/users", json=body, headers=headers))
        proxy.relay()
        retried = await http.post("/api/v1/users", json=body, headers=headers)
        assert_ok(retried, 201)
        assert "idempotent-replayed" not in retried.headers
        listed = (await http.get("/api/v1/users", headers=ADMIN, params={"limit": 200})).json()
        assert [u["email"] for u in listed["items"]].count(body["email"]) == 1


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (asyncpg.exceptions.QueryCanceledError("statement timeout"), True),
        (asyncpg.exceptions.CannotConnectNowError("starting up"), True),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), False),
    ],
)
def test_a_driver_error_raised_straight_is_classified_by_its_sqlstate(
    error: Exception, unavailable: bool
) -> None:
    """The access log's append goes straight to asyncpg (`app.governance.chain`): a timeout
    there is still a 503, a refused row still not one."""
    assert is_unavailable(error) is unavailable


async def test_a_read_held_up_in_the_driver_gives_503_and_the_pool_recovers(
    settings: Settings,
) -> None:
    """The hot reads go straight to asyncpg (`app.core.db.fetch_rows`): a statement that
    outlasts its timeout there (the problems locked by a migration, say) is a 503 like any
    other, and every connection of the pool answers the next reads."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's driver")
    async with serving(settings) as http:
        assert_ok(await http.get("/api/v1/problems", headers=ADMIN))
        holder = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
        try:
            locked = holder.transaction()
            await locked.start()
            await holder.execute("LOCK TABLE problems IN ACCESS EXCLUSIVE MODE")
            held_up = await within(4.0, http.get("/api/v1/problems", headers=ADMIN))
            assert_unavailable(held_up)
            await locked.rollback()
        finally:
            await holder.close()
        for _ in range(QUICK["gpo_db_pool_size"] + 2):
            assert_ok(await within(2.0, http.get("/api/v1/problems", headers=ADMIN)))


async def test_a_read_cancelled_in_the_driver_leaves_no_transaction_to_the_next(
    settings: Settings,
) -> None:
    """A client that goes away cancels its request wherever it is, a BEGIN the driver sent
    (`app.core.db.fetch_rows`) included. The connection must not go back to the pool inside
    a transaction the next request would take for its own: its writes, committed as far as
    it knows, would never be seen."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's driver")
    database = Database(settings.model_copy(update={"gpo_db_pool_size": 1}))
    statement = built_once("test: a read to cancel", lambda: select(literal(1)))
    observer = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))

    async def read() -> None:
        async with database.session(write=False) as session:
            await fetch_rows(session, statement, {})
            await asyncio.sleep(10)

    try:
        for turns in range(1, 8):  # the cancellation lands at another await each time
            task = asyncio.create_task(read())
            for _ in range(turns):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            name = f"cancelled-{uuid.uuid4().hex[:12]}"
            async with database.session(write=True) as session:
                await fetch_rows(session, statement, {})
                await session.execute(
                    text("INSERT INTO counters (name, value) VALUES (:name, 1)"), {"name": name}
                )
                await session.commit()
            seen = await observer.fetchval("SELECT value FROM counters WHERE name = $1", name)
            assert seen == 1, f"a write after a read cancelled at turn {turns} was lost"
    finally:
        await observer.close()
        await database.dispose()


_COUNT = insert(Counter.__table__)  # a write `fetch_rows` sends to the driver


@pytest.mark.parametrize("where", ["write", "savepoint", "rollback to it", "seal"])
async def test_a_connection_lost_under_the_drivers_statements_is_unavailable(
    settings: Settings, where: str
) -> None:
    """The statements intake sends to the driver (its writes, the claim's savepoint and the
    rollback to it, the audit seal at commit) fail as SQLAlchemy's would when the server
    has dropped the connection: unavailable (a 503, not a 500), and the connection not
    pooled again."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's driver")
    database = Database(settings.model_copy(update={"gpo_db_pool_size": 1}))
    raised: BaseException | None = None
    try:
        async with database.session(write=True) as session:
            name = f"lost-{uuid.uuid4().hex[:12]}"
            await fetch_rows(session, _COUNT, {"name": name, "value": 1})
            taken = await savepoint(session)
            if where == "seal":
                await audit.insert_event(
                    session,
                    audit.event_row(
                        None, action="test.lost", resource_type="test", resource_id="1", summary="1"
                    ),
                )
            await terminate(
                settings, session.info["driver_held_connection"].pooled.driver_connection
            )
            try:
                if where == "write":
                    await fetch_rows(session, _COUNT, {"name": f"{name}-2", "value": 2})
                elif where == "savepoint":
                    await savepoint(session)
                elif where == "rollback to it":
                    await taken.rollback()
                else:
                    await session.commit()
            except Exception as exc:
                raised = exc
        assert raised is not None
        assert is_unavailable(raised), repr(raised)
        async with database.session(write=False) as session:  # the pool's one connection
            assert (await fetch_rows(session, _COUNT_READ, {}))[0][0] == 1
    finally:
        await database.dispose()


_COUNT_READ = select(literal(1))


async def test_a_connection_lost_under_a_reads_own_statement_is_unavailable(
    settings: Settings,
) -> None:
    """The statement a read writes after its transaction (its access-log entry, on a pooled
    connection of its own: `Database.driver_connection`) fails as unavailable when the
    server has dropped that connection, and the connection is not pooled again."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's driver")
    database = Database(settings.model_copy(update={"gpo_db_pool_size": 1}))

    async def written_after_its_connection_is_lost() -> None:
        async with database.driver_connection() as driver:
            await terminate(settings, driver)
            await driver.execute("SELECT 1")

    try:
        with pytest.raises(DBAPIError) as raised:
            await written_after_its_connection_is_lost()
        assert is_unavailable(raised.value), repr(raised.value)
        async with database.session(write=False) as session:  # the pool's one connection
            assert (await fetch_rows(session, _COUNT_READ, {}))[0][0] == 1
    finally:
        await database.dispose()


async def terminate(settings: Settings, driver: Any) -> None:
    """The server drops the driver's connection, and its goodbye reaches the client."""
    other = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        await other.execute("SELECT pg_terminate_backend($1)", driver.get_server_pid())
    finally:
        await other.close()
    await asyncio.sleep(0.2)


# --- PostgreSQL frozen ----------------------------------------------------------------------


async def test_postgres_frozen_gives_503_within_seconds_and_ready_promptly(
    proxy: Proxy, settings: Settings
) -> None:
    async with serving(settings, proxy) as http:
        assert_ok(await http.get("/api/v1/users", headers=ADMIN))
        proxy.freeze()
        # Pooled connections hang on their statement; new ones hang on connecting; with more
        # requests than connections, the rest wait for the pool: each wait is bounded.
        requests = [http.get("/api/v1/users", headers=ADMIN) for _ in range(6)]
        requests.append(http.post("/api/v1/users", json=new_user(), headers=ADMIN))
        # With 1 s timeouts, the longest is a wait for the pool then a connection: seconds.
        for response in await within(8.0, asyncio.gather(*requests)):
            assert_unavailable(response)
        # Its own timeout is 1 s; bounded, not a hang. On the loaded CI machine, after the
        # burst above, it answered in 2.66 and 2.86 s (where the rest goes is not
        # profiled yet): hence 4 s.
        ready = await within(4.0, http.get("/health/ready"))
        assert ready.status_code == 503

        proxy.relay()
        deadline = time.monotonic() + 10
        while (await http.get("/api/v1/users", headers=ADMIN)).status_code != 200:
            assert time.monotonic() < deadline, "the service did not come back"
        assert_ok(await http.get("/health/ready"))


# --- SQLite locked by another process; reads never wait for writers -------------------------

HOLD_THE_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def sqlite_settings(settings: Settings) -> Settings:
    if not settings.is_sqlite:
        pytest.skip("SQLite's file lock")
    return settings


@asynccontextmanager
async def lock_held_elsewhere(settings: Settings) -> AsyncIterator[None]:
    """The SQLite file's write lock held by another process, until the block ends."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_THE_LOCK, str(settings.sqlite_path), stdout=PIPE
    )
    try:
        assert holder.stdout is not None
        assert (await holder.stdout.readline()).strip() == b"locked"
        yield
    finally:
        holder.kill()
        await holder.wait()


async def test_sqlite_locked_by_another_process_writes_503_reads_and_ready_answer(
    sqlite_settings: Settings,
) -> None:
    async with serving(sqlite_settings) as http:
        async with lock_held_elsewhere(sqlite_settings):
            post = http.post("/api/v1/users", json=new_user(), headers=ADMIN)
            assert_unavailable(await within(4.0, post))  # the lock timeout is 2 s
            assert_ok(await http.get("/api/v1/users", headers=ADMIN))
            assert_ok(await http.get("/health/ready"))
        # Released: writes go through again, with no restart.
        assert_ok(await http.post("/api/v1/users", json=new_user(), headers=ADMIN), 201)


async def test_sqlite_reads_do_not_queue_behind_waiting_writers(
    sqlite_settings: Settings,
) -> None:
    """Ten writers wait for the lock another process holds; reads and readiness answer
    while they are still waiting, from the readers' pool."""
    async with serving(sqlite_settings) as http, lock_held_elsewhere(sqlite_settings):
        writes = [
            asyncio.ensure_future(http.post("/api/v1/users", json=new_user(), headers=ADMIN))
            for _ in range(10)
        ]
        await asyncio.sleep(0.1)  # the writers are waiting now, for 2 s
        for _ in range(5):
            assert_ok(await http.get("/api/v1/users", headers=ADMIN))
        assert_ok(await http.get("/health/ready"))
        assert not [write for write in writes if write.done()], "reads waited for writers"
        for response in await asyncio.gather(*writes):
            assert_unavailable(response)
