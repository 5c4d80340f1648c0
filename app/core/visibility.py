"""Visibility levels of problems and texts, and their order (who is cleared for which level
is `app.access`)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, literal, or_


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


def text_level(asked: Visibility | None, floor: Visibility) -> Visibility:
    """The level a free text is stored at: the one asked (else its problem's), never below
    its problem's (`floor`). The masking of identifiers reads this to know whether a text
    stays `restricted`."""
    return at_least(asked or floor, floor)


def effective_level(level: Any, floor: Any) -> ColumnElement[str]:
    """SQL for `at_least(level, floor)`: a text's stored level raised to its problem's
    current one. Reads test this, not the stored level, so a problem raised after the text
    was written hides the text with it (no text is rewritten when a problem is raised)."""

    def either_is(value: Visibility) -> ColumnElement[bool]:
        return or_(level == value, floor == value)

    return case(
        (either_is(Visibility.restricted), literal(Visibility.restricted.value)),
        (either_is(Visibility.police), literal(Visibility.police.value)),
        else_=literal(Visibility.partners.value),
    )


def at_most(level: Visibility, ceiling: Visibility) -> Visibility:
    return min(level, ceiling, key=_ORDER.index)
