"""Visibility levels of problems and texts, and their order (who is cleared for which level
is `app.access`)."""

from __future__ import annotations

from collections.abc import Iterable
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


# What the security code's confidentiality (L132-5 CSI) marks "diffusion restreinte" on an
# export or a printable page: anything above what every member of the GPO reads.
CLASSIFIED_LEVELS = frozenset({Visibility.police, Visibility.restricted})


def classified(levels: Iterable[Visibility | str | None]) -> bool:
    """Whether content holding texts at these levels is police or restricted material: the one
    rule every format (minutes, printable pages, CSV, GeoJSON) asks."""
    return any(level in CLASSIFIED_LEVELS for level in levels if level is not None)
