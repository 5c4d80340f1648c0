"""Keyset pagination with opaque, signed cursors.

A cursor carries the sort values of the last row, the sort it was made for and a digest of
the filters; it is signed, so a forged or edited cursor, or one reused with another sort or
other filters, gives 400 instead of a wrong page.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, bindparam, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.clock import check_day, check_moment
from app.core.db import AnyRow, AnySelect
from app.core.errors import BadRequest
from app.core.schemas import UNSTORABLE

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description="Items per page, 1 to 200.", examples=[50]),
]
Cursor = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="Opaque cursor from `next_cursor` of the previous page, with the same filters.",
        examples=["eyJrIjpbIjIwMjYtMDMtMTQiXX0.3b1f0c2a9d8e7f6a"],
    ),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Cursor of the next page, or null on the last page.",
        examples=[None],
    )


@dataclass(frozen=True)
class SortKey:
    attribute: InstrumentedAttribute[Any]
    descending: bool = False


@dataclass(frozen=True)
class Ordering:
    """A named sort; its keys end with a unique column, so the order is total."""

    name: str
    keys: tuple[SortKey, ...]

    def order_by(self, columns: Any = None) -> list[Any]:
        """The ORDER BY of the sort, on its own columns or on those of `columns` (the
        subquery of a page) with the same names."""
        keys = [
            (k, k.attribute if columns is None else columns[k.attribute.key]) for k in self.keys
        ]
        return [column.desc() if k.descending else column.asc() for k, column in keys]

    def after_template(self, columns: Any = None) -> ColumnElement[bool]:
        """Rows after the bound parameters `after_0`, `after_1`... (`after_params`), for a
        statement built once."""
        condition: ColumnElement[bool] = _after(
            self,
            [bindparam(f"after_{i}", type_=key.attribute.type) for i, key in enumerate(self.keys)],
            columns,
        )
        return condition

    def sort_values(self, row: Any) -> list[Any]:
        """The sort values of a row selected with the sort's columns (by name)."""
        # A SQLAlchemy row by its mapping, a driver's record (`fetch_rows`) by itself.
        mapping = getattr(row, "_mapping", row)
        return [mapping[key.attribute.key] for key in self.keys]


def after_params(values: Sequence[Any] | None) -> dict[str, Any]:
    return {} if values is None else {f"after_{i}": v for i, v in enumerate(values)}


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


INT64 = 2**63


def _decode_value(value: Any, sample: type) -> Any:
    """A sort value as a cursor carries it; ValueError for anything a column could not be
    compared with (a cursor signed with a leaked key may hold anything)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError("bad cursor value")
    if sample is int and isinstance(value, int) and -INT64 <= value < INT64:
        return value
    if not isinstance(value, str) or UNSTORABLE.search(value):
        raise ValueError("bad cursor value")
    if sample is datetime:
        return check_moment(datetime.fromisoformat(value))
    if sample is date:
        return check_day(date.fromisoformat(value))
    if sample is uuid.UUID:
        return uuid.UUID(value)
    if sample is str:
        return value
    raise ValueError("bad cursor value")


def filters_digest(request: Request) -> str:
    """The list (its path) and its filters: a cursor is valid only for the same ones."""
    items = sorted(
        (k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "limit")
    )
    return hashlib.sha256(json.dumps([request.url.path, items]).encode()).hexdigest()[:16]


class Paginator:
    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"pagination-cursor", hashlib.sha256).digest()

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()[:32]

    def encode(self, ordering: Ordering, digest: str, values: Sequence[Any]) -> str:
        payload = json.dumps(
            {"o": ordering.name, "f": digest, "k": [_encode_value(v) for v in values]},
            separators=(",", ":"),
        ).encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + self._sign(payload)

    def decode(self, cursor: str, ordering: Ordering, digest: str) -> list[Any]:
        invalid = BadRequest("The cursor is not valid for this list, sort and filters.")
        encoded, _, signature = cursor.partition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError:
            raise invalid from None
        if not hmac.compare_digest(self._sign(payload), signature):
            raise invalid
        try:
            data = json.loads(payload)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            if data.get("o") != ordering.name or data.get("f") != digest:
                raise ValueError("another list")
            values = data.get("k")
            if not isinstance(values, list) or len(values) != len(ordering.keys):
                raise ValueError("another sort")
            return [
                _decode_value(v, key.attribute.type.python_type)
                for v, key in zip(values, ordering.keys, strict=True)
            ]
        except (ValueError, TypeError, NotImplementedError, RecursionError):
            raise invalid from None

    async def page(
        self,
        session: AsyncSession,
        statement: AnySelect,
        *,
        ordering: Ordering,
        request: Request,
        limit: int,
        cursor: str | None,
    ) -> tuple[Sequence[AnyRow], str | None]:
        """Rows of one page (the first selected entity carries the sort values)."""
        digest = filters_digest(request)
        if cursor is not None:
            after = self.decode(cursor, ordering, digest)
            statement = statement.where(_after(ordering, after))
        order_by = [
            k.attribute.desc() if k.descending else k.attribute.asc() for k in ordering.keys
        ]
        rows = (await session.execute(statement.order_by(*order_by).limit(limit + 1))).all()
        if len(rows) <= limit:
            return rows, None
        rows = rows[:limit]
        last = rows[-1][0]
        values = [getattr(last, key.attribute.key) for key in ordering.keys]
        return rows, self.encode(ordering, digest, values)


def _after(ordering: Ordering, values: Sequence[Any], columns: Any = None) -> Any:
    """Rows strictly after `values` in the ordering: (a > x) or (a = x and b > y) or ..."""
    attributes = [
        k.attribute if columns is None else columns[k.attribute.key] for k in ordering.keys
    ]
    clauses = []
    for i, key in enumerate(ordering.keys):
        equal = [attributes[j] == values[j] for j in range(i)]
        beyond = attributes[i] < values[i] if key.descending else attributes[i] > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


@dataclass
class Paging:
    """`limit` and `cursor` of a list request, ready to fetch one page."""

    request: Request
    limit: int
    cursor: str | None

    @functools.cached_property
    def digest(self) -> str:
        return filters_digest(self.request)

    def after(self, ordering: Ordering) -> list[Any] | None:
        """The sort values the cursor carries (None on a first page); 400 for a cursor of
        another list, sort or filters."""
        if self.cursor is None:
            return None
        paginator: Paginator = self.request.app.state.paginator
        return paginator.decode(self.cursor, ordering, self.digest)

    def page_of(
        self, rows: Sequence[AnyRow], ordering: Ordering
    ) -> tuple[Sequence[AnyRow], str | None]:
        """The page's rows out of the `limit + 1` fetched, and the cursor of the next page
        (the rows carry the sort's columns by name)."""
        if len(rows) <= self.limit:
            return rows, None
        rows = rows[: self.limit]
        paginator: Paginator = self.request.app.state.paginator
        values = ordering.sort_values(rows[-1])
        return rows, paginator.encode(ordering, self.digest, values)

    async def fetch(
        self, session: AsyncSession, statement: AnySelect, ordering: Ordering
    ) -> tuple[Sequence[AnyRow], str | None]:
        paginator: Paginator = self.request.app.state.paginator
        return await paginator.page(
            session,
            statement,
            ordering=ordering,
            request=self.request,
            limit=self.limit,
            cursor=self.cursor,
        )


async def paging(request: Request, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Paging:
    # `async`: a plain function dependency would cost a thread-pool hop.
    return Paging(request, limit, cursor)


PageParams = Annotated[Paging, Depends(paging)]
