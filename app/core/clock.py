"""Dates in the service's civil time zone (Europe/Paris): what "today" means for due dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def utcnow() -> datetime:
    return datetime.now(UTC)


def today_in_paris(now: datetime | None = None) -> date:
    return (now or datetime.now(PARIS)).astimezone(PARIS).date()


def parse_instant(value: str, *, end_of_day: bool = False) -> datetime:
    """An RFC 3339 date-time with offset, or a date meaning that day in Europe/Paris
    (its first instant, or its last with `end_of_day`). ValueError otherwise."""
    if len(value) == 10:
        day = date.fromisoformat(value)
        start = datetime.combine(day, datetime.min.time(), PARIS)
        if not end_of_day:
            return start.astimezone(UTC)
        return (datetime.combine(day, datetime.max.time(), PARIS)).astimezone(UTC)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a date-time needs an offset (2026-03-14T18:30:00+01:00)")
    return moment.astimezone(UTC)
