"""Visibility levels of problems and comments, and who may read each level."""

from __future__ import annotations

from enum import StrEnum


class Visibility(StrEnum):
    """`partners`: any member of the GPO; `police`: national and municipal police members;
    `restricted`: national police members (and commanders, facilitators, admins)."""

    partners = "partners"
    police = "police"
    restricted = "restricted"


_ORDER = [Visibility.partners, Visibility.police, Visibility.restricted]

# Organisation kinds (reference data) cleared above `partners`.
CLEARANCE_BY_ORGANISATION_KIND = {
    "national_police": Visibility.restricted,
    "municipal_police": Visibility.police,
}


def clearance_of(organisation_kind: str | None) -> Visibility:
    return CLEARANCE_BY_ORGANISATION_KIND.get(organisation_kind or "", Visibility.partners)


def readable_levels(clearance: Visibility) -> list[Visibility]:
    """The levels a reader with this clearance may read."""
    return _ORDER[: _ORDER.index(clearance) + 1]


def at_least(level: Visibility, floor: Visibility) -> Visibility:
    return max(level, floor, key=_ORDER.index)
