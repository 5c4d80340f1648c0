"""The benchmark's run: the service and its floor side by side, under wrk.

    .venv/bin/python scripts/bench_run.py run [--duration 10] [--routes list,detail,...]
    .venv/bin/python scripts/bench_run.py capture [--print]

`run` reads the world `scripts/bench_seed.py` wrote (tokens, the secret key the tokens are
hashed with, ids), starts the service as scripts/run does (uvicorn, one worker,
`app.main:create_app --factory`, rate limits off) and, on PostgreSQL, the floor
(`scripts/bench_floor.py`: Starlette + asyncpg + orjson sending the same statements).
Before measuring it checks the floor: the statements it sends must be the service's
(compared in process, as `capture` does) and its answers the same bytes (fetched from
both servers); a route where either differs is flagged and its ratio marked invalid. Then,
route by route, wrk loads the service and the floor in turn (`wrk -t1 -c16 --latency`, a
Lua script making each request: rotating ids, unique Idempotency-Keys and bodies), and a
table gives req/s and p50/p95/p99 for both and their ratio; then the service's resident
memory. On SQLite there is no floor: the service's numbers only.

`capture` prints the statements each route sends, the service's and the floor's, and
where they differ (`--print`: every statement with its parameters).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = PROJECT_ROOT / "scripts"
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(1, str(SCRIPTS))

COMMUNE = "57463"
YEAR = 2025
REPORT_BODY = (
    '{"category":"hall_occupation","commune_code":"57463",'
    '"description":"Regroupements dans le hall, signalement %s.",'
    '"location":{"lat":%.6f,"lon":%.6f}}'
)


@dataclass(frozen=True)
class BenchRoute:
    key: str
    label: str
    method: str
    path: str
    caller: str

    def lua(self, world: dict[str, Any], nonce: str) -> str:
        """The wrk script: its requests, and a summary line wrk's own output lacks (p95)."""
        token = world["tokens"][self.caller]
        lines = [
            f'wrk.headers["Authorization"] = "Bearer {token}"',
            'wrk.headers["Accept"] = "application/json"',
        ]
        if self.key == "detail":
            ids = ", ".join(f'"{i}"' for i in world["partner_problem_ids"])
            lines += [
                f"local ids = {{{ids}}}",
                "local n = 0",
                "request = function()",
                "  n = n + 1",
                '  return wrk.format("GET", "/api/v1/problems/" .. ids[(n % #ids) + 1])',
                "end",
            ]
        elif self.method == "POST":
            lines += [
                'wrk.headers["Content-Type"] = "application/json"',
                "local n = 0",
                f'local nonce = "{nonce}"',
                "math.randomseed(os.time())",
                # wrk.format takes these headers instead of wrk.headers, not with them.
                "local headers = {}",
                "for name, value in pairs(wrk.headers) do headers[name] = value end",
                "request = function()",
                "  n = n + 1",
                "  local key = nonce .. '-' .. n",
                '  headers["Idempotency-Key"] = key',
                f"  local body = string.format('{REPORT_BODY}', key,"
                " 49.10 + math.random() * 0.04, 6.15 + math.random() * 0.05)",
                '  return wrk.format("POST", nil, headers, body)',
                "end",
            ]
        lines += [
            "done = function(summary, latency, requests)",
            "  local e = summary.errors",
            '  io.write(string.format("BENCH requests=%d duration=%d p50=%d p95=%d p99=%d '
            'non2xx=%d socket=%d\\n", summary.requests, summary.duration, '
            "latency:percentile(50), latency:percentile(95), latency:percentile(99), "
            "e.status, e.connect + e.read + e.write + e.timeout))",
            "end",
        ]
        return "\n".join(lines) + "\n"


