"""Visibility levels of problems and texts, and their order (who is cleared for which level
is `app.access`)."""

from __future__ import annotations

from enum import StrEnum


class Visibility(StrEnum):
    """`partners`: any member of the GPO; `police`: national and municipal police members;
    `restricted`: national police members (and commanders, facilitators, admins)."""

    partners = "partners"
    police = "police"
    restricted = "restricted"


_ORDER = [Visibility.partners, Visibility.police, Visibility.restricted]


def readable_levels(clearance: Visibility) -> list[Visibility]:
    """The levels a reader cleared up to `clearance` may read."""
    return _ORDER[: _ORDER.index(clearance) + 1]


def at_least(level: Visibility, floor: Visibility) -> Visibility:
    return max(level, floor, key=_ORDER.index)


def at_most(level: Visibility, ceiling: Visibility) -> Visibility:
    return min(level, ceiling, key=_ORDER.index)
