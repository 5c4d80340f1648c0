"""What a change costs or saves a request: the service at another commit (`--base`, by
default the last one) and the service as checked out, two uvicorn servers on the database
`bench seed` made, loaded in turn by wrk (`-t1 -c8`) on each route, round after round in
alternating order; the medians of the rounds are compared. The figure that decides is the
server's CPU time a request, read from /proc around each run: on a 2-core machine shared
with PostgreSQL and wrk, throughput moves by a fifth from one run to the next, the CPU a
request much less.

    ./scripts/bench ab [--base HEAD~1] [--routes detail,list_commander] [--rounds 10]

The base is checked out in a temporary git worktree and served from there with this
checkout's virtual environment; both run on the same database, at this checkout's
migrations (a base that predates one runs on the newer schema).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from bench_access_log import SERVICE, cpu_seconds
from bench_run import (
    BY_KEY,
    PROJECT_ROOT,
    BenchRoute,
    Server,
    load_average,
    prestart,
    run_wrk,
    service_environment,
    start,
)

GIT = shutil.which("git") or "git"


def git(*arguments: str) -> str:
    done = subprocess.run(  # noqa: S603 - git, on this repository
        [GIT, *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def main(args: argparse.Namespace) -> int:
    world = json.loads(Path(args.world).read_text(encoding="utf-8"))
    env = service_environment(world, world["database_url"])
    prestart(env)
    base = git("rev-parse", "--short", args.base)
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--", "app") else ""
    routes = [BY_KEY[key] for key in args.routes.split(",")]
    with tempfile.TemporaryDirectory(prefix="gpo-bench-ab-") as tmp:
        folder = Path(tmp)
        tree = folder / "base"
        git("worktree", "add", "--detach", str(tree), base)
        try:
            servers = {
                base: start("base", SERVICE, env, folder, cwd=tree),
                "this": start("this", SERVICE, env, folder),
            }
            try:
                print(
                    f"{world['problems']:,} problems; {base} against this checkout{dirty}; "
                    f"wrk -t1 -c8, {args.rounds} rounds x {args.duration:g} s a server and "
                    f"route; load average {load_average()}",
                    flush=True,
                )
                for route in routes:
                    measure_route(route, servers, world, args, folder)
            finally:
                for server in servers.values():
                    server.stop()
        finally:
            git("worktree", "remove", "--force", str(tree))
    return 0


def measure_route(
    route: BenchRoute,
    servers: dict[str, Server],
    world: dict[str, Any],
    args: argparse.Namespace,
    folder: Path,
) -> None:
    cpu: dict[str, list[float]] = {name: [] for name in servers}  # ms a request
    rates: dict[str, list[float]] = {name: [] for name in servers}
    for server in servers.values():  # warm up
        run_wrk(server, route, world, 2, folder, connections=8)
    for round_ in range(args.rounds):
        order = list(servers.items())
        if round_ % 2:
            order.reverse()
        for name, server in order:
            before = cpu_seconds(server.process.pid)
            measure = run_wrk(server, route, world, args.duration, folder, connections=8)
            after = cpu_seconds(server.process.pid)
            if measure.non2xx or measure.socket_errors:
                raise SystemExit(f"{name}, {route.label}: {measure.non2xx} non-2xx answers")
            cpu[name].append(1000 * (after - before) / measure.requests)
            rates[name].append(measure.rps)
    (base, was), (_, now) = ((name, statistics.median(cpu[name])) for name in servers)
    print(
        f"  {route.label}: CPU a request {was:.3f} -> {now:.3f} ms "
        f"({100 * (now / was - 1):+.1f} %); req/s {statistics.median(rates[base]):.0f} -> "
        f"{statistics.median(rates['this']):.0f}",
        flush=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="var/bench/world.json")
    parser.add_argument("--base", default="HEAD~1", help="the commit to compare with")
    parser.add_argument("--routes", default="detail,list_commander")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--duration", type=float, default=2, help="seconds a wrk run")
    sys.exit(main(parser.parse_args()))
