"""Case- and accent-insensitive search that behaves the same on SQLite and PostgreSQL.

The application writes a normalised copy of the searchable text (lower case, accents
stripped) and searches it with LIKE, so no database extension (unaccent) is needed.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute


def normalise(*parts: str | None) -> str:
    text = " ".join(part for part in parts if part)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())


def like_pattern(query: str) -> str:
    """The LIKE pattern (escape character `\\`) matching texts that contain `query`."""
    needle = normalise(query).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{needle}%"


def contains(column: InstrumentedAttribute[str], query: Any) -> ColumnElement[bool]:
    """`query` is the words searched, or a bound parameter giving their `like_pattern`."""
    pattern = like_pattern(query) if isinstance(query, str) else query
    return column.like(pattern, escape="\\")
