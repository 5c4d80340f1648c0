"""The application: configuration, middleware, routers, start-up and shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app import worker
from app.actions.router import router as actions_router
from app.config import Settings, load_settings
from app.console.rendering import STATIC, VersionedStaticFiles, environment
from app.console.router import router as console_router
from app.core.db import Database, Outage, is_unavailable
from app.core.errors import UNAVAILABLE_RETRY_AFTER, install_error_handlers
from app.core.headers import CompressPages, SecurityHeadersMiddleware
from app.core.metrics import Metrics, MetricsAccess, metrics_endpoint
from app.core.openapi import install_openapi
from app.core.pagination import Paginator
from app.core.ratelimit import RateLimiter
from app.core.requests import RequestContextMiddleware, configure_logging
from app.core.routing import add_routes
from app.figures.router import router as figures_router
from app.governance.router import router as governance_router
from app.gpos.router import router as gpos_router
from app.identity import service as identity
from app.identity.charter import Charter
from app.identity.dependencies import bearer
from app.identity.router import router as identity_router
from app.indicators.router import router as indicators_router
from app.mail import service as mail
from app.meetings.minutes import style_digest as minutes_style_digest
from app.meetings.router import router as meetings_router
from app.open311.boundary import Open311Boundary
from app.open311.router import router as open311_router
from app.open311.schemas import Open311Error
from app.problems.router import router as problems_router
from app.reference.router import router as reference_router
from app.reports.router import router as reports_router
from app.webhooks import service as webhooks
from app.webhooks.router import router as webhooks_router

logger = logging.getLogger("app")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A load balancer's probe gets an answer in this time, whatever the database does.
READY_WITHIN_SECONDS = 1.0

DESCRIPTION = """
Case management for the GPOs (*groupes de partenariat opérationnel*) of the Metz security
contract: problems raised in meetings, landlords' and partners' reports, actions assigned to
partners, meetings, indicators and the annual evaluation.

