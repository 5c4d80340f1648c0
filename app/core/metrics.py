"""Prometheus metrics at `GET /metrics`, for the operator, never for the public.

Requests are counted by route template (never the raw path: ids would make a series per
problem), status and method, with a latency histogram. Pool use, rate-limit refusals and
database outages are read from the app's own objects when Prometheus scrapes.

Access (`GPO_METRICS_ALLOW`): comma-separated addresses or networks (`10.0.0.0/8`), and
bearer tokens (any other entry, 32 characters at least). Anyone else gets 404, as for a
route that does not exist. The address is the client's as uvicorn sees it: the proxy's,
unless it is one of the proxies `FORWARDED_ALLOW_IPS` trusts to set `X-Forwarded-For`.

Each worker process counts its own requests. With several workers, set
`PROMETHEUS_MULTIPROC_DIR` to an empty folder the workers share, and a scrape sums them.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from app.core.errors import problem_response

logger = logging.getLogger("app.metrics")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Source = Callable[[Any], Awaitable[float | dict[str, float]]]
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MIN_TOKEN_LENGTH = 32
UNMATCHED = "unmatched"


@dataclass(frozen=True)
class MetricsAccess:
    networks: tuple[Network, ...]
    tokens: tuple[str, ...]

    @classmethod
    def parse(cls, value: str) -> MetricsAccess:
        """The entries of `GPO_METRICS_ALLOW`; ValueError names an entry that is neither."""
        networks: list[Network] = []
        tokens: list[str] = []
        for entry in (part.strip() for part in value.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if len(entry) < MIN_TOKEN_LENGTH or any(c.isspace() for c in entry):
                raise ValueError(
                    f"{entry[:12]!r}... is neither an address, a network, nor a bearer token "
                    f"of {MIN_TOKEN_LENGTH} characters or more"
                )
            tokens.append(entry)
        return cls(tuple(networks), tuple(tokens))

    def admits(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and any(
            hmac.compare_digest(given.encode(), token.encode()) for token in self.tokens
        ):
            return True
        host = request.client.host if request.client else None
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)


class Metrics:
    """The counters of one app, in a registry of its own (tests run several apps)."""

    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gpo_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gpo_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._sources: list[tuple[str, str, Source]] = []
        self._read: dict[str, float | dict[str, float]] = {}
        self._state_collector = StateCollector(state, self)
        self.registry.register(self._state_collector)

    def add_source(self, name: str, help_text: str, source: Source) -> None:
        """A gauge read from the database at each scrape (`source` returns its samples by
        label value, or a number for a gauge without labels)."""
        self._sources.append((name, help_text, source))

    async def refresh(self, database: Any) -> None:
        """Read the database's gauges, within a second; on failure keep the last values (a
        scrape must answer even while the database does not)."""
        if not self._sources:
            return
        try:
            async with asyncio.timeout(1.0), database.session(write=False) as session:
                for name, _help, source in self._sources:
                    self._read[name] = await source(session)
        except Exception:
            logger.warning("metrics: the database's gauges were not read", exc_info=True)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """One request answered; labelled by the template of the route that answered."""
        method, route = scope["method"], route_of(scope)
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Every worker's counters, summed from the files they write; this process's
            # pool and limiter figures beside them.
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self._state_collector)
            return generate_latest(registry)
        return generate_latest(self.registry)


class StateCollector(Collector):
    """Figures read from the app's objects at scrape time: nothing to update on the way."""

    def __init__(self, state: Any, metrics: Metrics) -> None:
        self.state = state
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for name, help_text, _source in self.metrics._sources:
            read = self.metrics._read.get(name)
            if read is None:
                continue
            if isinstance(read, dict):
                family = GaugeMetricFamily(name, help_text, labels=["status"])
                for label, figure in sorted(read.items()):
                    family.add_metric([label], figure)
                yield family
            else:
                yield GaugeMetricFamily(name, help_text, value=read)
        pool = GaugeMetricFamily(
            "gpo_db_pool_connections",
            "Database connections of this worker's pools: size, in use, idle.",
            labels=["pool", "state"],
        )
        database = self.state.database
        engines = {"write": database.engine, "read": getattr(database, "read_engine", None)}
        for name, engine in engines.items():
            if engine is None or (name == "read" and engine is database.engine):
                continue
            queue = engine.sync_engine.pool
            for state, figure in (
                ("size", queue.size()),
                ("in_use", queue.checkedout()),
                ("idle", queue.checkedin()),
            ):
                pool.add_metric([name, state], figure)
        yield pool

        refusals = CounterMetricFamily(
            "gpo_rate_limit_refusals",
            "Requests refused with 429, by limit: per token, failed authentications per "
            "address, anonymous routes per address.",
            labels=["limit"],
        )
        for name, limiter in (
            ("token", self.state.rate_limiter),
            ("auth_failures", self.state.auth_failures),
            ("anonymous", self.state.anonymous_limiter),
        ):
            refusals.add_metric([name], limiter.refused)
        yield refusals

        outage = self.state.outage
        yield GaugeMetricFamily(
            "gpo_database_unavailable",
            "1 while the database cannot be reached (requests get 503), else 0.",
            value=0 if outage.since is None else 1,
        )
        yield CounterMetricFamily(
            "gpo_database_outages",
            "Times the database became unavailable since the process started.",
            value=outage.count,
        )


def route_of(scope: Scope) -> str:
    """The template of the route that answered (`/api/v1/problems/{problem_id}`)."""
    # FastAPI keeps an included router's routes unprefixed and records the full template
    # in its own part of the scope; a plain Starlette route has it on the route.
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(effective, "path", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


async def metrics_endpoint(request: Request) -> Response:
    access: MetricsAccess = request.app.state.metrics_access
    if not access.admits(request):
        return problem_response(
            404, slug="not-found", title="Not Found", detail="No such resource."
        )
    metrics: Metrics = request.app.state.metrics
    await metrics.refresh(request.app.state.database)
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