ROUTES = [
    BenchRoute(
        "list_commander",
        f"GET /problems?status=open&commune_code={COMMUNE} (commander)",
        "GET",
        f"/api/v1/problems?status=open&commune_code={COMMUNE}",
        "commander",
    ),
    BenchRoute(
        "list_partner",
        f"GET /problems?status=open&commune_code={COMMUNE} (landlord partner)",
        "GET",
        f"/api/v1/problems?status=open&commune_code={COMMUNE}",
        "partner",
    ),
    BenchRoute("detail", "GET /problems/{id} (partner)", "GET", "/api/v1/problems/{id}", "partner"),
    BenchRoute(
        "actions",
        "GET /actions?overdue=true (commander)",
        "GET",
        "/api/v1/actions?overdue=true",
        "commander",
    ),
    BenchRoute(
        "reports", "POST /reports, Idempotency-Key (partner)", "POST", "/api/v1/reports", "partner"
    ),
    BenchRoute(
        "overview", "GET /stats/overview (commander)", "GET", "/api/v1/stats/overview", "commander"
    ),
    BenchRoute(
        "annual",
        f"GET /evaluations/annual?year={YEAR} (commander)",
        "GET",
        f"/api/v1/evaluations/annual?year={YEAR}",
        "commander",
    ),
]
BY_KEY = {route.key: route for route in ROUTES}


def example_path(route: BenchRoute, world: dict[str, Any], n: int = 0) -> str:
    if route.key == "detail":
        ids = world["partner_problem_ids"]
        return route.path.replace("{id}", ids[n % len(ids)])
    return route.path


def example_body(nonce: str) -> bytes:
    return (REPORT_BODY % (nonce, 49.11, 6.17)).encode()


# --- Capturing statements, in process --------------------------------------------------------


def normal(sql: str) -> str:
    return " ".join(sql.split())


