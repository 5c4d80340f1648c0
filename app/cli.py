"""Start-up tasks: `python -m app.cli prestart` migrates, seeds, and (optionally) demos;
`python -m app.cli purge [--dry-run]` runs the retention purge now (the worker runs it
daily)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from alembic import command
from alembic.config import Config

from app.config import Settings, load_settings
from app.core.clock import utcnow
from app.core.db import Database, hold_start_up_lock
from app.governance import retention
from app.main import PROJECT_ROOT
from app.reference.seed import seed_reference_data


def migrate(settings: Settings) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = settings.database_url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


async def seed(settings: Settings) -> None:
    from app.demo import seed_demo_data

    database = Database(settings)
    try:
        async with database.session(write=True) as session:
            await hold_start_up_lock(session)
            await seed_reference_data(session)
            demo = await seed_demo_data(session, settings) if settings.demo_data_enabled else None
            await session.commit()
    finally:
        await database.dispose()
    if demo is None:
        return
    print("\nDemonstration data seeded. These API tokens are shown once:", flush=True)
    for who, token in demo.tokens:
        print(f"  {who:<55} {token}", flush=True)
    url = settings.public_url
    print(f"\nConsole: {url}/console — sign in with one of these e-mails", flush=True)
    print(f"and the demo password {demo.password} (shown once):", flush=True)
    for role, email, name in demo.people:
        print(f"  {role:<12} {email:<40} {name}", flush=True)
    print(flush=True)


async def purge(settings: Settings, *, dry_run: bool) -> None:
    """Erase the texts past retention; a dry run does it all in a transaction rolled back,
    so the counts it prints are exactly what a purge would erase."""
    database = Database(settings)
    try:
        async with database.session(write=True) as session:
            done = await retention.purge(session, settings.retention_years, utcnow())
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
    finally:
        await database.dispose()
    verb = "would erase" if dry_run else "erased"
    print(
        f"{done.problems} problem(s) closed before {done.cutoff:%Y-%m-%d}: "
        f"{verb} {done.total} text(s)",
        flush=True,
    )
    for name, count in sorted(done.erased.items()):
        print(f"  {name:<28} {count}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    parser.add_argument("task", choices=["prestart", "migrate", "seed", "purge"])
    parser.add_argument(
        "--dry-run", action="store_true", help="purge: print what would be erased, change nothing"
    )
    args = parser.parse_args(argv)
    task = args.task
    settings = load_settings()
    if task == "purge":
        asyncio.run(purge(settings, dry_run=args.dry_run))
        return 0
    if task in ("prestart", "migrate"):
        migrate(settings)
    if task in ("prestart", "seed"):
        asyncio.run(seed(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
