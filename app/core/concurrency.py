"""Optimistic concurrency: strong ETags from `version`, checked against If-Match.

A resource dependency loads and locks the row, then calls `precondition_if_match`: the
comparison runs once the whole request is parsed, just before the endpoint (the
transactional route calls `check_preconditions`). So a request that would fail without
its If-Match (a body that does not validate, 422) is refused for that reason, not with 412
(RFC 9110, 13.2.1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated

from fastapi import Header, Response

from app.core.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description=(
            'The ETag last read (`"3"`); when it no longer matches the stored version the '
            "change is refused with 412 and nothing is written."
        ),
        examples=['"3"'],
    ),
]

_preconditions: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "preconditions", default=None
)


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """Strong comparison (RFC 9110 13.1.1): a weak tag never matches."""
    if if_match is None:
        return
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags or etag(version) in tags:
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current version {etag(version)}; "
        "read the resource again and reapply the change."
    )


def precondition_if_match(if_match: str | None, version: int) -> None:
    """Check If-Match against `version` once the request is parsed (at once outside a
    transactional route)."""
    pending = _preconditions.get()
    if pending is None:
        check_if_match(if_match, version)
    else:
        pending.append(lambda: check_if_match(if_match, version))


@contextmanager
def collecting_preconditions() -> Iterator[None]:
    token = _preconditions.set([])
    try:
        yield
    finally:
        _preconditions.reset(token)


def check_preconditions() -> None:
    for check in _preconditions.get() or ():
        check()
