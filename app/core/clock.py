"""Dates in the service's civil time zone (Europe/Paris): what "today" means for due dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

# The instants and days the service accepts from clients. Python and the databases hold far
# wider ranges, but a date outside these is a typing slip in this domain, and the margin keeps
# every conversion (to UTC, to Paris, a day's last instant) away from datetime's limits.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
RANGE_MESSAGE = "must be between 1900-01-01 and 2999-12-31"


def check_day(value: date) -> date:
    """`value`, or ValueError when it is outside the accepted days."""
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(RANGE_MESSAGE)
    return value


def check_moment(value: datetime) -> datetime:
    """`value`, or ValueError when it is naive or outside the accepted days."""
    if value.tzinfo is None:
        raise ValueError("a date-time needs an offset (2026-03-14T18:30:00+01:00)")
    # Compared before converting: the conversion itself overflows at datetime's limits.
    if not EARLIEST_DAY <= value.date() <= LATEST_DAY:
        raise ValueError(RANGE_MESSAGE)
    return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def today_in_paris(now: datetime | None = None) -> date:
    return (now or datetime.now(PARIS)).astimezone(PARIS).date()


def parse_instant(value: str, *, end_of_day: bool = False) -> datetime:
    """An RFC 3339 date-time with offset, or a date meaning that day in Europe/Paris
    (its first instant, or its last with `end_of_day`). ValueError otherwise."""
    if len(value) == 10:
        day = check_day(date.fromisoformat(value))
        start = datetime.combine(day, datetime.min.time(), PARIS)
        if not end_of_day:
            return start.astimezone(UTC)
        return (datetime.combine(day, datetime.max.time(), PARIS)).astimezone(UTC)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return check_moment(moment).astimezone(UTC)
