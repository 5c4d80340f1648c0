"""The access log's cost on a list's throughput, measured as `bench run` measures: two
uvicorn servers on the database `bench seed` made, the service as it runs and the same
service with `log_read` replaced by a no-op (`unlogged_app`), loaded in turn by wrk
(`-t1 -c16`) on the commander's list (its pages hold police data: one access-log row a
request). The runs alternate, round after round, so that a machine whose load moves weighs
on both alike; the medians of the rounds are compared.

    ./scripts/bench access-log [--world var/bench/world.json] [--rounds 40] [--duration 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from bench_run import (
    BY_KEY,
    SCRIPTS,
    Server,
    load_average,
    prestart,
    run_wrk,
    service_environment,
    start,
)

SERVICE = ["app.main:create_app", "--factory", "--http", "app.core.server:BoundedHttpToolsProtocol"]
UNLOGGED = ["bench_access_log:unlogged_app", "--factory", "--app-dir", str(SCRIPTS)]
UNLOGGED += SERVICE[2:]


def unlogged_app() -> Any:
    """The service with nothing logged: what the log costs is the difference."""
    from app.governance import service as governance
    from app.main import create_app

    async def no_log(*_args: Any, **_kwargs: Any) -> None:
        return None

    governance.log_read = no_log  # type: ignore[assignment]
    return create_app()


def cpu_seconds(pid: int) -> float:
    """User and system time of a process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """Of every PostgreSQL process of the machine (its backends, its WAL writer...)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip().startswith("postgres"):
                    total += cpu_seconds(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return total


def main(args: argparse.Namespace) -> int:

    world = json.loads(Path(args.world).read_text(encoding="utf-8"))
    env = service_environment(world, world["database_url"])
    prestart(env)
    route = BY_KEY["list_commander"]
    rates: dict[str, list[float]] = {"logged": [], "not logged": []}
    p99: dict[str, list[float]] = {"logged": [], "not logged": []}
    cpu: dict[str, list[float]] = {"logged": [], "not logged": []}  # ms a request
    with tempfile.TemporaryDirectory(prefix="gpo-bench-") as tmp:
        folder = Path(tmp)
        servers: dict[str, Server] = {
            "logged": start("service", SERVICE, env, folder),
            "not logged": start("unlogged", UNLOGGED, env, folder),
        }
        try:
            print(
                f"{route.label}, {world['problems']:,} problems; wrk -t1 -c16, "
                f"{args.rounds} rounds x {args.duration:g} s a server; "
                f"load average {load_average()}",
                flush=True,
            )
            for server in servers.values():  # warm up
                run_wrk(server, route, world, 2, folder)
            for round_ in range(args.rounds):
                order = list(servers.items())
                if round_ % 2:
                    order.reverse()
                for name, server in order:
                    before = cpu_seconds(server.process.pid) + postgres_cpu_seconds()
                    measure = run_wrk(server, route, world, args.duration, folder)
                    after = cpu_seconds(server.process.pid) + postgres_cpu_seconds()
                    if measure.non2xx or measure.socket_errors:
                        raise SystemExit(f"{name}: {measure.non2xx} non-2xx answers")
                    rates[name].append(measure.rps)
                    p99[name].append(measure.p99)
                    cpu[name].append(1000 * (after - before) / measure.requests)
                print(
                    f"  round {round_ + 1}: logged {rates['logged'][-1]:.1f} req/s "
                    f"({cpu['logged'][-1]:.2f} ms CPU a request), not logged "
                    f"{rates['not logged'][-1]:.1f} req/s ({cpu['not logged'][-1]:.2f} ms)",
                    flush=True,
                )
        finally:
            for server in servers.values():
                server.stop()
    on, off = (statistics.median(rates[k]) for k in ("logged", "not logged"))
    cpu_on, cpu_off = (statistics.median(cpu[k]) for k in ("logged", "not logged"))
    for name, rate, cost in (("logged", on, cpu_on), ("not logged", off, cpu_off)):
        print(
            f"  {name + ':':11s} {rate:6.1f} req/s, p99 {statistics.median(p99[name]):.0f} ms, "
            f"{cost:.2f} ms CPU a request (service and PostgreSQL)"
        )
    ratios = zip(rates["logged"], rates["not logged"], strict=True)
    paired = statistics.median(logged / unlogged for logged, unlogged in ratios)
    print(
        f"  cost of the access log (medians of the rounds): {100 * (1 - on / off):.1f} % of "
        f"the throughput, {100 * (cpu_on / cpu_off - 1):.1f} % more CPU a request; "
        f"median of the rounds' own ratios: {100 * (1 - paired):.1f} %"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="var/bench/world.json")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--duration", type=float, default=2, help="seconds a wrk run")
    sys.exit(main(parser.parse_args()))
