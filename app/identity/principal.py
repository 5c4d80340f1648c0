"""Who is calling: the user behind the bearer token, with what access rules need.

What a principal may see and do is decided in `app.access`, nowhere else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.identity.models import Role
from app.reference.models import OrganisationKind


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    token_id: uuid.UUID | None
    role: Role
    organisation_id: uuid.UUID | None
    organisation_kind: OrganisationKind | None
    display_name: str
    # Set when the principal is a person signed in to the console (its session).
    session_id: uuid.UUID | None = None
    # The purpose of reads the console session declared (`app.governance`), if any.
    access_purpose: str | None = None