Every `/api/v1` call needs `Authorization: Bearer gpo_...`. Errors are RFC 9457
`application/problem+json`. Lists are keyset-paginated (`limit`, `cursor`, `next_cursor`).
Mutable resources carry a `version` served as a strong `ETag`; send it back in `If-Match`.
Every `POST` honours `Idempotency-Key`.
"""


def migrations_head() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


async def _sync_bootstrap_admin(database: Database) -> None:
    try:
        async with database.session(write=True) as session:
            await identity.sync_bootstrap_admin(session, database.settings)
            await session.commit()
    except IntegrityError:
        # Another worker created the same rows at the same moment.
        logger.info("bootstrap admin already synchronised by another worker")


_pending_checks: set[asyncio.Future[str | None]] = set()


def _forget_check(check: asyncio.Future[str | None]) -> None:
    _pending_checks.discard(check)
    if not check.cancelled():
        check.exception()  # retrieved: a late failure is not reported as never retrieved


async def _schema_version(database: Database) -> str | None:
    async with database.session(write=False) as session:
        version: str | None = await session.scalar(text("SELECT version_num FROM alembic_version"))
        return version


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.gpo_log_level)
    database = Database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await _sync_bootstrap_admin(database)
        stop_worker = asyncio.Event()
        deliveries = (
            asyncio.create_task(worker.run(database, settings, stop_worker))
            if settings.worker_in_process
            else None
        )
        # What start-up built (modules, routes, the models' metadata) lives as long as the
        # process: out of the collector's reach, a full collection no longer walks it. Those
        # walks were the tail of every route's latency (the overview at 1M problems, 16
        # clients: p95 79 -> 37 ms, p99 108 -> 44 ms; README, issue 10). Collected first,
        # so that only what is alive is kept.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            stop_worker.set()
            if deliveries is not None:
                await deliveries  # the deliveries in flight finish
            await database.dispose()

    app = FastAPI(
        title="GPO case management — Metz security contract",
        version="1.0.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        # Served from the service's own copy of Swagger UI (below), not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.charter = Charter.of(settings)
    app.state.database = database
    app.state.paginator = Paginator(settings.gpo_secret_key.get_secret_value().encode())
    app.state.rate_limiter = RateLimiter(settings.gpo_rate_limit_per_minute)
    app.state.auth_failures = RateLimiter(settings.gpo_auth_failures_per_minute)
    app.state.anonymous_limiter = RateLimiter(settings.gpo_anonymous_rate_per_minute)
    app.state.migrations_head = migrations_head()
    app.state.outage = Outage()
    app.state.metrics = Metrics(app.state)
    app.state.metrics_access = MetricsAccess.parse(settings.gpo_metrics_allow)
    app.state.metrics.add_source(
        "gpo_outbox_lag_seconds",
        "Age of the oldest change not yet made into webhook deliveries.",
        webhooks.outbox_lag_seconds,
    )
    app.state.metrics.add_source(
        "gpo_webhook_deliveries",
        "Webhook deliveries waiting for a first attempt (pending), for a retry after a "
        "failed attempt (retrying), or given up (failed).",
        webhooks.deliveries_waiting,
    )
    app.state.metrics.add_source(
        "gpo_mails",
        "E-mails of the mail outbox, by status (pending, sent, logged, failed, cancelled).",
        mail.mails_by_status,
    )
    app.state.metrics.add_source(
        "gpo_webhooks_disabled",
        "Webhooks disabled by the service after a day of failed deliveries.",
        webhooks.webhooks_disabled,
    )

    install_error_handlers(app)
    app.add_middleware(CompressPages, prefixes=("/console", "/static/", "/docs"))
    app.add_middleware(
        SecurityHeadersMiddleware,
        tiles_origin=settings.map_tiles_origin,
        style_hashes=(minutes_style_digest(),),
    )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.gpo_max_body_bytes,
        metrics=app.state.metrics,
    )
    app.add_middleware(Open311Boundary, public_url=settings.public_url)

    add_routes(
        app.router,
        identity_router,
        reference_router,
        gpos_router,
        problems_router,
        actions_router,
        meetings_router,
        indicators_router,
        reports_router,
        figures_router,
        webhooks_router,
        governance_router,
        open311_router,
        console_router,
    )
    app.mount("/static", VersionedStaticFiles(directory=STATIC), name="static")
    add_routes(app.router, _health_router())
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    add_routes(app.router, _pages_router())
    install_openapi(app, description=DESCRIPTION, bearer=bearer, extra_models=(Open311Error,))
    return app


def _pages_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=307)

    @router.get("/favicon.ico")
    async def favicon() -> FileResponse:
        return FileResponse(
            STATIC / "vendor" / "dsfr" / "favicon" / "favicon.ico",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        return HTMLResponse(environment.get_template("docs.html").render())

    return router


READY = {"status": "ready", "database": "ok", "migration": "0006", "head": "0006"}
READINESS = {
    "type": "object",
    "required": ["status", "database"],
    "properties": {
        "status": {
            "enum": ["ready", "migrations pending", "unavailable"],
            "description": "`ready` when the database answers at the migrations' head.",
        },
        "database": {"enum": ["ok", "unreachable"], "description": "Whether it answered."},
        "migration": {"type": ["string", "null"], "description": "The database's revision."},
        "head": {"type": ["string", "null"], "description": "The code's latest revision."},
    },
}


def _health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/health",
        summary="Liveness",
        responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
    )
    async def health() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get(
        "/health/ready",
        summary="Readiness",
        responses={
            200: {"content": {"application/json": {"schema": READINESS, "example": READY}}},
            503: {
                "description": "Database unreachable or migrations not at head.",
                "content": {
                    "application/json": {
                        "schema": READINESS,
                        "example": {"status": "unavailable", "database": "unreachable"},
                    }
                },
            },
        },
    )
    async def ready(request: Request) -> JSONResponse:
        """The database answers and its schema is at the migrations' head."""
        database: Database = request.app.state.database
        outage: Outage = request.app.state.outage
        head = request.app.state.migrations_head
        check = asyncio.ensure_future(_schema_version(database))
        # Not `asyncio.timeout`: cancelling waits for the connection's clean-up, which a hung
        # server prolongs. The check is left to end in the background.
        done, _ = await asyncio.wait({check}, timeout=READY_WITHIN_SECONDS)
        if not done:
            _pending_checks.add(check)
            check.add_done_callback(_forget_check)
        try:
            if not done:
                raise TimeoutError("the readiness check did not answer in time")
            current = check.result()
        except Exception as exc:
            if not is_unavailable(exc):
                logger.exception("readiness: the database check failed")
            outage.failed(exc)
            return JSONResponse(
                {"status": "unavailable", "database": "unreachable"},
                503,
                headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
            )
        outage.recovered()
        body = {"status": "ready", "database": "ok", "migration": current, "head": head}
        if current != head:
            body["status"] = "migrations pending"
            return JSONResponse(body, 503)
        return JSONResponse(body)

    return router
