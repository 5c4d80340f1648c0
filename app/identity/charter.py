"""The GPO information-sharing charter: a person accepts its current version before its first
read (issue 12, item 8).

The text is a Markdown or text file (`GPO_CHARTER_FILE`, by default `charter.md` beside this
module), read once at start-up; its version is `GPO_CHARTER_VERSION`, or else derived from
the text, so that changing the text asks everyone again. Each acceptance is a row (person,
version, when, from which console session or token) and an audit event, written once.

The console always asks (`app.console.auth`); API tokens only with `GPO_CHARTER_FOR_TOKENS=1`
(`app.identity.dependencies.authenticate`), so that systems already calling the API keep
working until their operators accept it with `POST /api/v1/me/charter`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import wording
from app.config import Settings
from app.core import audit
from app.core.clock import utcnow
from app.core.db import dialect_insert
from app.core.errors import Conflict, Forbidden
from app.identity.models import CharterAcceptance
from app.identity.principal import Principal

DEFAULT_FILE = Path(__file__).with_name("charter.md")
API_PATH = "/api/v1/me/charter"


@dataclass(frozen=True)
class Charter:
    text: str
    version: str

    @classmethod
    def of(cls, settings: Settings) -> Charter:
        text = (settings.gpo_charter_file or DEFAULT_FILE).read_text(encoding="utf-8").strip()
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return cls(text=text, version=settings.gpo_charter_version or f"sha256-{digest}")


class CharterRequired(Forbidden):
    """A token's reads wait for its person to accept the charter."""

    slug, title = "charter-required", "Charter Not Accepted"

    def __init__(self, version: str) -> None:
        super().__init__(
            f"Accept the GPO information-sharing charter (version {version}) first: read it "
            f"with GET {API_PATH}, accept it with POST {API_PATH}.",
            headers={"Link": f'<{API_PATH}>; rel="terms-of-service"'},
            fr="Acceptez d'abord la charte de partage de l'information du GPO.",
        )


async def accepted_at(session: AsyncSession, user_id: uuid.UUID, version: str) -> datetime | None:
    """When the person accepted this version of the charter (None: not yet)."""
    return await session.scalar(
        select(CharterAcceptance.accepted_at).where(
            CharterAcceptance.user_id == user_id, CharterAcceptance.version == version
        )
    )


async def require_accepted(session: AsyncSession, principal: Principal, charter: Charter) -> None:
    if await accepted_at(session, principal.user_id, charter.version) is None:
        raise CharterRequired(charter.version)


async def accept(
    session: AsyncSession, principal: Principal, charter: Charter, version: str | None = None
) -> datetime:
    """Record that the person accepts the current version (once: accepting again, or two
    requests at once, keep the first acceptance); `version`, when given, must be the current
    one (409 otherwise: the person read another text). Returns when it was accepted."""
    if version is not None and version != charter.version:
        raise Conflict(
            f"The current charter is version {charter.version}, not {version}: read it again.",
            fr="La charte a changé depuis que vous l'avez lue : relisez-la.",
        )
    now = utcnow()
    insert = dialect_insert(session)
    inserted = await session.scalar(
        insert(CharterAcceptance)
        .values(
            user_id=principal.user_id,
            version=charter.version,
            accepted_at=now,
            session_id=principal.session_id,
            token_id=None if principal.session_id else principal.token_id,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "version"])
        .returning(CharterAcceptance.id)
    )
    if inserted is None:
        first = await accepted_at(session, principal.user_id, charter.version)
        assert first is not None  # the conflicting row
        return first
    via = "console" if principal.session_id else "token"
    audit.record(
        session,
        principal,
        action="charter.accept",
        resource_type="user",
        resource_id=principal.user_id,
        summary=wording.summary(
            "charter.accept",
            version=charter.version,
            name=principal.display_name,
            via=wording.CHARTER_CHANNELS[via],
        ),
        changes={"charter_version": [None, charter.version], "via": [None, via]},
    )
    return now
