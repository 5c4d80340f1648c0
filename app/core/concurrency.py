"""Optimistic concurrency: strong ETags from `version`, checked against If-Match."""

from __future__ import annotations

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