async def service_statements(
    world: dict[str, Any], url: str, routes: list[BenchRoute]
) -> dict[str, list[tuple[str, Any]]]:
    """What the service hands asyncpg for each route (its second call: caches warm)."""
    import httpx
    from sqlalchemy import event

    from app.config import Settings
    from app.main import create_app

    settings = Settings(
        database_url=url,
        gpo_secret_key=world["secret_key"],
        gpo_rate_limit_per_minute=1_000_000_000,
        gpo_log_level="WARNING",
        gpo_demo_data=False,
    )
    app = create_app(settings)
    found: dict[str, list[tuple[str, Any]]] = {}
    async with app.router.lifespan_context(app):
        engine = app.state.database.engine.sync_engine
        log: list[tuple[str, Any]] = []
        # Only the requests' statements: not those of the app's start-up tasks (the purge
        # of idempotency keys) running beside them.
        ours = asyncio.current_task()

        def record(statement: str, parameters: Any = None) -> None:
            if asyncio.current_task() is ours:
                log.append((statement, parameters))

        def on_execute(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
            record(statement, parameters)

        # And the hot reads' statements, which `app.core.db.fetch_rows` sends straight to
        # the request's driver connection (SQLAlchemy's own go through prepared statements).
        import asyncpg

        driver_fetch = asyncpg.Connection.fetch

        async def recorded_fetch(self: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
            record(statement, args)
            return await driver_fetch(self, statement, *args, **kwargs)

        asyncpg.Connection.fetch = recorded_fetch  # type: ignore[method-assign]
        # And those sent by `execute` (a read's access-log entry after its transaction, the
        # audit seal, the claim's savepoint), but for the transaction's own, recorded as
        # BEGIN, COMMIT and ROLLBACK.
        driver_execute = asyncpg.Connection.execute
        quiet: set[Any] = set()  # the tasks within the transaction's own methods

        async def recorded_execute(self: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
            if asyncio.current_task() not in quiet:
                record(statement, args)
            return await driver_execute(self, statement, *args, **kwargs)

        asyncpg.Connection.execute = recorded_execute  # type: ignore[method-assign]
        event.listen(engine, "before_cursor_execute", on_execute)
        # BEGIN, COMMIT and ROLLBACK as the driver sends them: SQLAlchemy's adapter and
        # `app.core.db.RequestSession` both end up in asyncpg's Transaction.
        transaction_methods = {
            name: getattr(asyncpg.transaction.Transaction, name)
            for name in ("start", "commit", "rollback")
        }
        for name, said in (("start", "BEGIN"), ("commit", "COMMIT"), ("rollback", "ROLLBACK")):
            setattr(
                asyncpg.transaction.Transaction,
                name,
                _recorded(transaction_methods[name], said, record, quiet),
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for route in routes:
                for _ in range(2):
                    log.clear()
                    await send(http, route, world)
                found[route.key] = list(log)
    asyncpg.Connection.fetch = driver_fetch  # type: ignore[method-assign]
    asyncpg.Connection.execute = driver_execute  # type: ignore[method-assign]
    for name, method in transaction_methods.items():
        setattr(asyncpg.transaction.Transaction, name, method)
    return found


def _recorded(
    method: Callable[..., Any], said: str, record: Callable[..., None], quiet: set[Any]
) -> Callable[..., Any]:
    async def recorded(self: Any) -> Any:
        record(said)
        task = asyncio.current_task()
        quiet.add(task)
        try:
            return await method(self)
        finally:
            quiet.discard(task)

    return recorded


async def floor_statements(
    world: dict[str, Any], url: str, routes: list[BenchRoute]
) -> dict[str, list[str]]:
    import bench_floor
    import httpx

    app = bench_floor.create_app(url, world["secret_key"])
    found: dict[str, list[str]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for route in routes:
                for _ in range(2):
                    bench_floor.TRACE = []
                    await send(http, route, world)
                found[route.key] = bench_floor.TRACE or []
                bench_floor.TRACE = None
    return found


async def send(http: Any, route: BenchRoute, world: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {world['tokens'][route.caller]}"}
    if route.method == "POST":
        nonce = f"capture-{uuid.uuid4().hex}"
        headers |= {"Idempotency-Key": nonce, "Content-Type": "application/json"}
        return await http.post(route.path, content=example_body(nonce), headers=headers)
    return await http.get(example_path(route, world), headers=headers)


def compare_statements(
    world: dict[str, Any], url: str, routes: list[BenchRoute], *, show: bool
) -> dict[str, bool]:
    """Per route: does the floor send what the service sends? Prints the differences."""
    service = asyncio.run(service_statements(world, url, routes))
    floor = asyncio.run(floor_statements(world, url, routes))
    same: dict[str, bool] = {}
    for route in routes:
        theirs = [normal(sql) for sql, _ in service[route.key]]
        ours = [normal(sql) for sql in floor[route.key]]
        same[route.key] = theirs == ours
        if show:
            print(f"\n== {route.label}: {len(theirs)} statements")
            for sql, parameters in service[route.key]:
                print(f"-- {sql}")
                if parameters:
                    print(f"   parameters: {parameters!r}"[:2000])
        if not same[route.key]:
            print(f"\n!! {route.label}: the floor's statements differ from the service's:")
            for line in difflib.unified_diff(ours, theirs, "floor", "service", lineterm="", n=1):
                print(f"   {line}"[:600])
    return same


# --- Servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mib(self) -> tuple[float, float]:
        """Resident memory now and at its peak, MiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
        return int(values["VmRSS"]) / 1024, int(values["VmHWM"]) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def service_environment(world: dict[str, Any], url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPO_")}
    env.pop("DATABASE_URL", None)
    return env | {
        "DATABASE_URL": url,
        "BENCH_DATABASE_URL": url,
        "GPO_SECRET_KEY": world["secret_key"],
        "GPO_DEMO_DATA": "0",
        "GPO_LOG_LEVEL": "WARNING",
        # Rate limits off: one token makes every request.
        "GPO_RATE_LIMIT_PER_MINUTE": "1000000000",
        "GPO_AUTH_FAILURES_PER_MINUTE": "1000000000",
        "GPO_ANONYMOUS_RATE_PER_MINUTE": "1000000000",
    }


def prestart(env: dict[str, str]) -> None:
    """The service's own start-up task (migrations), as scripts/run runs it."""
    subprocess.run(  # noqa: S603 - our own command
        [str(VENV_BIN / "python"), "-m", "app.cli", "prestart"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
    )


def start(
    name: str, arguments: list[str], env: dict[str, str], folder: Path, cwd: Path = PROJECT_ROOT
) -> Server:
    """uvicorn serving `arguments` from `cwd` (its `app` package: another checkout's for
    `bench ab`)."""
    port = free_port()
    log = folder / f"{name}.log"
    command = [
        str(VENV_BIN / "uvicorn"),
        *arguments,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own uvicorn
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(name, port, process, log)
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"{name} did not start:\n{log.read_text()[-3000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{server.base}/health", timeout=1),  # noqa: S310
        ):
            return server
        time.sleep(0.1)
    server.stop()
    raise SystemExit(f"{name} did not answer /health within 30 s")


def fetch(
    server: Server, route: BenchRoute, world: dict[str, Any], n: int = 0
) -> tuple[int, bytes]:
    token = world["tokens"][route.caller]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None
    if route.method == "POST":
        nonce = f"parity-{server.name}-{uuid.uuid4().hex}"
        headers |= {"Content-Type": "application/json", "Idempotency-Key": nonce}
        data = example_body("parity")
    request = urllib.request.Request(  # noqa: S310 - our own servers
        server.base + example_path(route, world, n), data=data, headers=headers, method=route.method
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def alone_ms(server: Server, route: BenchRoute, world: dict[str, Any]) -> float:
    """A request with no other of this benchmark's running (the median of three): the
    route's own cost, apart from queueing."""
    times = []
    for n in range(3):
        started = time.perf_counter()
        fetch(server, route, world, n + 1)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[1]


VARYING = ("id", "reference", "created_at", "updated_at")


def comparable(route: BenchRoute, body: bytes) -> bytes:
    """A POST's answer without what each creation makes anew (id, reference, instants)."""
    if route.method != "POST":
        return body
    try:
        value = json.loads(body)
    except ValueError:
        return body
    if isinstance(value, dict):
        for name in VARYING:
            if name in value:
                value[name] = f"<{name}>"
    return json.dumps(value).encode()


def same_answers(service: Server, floor: Server, route: BenchRoute, world: dict[str, Any]) -> bool:
    for n in range(3 if route.key == "detail" else 1):
        s_status, s_body = fetch(service, route, world, n)
        f_status, f_body = fetch(floor, route, world, n)
        if s_status >= 400:
            print(f"!! {route.label}: the service answers {s_status}: {s_body[:300]!r}")
            return False
        a, b = comparable(route, s_body), comparable(route, f_body)
        if (s_status, a) != (f_status, b):
            at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
            at = min(len(a), len(b)) if at is None else at
            print(
                f"!! {route.label}: the floor's answer differs from the service's "
                f"({f_status} vs {s_status}, {len(b)} vs {len(a)} bytes, first at byte {at}):\n"
                f"   service: {a[max(0, at - 80) : at + 80]!r}\n"
                f"   floor:   {b[max(0, at - 80) : at + 80]!r}"
            )
            return False
    return True


# --- wrk ----------------------------------------------------------------------------------


@dataclass
class Measure:
    rps: float
    p50: float
    p95: float
    p99: float
    requests: int
    non2xx: int
    socket_errors: int


def run_wrk(
    server: Server,
    route: BenchRoute,
    world: dict[str, Any],
    seconds: float,
    folder: Path,
    connections: int = 16,
) -> Measure:
    nonce = f"{server.name}-{secrets.token_hex(6)}"
    script = folder / f"{route.key}-{nonce}.lua"
    script.write_text(route.lua(world, nonce))
    url = server.base + (route.path if route.key != "detail" else "/api/v1/problems")
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    match = re.search(
        r"BENCH requests=(\d+) duration=(\d+) p50=(\d+) p95=(\d+) p99=(\d+) "
        r"non2xx=(\d+) socket=(\d+)",
        done.stdout,
    )
    if done.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed on {route.label}:\n{done.stdout}\n{done.stderr}")
    requests, duration, p50, p95, p99, non2xx, socket_errors = (int(g) for g in match.groups())
    return Measure(
        rps=requests / (duration / 1e6),
        p50=p50 / 1000,
        p95=p95 / 1000,
        p99=p99 / 1000,
        requests=requests,
        non2xx=non2xx,
        socket_errors=socket_errors,
    )


@dataclass
class Row:
    route: BenchRoute
    service: Measure
    floor: Measure | None = None
    valid: bool = True
    notes: list[str] = field(default_factory=list)
    load: str = ""
    alone: dict[str, float] = field(default_factory=dict)


def ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(rows: list[Row], with_floor: bool) -> str:
    head = ["route", "service req/s", "p50 ms", "p95 ms", "p99 ms"]
    if with_floor:
        head += ["floor req/s", "p50 ms", "p95 ms", "p99 ms", "service/floor"]
    head += ["alone ms", "load"]
    lines = [head]
    for row in rows:
        s = row.service
        cells = [row.route.label, f"{s.rps:.1f}", ms(s.p50), ms(s.p95), ms(s.p99)]
        if with_floor and row.floor is not None:
            f = row.floor
            ratio = f"{s.rps / f.rps:.2f}" if f.rps else "-"
            if not row.valid:
                ratio += " (invalid)"
            cells += [f"{f.rps:.1f}", ms(f.p50), ms(f.p95), ms(f.p99), ratio]
        cells.append(" / ".join(ms(row.alone[n]) for n in ("service", "floor") if n in row.alone))
        cells.append(row.load)
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        out.append(
            "| "
            + " | ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(line)
            )
            + " |"
        )
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def run(args: argparse.Namespace) -> int:
    world = json.loads(Path(args.world).read_text(encoding="utf-8"))
    url = args.database_url or world["database_url"]
    routes = [BY_KEY[key] for key in args.routes.split(",")] if args.routes else ROUTES
    if shutil.which("wrk") is None:
        raise SystemExit("bench run: wrk is not installed (apt-get install wrk)")
    postgres = url.startswith(("postgresql", "postgres"))
    env = service_environment(world, url)
    prestart(env)
    statements_ok = dict.fromkeys((r.key for r in routes), True)
    if postgres and not args.no_floor:
        print("comparing the statements the service and the floor send...", flush=True)
        statements_ok = compare_statements(world, url, routes, show=False)
    print(
        f"{world['problems']:,} problems on {url.split(':', 1)[0]}; wrk -t1 -c16 "
        f"-d{args.duration}s per route and server; load average {load_average()}",
        flush=True,
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gpo-bench-") as tmp:
        folder = Path(tmp)
        service = start(
            "service",
            [
                "app.main:create_app",
                "--factory",
                "--http",
                "app.core.server:BoundedHttpToolsProtocol",
            ],
            env,
            folder,
        )
        floor = None
        try:
            if postgres and not args.no_floor:
                floor = start(
                    "floor",
                    ["bench_floor:create_app", "--factory", "--app-dir", str(SCRIPTS)],
                    env,
                    folder,
                )
            for index, route in enumerate(routes):
                load = load_average().split()[0]
                notes = []
                valid = True
                if floor is not None:
                    if not statements_ok[route.key]:
                        valid = False
                        notes.append("statements differ")
                    if not same_answers(service, floor, route, world):
                        valid = False
                        notes.append("answers differ")
                warm = max(1.0, args.duration / 5)
                order = [service, floor] if floor is not None else [service]
                if index % 2:
                    order.reverse()
                measured: dict[str, Measure] = {}
                alone: dict[str, float] = {}
                for server in order:
                    alone[server.name] = alone_ms(server, route, world)
                    run_wrk(server, route, world, warm, folder)
                    measured[server.name] = run_wrk(server, route, world, args.duration, folder)
                row = Row(route, measured["service"], measured.get("floor"), valid, notes, load)
                row.alone = alone
                for name, m in measured.items():
                    if m.non2xx or m.socket_errors:
                        row.notes.append(f"{name}: {m.non2xx} non-2xx, {m.socket_errors} errors")
                        row.valid = False
                rows.append(row)
                line = f"  {route.label}: service {row.service.rps:.1f} req/s"
                if row.floor is not None:
                    line += f", floor {row.floor.rps:.1f} req/s"
                print(line + (f"  [{'; '.join(row.notes)}]" if row.notes else ""), flush=True)
            rss, peak = service.rss_mib()
            floor_rss = floor.rss_mib() if floor is not None else None
        finally:
            service.stop()
            if floor is not None:
                floor.stop()
    print()
    print(table(rows, floor is not None))
    print(
        "alone ms: a request by itself, before the load (median of 3; service / floor); "
        "load: the 1-minute load average when the route's runs began "
        f"({os.cpu_count()} CPUs: above that, other work shared the machine)"
    )
    print(f"\nservice RSS after the runs: {rss:.0f} MiB (peak {peak:.0f} MiB)", end="")
    if floor_rss is not None:
        print(f"; floor {floor_rss[0]:.0f} MiB", end="")
    print(f"; load average {load_average()}")
    for row in rows:
        if row.notes:
            print(f"  note, {row.route.label}: {'; '.join(row.notes)}")
    results = {
        "at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "database": url.split(":", 1)[0],
        "problems": world["problems"],
        "duration": args.duration,
        "service_rss_mib": round(rss),
        "service_peak_rss_mib": round(peak),
        "rows": [
            {
                "route": row.route.key,
                "label": row.route.label,
                "service": row.service.__dict__,
                "floor": row.floor.__dict__ if row.floor else None,
                "valid": row.valid,
                "notes": row.notes,
                "load_average": row.load,
                "alone_ms": {name: round(v, 1) for name, v in row.alone.items()},
            }
            for row in rows
        ],
    }
    out = Path(args.results) if args.results else None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1), encoding="utf-8")
        print(f"results in {out}")
    return 0


def capture(args: argparse.Namespace) -> int:
    world = json.loads(Path(args.world).read_text(encoding="utf-8"))
    url = args.database_url or world["database_url"]
    if not url.startswith(("postgresql", "postgres")):
        raise SystemExit("bench capture: the floor is PostgreSQL's only")
    routes = [BY_KEY[key] for key in args.routes.split(",")] if args.routes else ROUTES
    same = compare_statements(world, url, routes, show=args.print)
    print()
    for route in routes:
        print(f"{'same' if same[route.key] else 'DIFFERENT':>9}  {route.label}")
    return 0 if all(same.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    default_world = str(PROJECT_ROOT / "var" / "bench" / "world.json")
    keys = ",".join(BY_KEY)
    for name in ("run", "capture"):
        sub = commands.add_parser(name)
        sub.add_argument("--world", default=default_world, help="what bench seed wrote")
        sub.add_argument("--database-url", help="default: the world's")
        sub.add_argument("--routes", help=f"comma-separated, among {keys} (default: all)")
    run_parser = commands.choices["run"]
    run_parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    run_parser.add_argument("--no-floor", action="store_true", help="the service alone")
    run_parser.add_argument("--results", help="also write the results to this JSON file")
    commands.choices["capture"].add_argument(
        "--print", action="store_true", help="every statement, with its parameters"
    )
    args = parser.parse_args(argv)
    return run(args) if args.command == "run" else capture(args)


if __name__ == "__main__":
    sys.exit(main())
