"""Free text screened on write: identifiers masked where partners may read them, every
finding recorded (never its value) and told to the writer.

Every service that stores a free text passes it through `screen` (or `screen_model` for a
request body) with the level of the text's readers: the API, the console and Open311 call
the same services, so they all write through here, and the audit events record the texts
as they are stored. The findings of a request are kept on its session (one session, one
transaction, one request) until the answer is shaped: `warnings` for the API's `warnings`
member, the console's notice after saving. Each finding is also a row of `text_screenings`
in the same transaction, counted by kind for the governance report.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, Index, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app import access
from app.core.audit import Actor
from app.core.clock import utcnow
from app.core.db import Base, UUIDPrimaryKey, str_enum
from app.core.visibility import Visibility
from app.governance.masking import Kind
from app.governance.masking import screen as screen_text

Loc = tuple[str | int, ...]
_FINDINGS = "text_screening_findings"


class TextScreening(UUIDPrimaryKey, Base):
    """One finding in one stored text: what kind, in which field of which record, by whom."""

    __tablename__ = "text_screenings"
    __table_args__ = (Index("ix_text_screenings_at", "at"),)

    at: Mapped[datetime] = mapped_column(default=utcnow)
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(100))
    kind: Mapped[Kind] = mapped_column(str_enum(Kind, "text_screening_kind"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class TextWarning(BaseModel):
    loc: list[str | int] = Field(
        description="The field of the request the finding is in, as in a 422's `errors`.",
        examples=[["body", "description"]],
    )
    kind: Kind = Field(
        description="phone, email, licence_plate, nir, iban: the identifier was replaced by "
        "a marker (`[téléphone masqué]`, ...) because readers outside the national police "
        "read the text; sensitive_*: a word revealing health, religion, origin, sex life, "
        "political or union opinions (kept, to be reread by the writer).",
        examples=["phone"],
    )


class Screened(BaseModel):
    """The `warnings` member of a write's answer."""

    warnings: list[TextWarning] = Field(
        default_factory=list,
        description="What the free texts written held: identifiers masked before they were "
        "stored, sensitive words found. Never the values. Empty when nothing was found.",
        examples=[[{"loc": ["body", "description"], "kind": "phone"}]],
    )


def masks_identifiers(level: Visibility) -> bool:
    """The one switch: a text at `level` has its identifiers masked when someone outside
    the national police may read it."""
    return access.read_outside_national_police(level)


def _findings(session: AsyncSession) -> list[TextWarning]:
    found: list[TextWarning] = session.info.setdefault(_FINDINGS, [])
    return found


def screen(
    session: AsyncSession,
    actor: Actor | None,
    values: Mapping[str, Any],
    fields: Sequence[str],
    *,
    level: Visibility,
    resource_type: str,
    resource_id: uuid.UUID | str,
    loc: Loc = ("body",),
) -> dict[str, Any]:
    """`values` with its free texts among `fields` as they are to be stored (identifiers
    masked when the text is readable beyond the national police); each finding recorded."""
    shared = masks_identifiers(level)
    stored = dict(values)
    for name in fields:
        text = values.get(name)
        if not isinstance(text, str) or not text:
            continue
        result = screen_text(text, shared=shared)
        stored[name] = result.text
        for kind in result.kinds:
            _found(session, actor, (*loc, name), kind, resource_type, str(resource_id))
    return stored


ModelT = TypeVar("ModelT", bound=BaseModel)


def screen_model(
    session: AsyncSession,
    actor: Actor | None,
    data: ModelT,
    fields: Sequence[str],
    *,
    level: Visibility,
    resource_type: str,
    resource_id: uuid.UUID | str,
    loc: Loc = ("body",),
) -> ModelT:
    """A request body with its free texts screened (see `screen`). A field may be a
    nested model's (`location.address`); only the fields whose text changed are replaced,
    so a partial update still names the fields the client sent."""
    changed: dict[str, Any] = {}
    nested: dict[str, list[str]] = {}
    for name in fields:
        head, _, tail = name.partition(".")
        if tail:
            nested.setdefault(head, []).append(tail)
            continue
        value = getattr(data, head, None)
        stored = screen(
            session,
            actor,
            {head: value},
            [head],
            level=level,
            resource_type=resource_type,
            resource_id=resource_id,
            loc=loc,
        )[head]
        if stored != value:
            changed[head] = stored
    for head, tails in nested.items():  # a nested model's fields, screened in one copy
        value = getattr(data, head, None)
        if not isinstance(value, BaseModel):
            continue
        inner = screen_model(
            session,
            actor,
            value,
            tails,
            level=level,
            resource_type=resource_type,
            resource_id=resource_id,
            loc=(*loc, head),
        )
        if inner is not value:
            changed[head] = inner
    return data.model_copy(update=changed) if changed else data


ScreenedT = TypeVar("ScreenedT", bound=BaseModel | dict[str, Any])


def screen_at(
    session: AsyncSession,
    actor: Actor | None,
    data: ScreenedT,
    levels: Mapping[str, Visibility],
    *,
    resource_type: str,
    resource_id: uuid.UUID | str,
) -> ScreenedT:
    """A body (or a patch's values) with each free text screened at the level of its own
    readers, when a record's texts are not all read by the same people (an action's title
    and its description, an indicator's name and its source)."""
    screened: Any = data
    step: Any = screen_model if isinstance(data, BaseModel) else screen
    for name, level in levels.items():
        screened = step(
            session,
            actor,
            screened,
            [name],
            level=level,
            resource_type=resource_type,
            resource_id=resource_id,
        )
    return cast(ScreenedT, screened)


def _found(
    session: AsyncSession,
    actor: Actor | None,
    loc: Loc,
    kind: Kind,
    resource_type: str,
    resource_id: str,
) -> None:
    findings = _findings(session)
    warning = TextWarning(loc=list(loc), kind=kind)
    if warning not in findings:
        findings.append(warning)
    session.add(
        TextScreening(
            at=utcnow(),
            resource_type=resource_type,
            resource_id=resource_id,
            field=".".join(str(part) for part in loc[1:]),
            kind=kind,
            actor_id=actor.user_id if actor else None,
        )
    )


def warnings(session: AsyncSession) -> list[TextWarning]:
    """What this request's writes found, in the order found."""
    return list(_findings(session))


AnswerT = TypeVar("AnswerT", bound=Screened)


def answer(model: type[AnswerT], out: BaseModel, session: AsyncSession) -> AnswerT:
    """A write's answer: the resource as read back, with the request's warnings."""
    return model.model_validate({**dict(out), "warnings": warnings(session)})


async def screening_counts(
    session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, int]:
    """Findings by kind (identifiers masked, sensitive words) over a period, for the
    governance report; kinds never found are left out."""
    statement = select(TextScreening.kind, func.count()).group_by(TextScreening.kind)
    if since is not None:
        statement = statement.where(TextScreening.at >= since)
    if until is not None:
        statement = statement.where(TextScreening.at < until)
    return {kind.value: count for kind, count in (await session.execute(statement)).all()}
