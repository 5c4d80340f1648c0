"""Helpers shared by the intake tests (reports, idempotency, Open311): all through HTTP."""

from __future__ import annotations

import math
from typing import Any

import httpx

from tests.api import Api, Caller, every_page, expect

METZ = (49.1193, 6.1757)
WOIPPY = (49.1519, 6.1522)
MONTIGNY = (49.1006, 6.1539)
METRES_PER_DEGREE_LAT = 111_195.0


def moved(
    point: tuple[float, float], north_m: float = 0.0, east_m: float = 0.0
) -> dict[str, float]:
    """A `{lat, lon}` location `north_m` metres north and `east_m` metres east of `point`."""
    lat, lon = point
    d_lat = north_m / METRES_PER_DEGREE_LAT
    d_lon = east_m / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    return {"lat": round(lat + d_lat, 7), "lon": round(lon + d_lon, 7)}


def report_body(**overrides: Any) -> dict[str, Any]:
    return {
        "category": "hall_occupation",
        "commune_code": "57463",
        "description": "Une dizaine de jeunes dans le hall du 4 rue de Toul chaque soir.",
        **overrides,
    }


async def submit(api: Api, caller: Caller, **overrides: Any) -> dict[str, Any]:
    return dict(expect(await api.post(caller, "/reports", json=report_body(**overrides)), 201))


async def read_report(api: Api, caller: Caller, report: dict[str, Any]) -> dict[str, Any]:
    return dict(expect(await api.get(caller, f"/reports/{report['id']}"), 200))


async def triage(
    api: Api, caller: Caller, report: dict[str, Any], decision: str, **body: Any
) -> httpx.Response:
    return await api.post(
        caller, f"/reports/{report['id']}/triage", json={"decision": decision, **body}
    )


async def report_ids(api: Api, caller: Caller) -> set[str]:
    return {item["id"] for item in await every_page(api, caller, "/reports")}


def error_locs(body: dict[str, Any]) -> list[list[Any]]:
    return [list(error["loc"]) for error in body["errors"]]


def names_field(body: dict[str, Any], field: str) -> bool:
    """True when some error of a 422 body points at `field`."""
    return any(field in (str(part) for part in loc) for loc in error_locs(body))
