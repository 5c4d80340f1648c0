"""The console at /console: every screen's router, and the service's own static files."""

from __future__ import annotations

from fastapi import APIRouter

from app.console import auth, gpos, meetings

router = APIRouter(include_in_schema=False)
for screen in (auth.router, gpos.router, meetings.router):
    router.include_router(screen)
