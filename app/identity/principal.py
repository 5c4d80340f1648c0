"""Who is calling: the user behind the bearer token, with what scoping needs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.core.visibility import Visibility, clearance_of
from app.identity.models import Role


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    token_id: uuid.UUID | None
    role: Role
    organisation_id: uuid.UUID | None
    organisation_kind: str | None
    display_name: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    @property
    def sees_everything(self) -> bool:
        """Admins and commanders read every problem, action and figure."""
        return self.role in (Role.admin, Role.commander)

    @property
    def member_clearance(self) -> Visibility:
        """The visibility levels a member reads in the GPOs its organisation belongs to."""
        return clearance_of(self.organisation_kind)
