from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import Boolean, Input, Integer, Name, Output, Patch
from app.identity.models import Digest, Role
from app.reference.schemas import OrganisationOut

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+$",
    ),
]


class UserCreate(Input):
    email: Email = Field(examples=["claire.martin@moselle.interieur.gouv.fr"])
    display_name: Name = Field(examples=["Claire Martin"])
    role: Role = Field(
        description="admin, facilitator (runs GPOs), commander (reads everything), partner "
        "(a member of an organisation; needs `organisation_id`).",
        examples=["facilitator"],
    )
    organisation_id: uuid.UUID | None = Field(
        default=None, description="Required for partners.", examples=[None]
    )


class UserUpdate(Patch):
    nullable = frozenset({"organisation_id"})

    email: Email | None = Field(default=None, examples=["c.martin@moselle.interieur.gouv.fr"])
    display_name: Name | None = Field(default=None, examples=["Claire Martin"])
    role: Role | None = Field(default=None, examples=["commander"])
    organisation_id: uuid.UUID | None = Field(default=None, examples=[None])
    active: Boolean | None = Field(
        default=None, description="`false` disables the user and its tokens.", examples=[False]
    )


class UserOut(Output):
    id: uuid.UUID
    email: str = Field(examples=["claire.martin@moselle.interieur.gouv.fr"])
    display_name: str = Field(examples=["Claire Martin"])
    role: Role
    organisation_id: uuid.UUID | None
    active: bool
    created_at: datetime
    updated_at: datetime
    version: int = Field(examples=[1])


MAX_TOKEN_DAYS = 366


class TokenCreate(Input):
    name: Name = Field(
        default="API token", description="What the token is for.", examples=["SI bailleur"]
    )
    expires_in_days: Integer = Field(
        default=90,
        ge=1,
        le=MAX_TOKEN_DAYS,
        description=f"Days until the token expires, at most {MAX_TOKEN_DAYS}: a system's "
        "token is renewed at least once a year.",
        examples=[90],
    )


class TokenCreated(Output):
    token_id: uuid.UUID
    token: str = Field(
        description="The secret, shown only in this response.",
        examples=["gpo_Xq3v9LrT0w2m1yZk8sJd4hF6bN5cA7eG"],
    )
    prefix: str = Field(examples=["gpo_Xq3v9L"])
    name: str = Field(examples=["Intégration SI bailleur"])
    created_at: datetime
    expires_at: datetime | None


class TokenOut(Output):
    token_id: uuid.UUID
    user_id: uuid.UUID
    name: str = Field(examples=["Intégration SI bailleur"])
    prefix: str = Field(examples=["gpo_Xq3v9L"])
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool = Field(description="Neither revoked nor expired.")


class Me(Output):
    user: UserOut
    organisation: OrganisationOut | None = Field(
        description="The organisation the user belongs to; null for a user of none."
    )
    role: Role


class InvitationCreated(Output):
    invitation_url: str = Field(
        description="The one-use link where the person chooses a console password; shown "
        "only in this response.",
        examples=["https://gpo.example/console/invitation/Xq3v9LrT0w2m1yZk8sJd4hF6bN5cA7eG"],
    )
    expires_at: datetime = Field(description="Seven days after the invitation.")


class NotificationsOut(Output):
    digest: Digest = Field(
        description="The e-mail digest of actions due or overdue (and, for facilitators, reports "
        "awaiting triage and GPOs late for their meeting): each morning, on Mondays, or never.",
        examples=["daily"],
    )


class NotificationsUpdate(Patch):
    digest: Digest | None = Field(default=None, examples=["weekly"])


class CharterOut(Output):
    version: str = Field(
        description="The current version of the charter (GPO_CHARTER_VERSION, or derived from "
        "its text): a new version is accepted anew.",
        examples=["sha256-3f9a1c0b7d2e"],
    )
    text: str = Field(
        description="The charter, in French (Markdown).",
        examples=["# Charte de partage de l'information des groupes de partenariat opérationnel"],
    )
    accepted: bool = Field(description="Whether the caller accepted this version.")
    accepted_at: datetime | None = Field(
        description="When the caller accepted this version; null if not yet.",
        examples=["2026-12-01T19:30:00+00:00"],
    )
    required_for_tokens: bool = Field(
        description="Whether API tokens wait for the acceptance (GPO_CHARTER_FOR_TOKENS): "
        "until then every route but /me, /me/charter and revoking a token gives 403 "
        "`charter-required`. The console always asks."
    )


class CharterAccept(Input):
    version: str | None = Field(
        default=None,
        max_length=64,
        description="The version read; if given and no longer current, 409 (read it again).",
        examples=["sha256-3f9a1c0b7d2e"],
    )
