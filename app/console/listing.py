"""Keyset pages of the console's lists: the API's signed cursors, carried in `?cursor=`.

A page's link to the next one keeps the page's other parameters (its filters): a cursor is
valid only with the filters it was made for (`app.core.pagination.filters_digest`), and a
forged or mismatched one is the 400 page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

from app.core.errors import BadRequest
from app.core.pagination import Paging

MAX_CURSOR = 2000


def paging(request: Request, limit: int) -> Paging:
    """The page a list request asks for: `limit` rows after its `cursor`, if any."""
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > MAX_CURSOR:
        raise BadRequest("The cursor is not valid for this list, sort and filters.")
    return Paging(request, limit, cursor)


def next_page_url(request: Request, next_cursor: str | None) -> str | None:
    """The address of the next page (same filters), or None on the last page."""
    if next_cursor is None:
        return None
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    return f"{request.url.path}?{urlencode([*kept, ('cursor', next_cursor)])}"


def first_page_url(request: Request) -> str | None:
    """The address of the first page (same filters), or None when this is the first."""
    if "cursor" not in request.query_params:
        return None
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    return f"{request.url.path}?{urlencode(kept)}" if kept else request.url.path
