"""The retention purge (issue 12, item 5): the free text of problems closed more than
`GPO_RETENTION_YEARS` ago, and of their reports, comments, meeting reviews, actions and
indicators, is erased, and so are those texts' old and new values in the audit events.

What stays: references, categories, communes, dates, statuses, outcomes, priorities,
indicators' names and values, actions' kinds, titles and dates. Every figure (the annual
evaluation of past years included) counts those, never a text, so it stays the same.

A required text is replaced by `wording.ERASED_TEXT`, an optional one emptied; in an
audit event, each erased value by `{"erased_sha256": <digest>}` (`chain.erased`), which the
hash chain digests as it did the text: the chain still verifies. The events' summaries
quote texts too (a comment's, a title): those of the expired problems' events are replaced
by a fixed sentence with the digest of what they said (`chain.erased_summary`). The audit
events' trigger accepts that UPDATE (and nothing else but the sealing) only while this
transaction holds a row in `audit_erasure_permits` (migration 0017); the row is deleted
before the commit.
Running it again erases nothing more. The purge records one audit event with its counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app import wording
from app.actions.models import Action
from app.core import audit
from app.core.audit import AuditEvent
from app.governance import chain
from app.governance.models import ErasurePermit
from app.indicators.models import Indicator, Measurement
from app.meetings.models import Review
from app.problems.models import Problem, ProblemComment, ProblemStatus
from app.reports.models import Report

# The fields of `changes` that hold free text, whatever the record.
TEXT_FIELDS = frozenset(
    {
        "title",
        "description",
        "objective",
        "time_pattern",
        "address",
        "outcome_note",
        "body",
        "note",
        "result_note",
        "source",
        "public_note",
        "media_url",
    }
)
BATCH = 500


@dataclass
class Purge:
    cutoff: datetime
    problems: int = 0
    erased: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.erased.values())


def cutoff_for(now: datetime, years: int) -> datetime:
    """`years` years before `now` (29 February going back to 28)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return (now - timedelta(days=1)).replace(year=now.year - years)


def _expired(cutoff: datetime) -> Select[Any]:
    return select(Problem.id).where(
        Problem.status == ProblemStatus.closed, Problem.closed_at < cutoff
    )


# Per table: the condition that ties a row to an expired problem, and its free texts.
def _texts(expired: Any) -> list[tuple[ColumnElement[bool], Sequence[InstrumentedAttribute[Any]]]]:
    indicators = select(Indicator.id).where(Indicator.problem_id.in_(expired))
    return [
        (
            Problem.id.in_(expired),
            (
                Problem.title,
                Problem.description,
                Problem.objective,
                Problem.time_pattern,
                Problem.address,
                Problem.outcome_note,
            ),
        ),
        (
            Report.problem_id.in_(expired),
            (
                Report.description,
                Report.address,
                Report.time_pattern,
                Report.public_note,
                Report.media_url,
            ),
        ),
        (ProblemComment.problem_id.in_(expired), (ProblemComment.body,)),
        (Review.problem_id.in_(expired), (Review.note,)),
        (Action.problem_id.in_(expired), (Action.title, Action.description, Action.result_note)),
        (Indicator.problem_id.in_(expired), (Indicator.source,)),
        (Measurement.indicator_id.in_(indicators), (Measurement.note,)),
    ]


def _still_there(column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = column.is_not(None) & (column != wording.ERASED_TEXT)
    return condition


def _erased_changes(changes: Any) -> Any:
    if not isinstance(changes, dict):
        return changes
    return {
        name: ([chain.erased(v) for v in pair] if isinstance(pair, list) else chain.erased(pair))
        if name in TEXT_FIELDS
        else pair
        for name, pair in changes.items()
    }


async def _erase_audit(
    session: AsyncSession, problem_ids: list[uuid.UUID], report_ids: list[uuid.UUID]
) -> int:
    """The old and new values of texts in the events of those problems and reports."""
    erased = 0
    reports = [str(i) for i in report_ids]
    for start in range(0, max(len(problem_ids), len(reports)), BATCH):
        condition = or_(
            AuditEvent.problem_id.in_(problem_ids[start : start + BATCH]),
            (AuditEvent.resource_type == "report")
            & AuditEvent.resource_id.in_(reports[start : start + BATCH]),
        )
        rows = await session.execute(
            select(AuditEvent.id, AuditEvent.summary, AuditEvent.changes).where(condition)
        )
        for event_id, summary, changes in rows.all():
            # Summaries quote titles, comments and notes (`wording.SUMMARIES`): all go.
            new = {"summary": chain.erased_summary(summary), "changes": _erased_changes(changes)}
            if new != {"summary": summary, "changes": changes}:
                await session.execute(
                    update(AuditEvent)
                    .where(AuditEvent.id == event_id)
                    .values(new)
                    .execution_options(synchronize_session=False)
                )
                erased += 1
    return erased


async def purge(session: AsyncSession, years: int, now: datetime) -> Purge:
    """Erase what has outlived its retention; flush, never commit (a dry run rolls back)."""
    result = Purge(cutoff=cutoff_for(now, years))
    expired = _expired(result.cutoff)
    problem_ids: list[uuid.UUID] = list((await session.scalars(expired)).all())
    result.problems = len(problem_ids)
    if not problem_ids:
        return result
    permit = ErasurePermit()
    session.add(permit)
    await session.flush()
    ids = expired.scalar_subquery()
    for owned, columns in _texts(ids):
        model = columns[0].class_
        # A required text becomes the marker, an optional one empty; a client's If-Match
        # read before no longer matches (it would write the texts back).
        values: dict[str, Any] = {
            c.key: None if c.nullable else wording.ERASED_TEXT for c in columns
        }
        if hasattr(model, "version"):
            values["version"] = model.version + 1
        statement = (
            update(model)
            .where(owned, or_(*(_still_there(c) for c in columns)))
            .values(values)
            .execution_options(synchronize_session=False)
        )
        count = (await session.execute(statement)).rowcount  # type: ignore[attr-defined]
        if count:
            result.erased[model.__tablename__] = count
    # The search no longer finds them by their words: only by their reference.
    await session.execute(
        update(Problem)
        .where(Problem.id.in_(ids), Problem.search_text != func.lower(Problem.reference))
        .values(search_text=func.lower(Problem.reference))
        .execution_options(synchronize_session=False)
    )
    report_ids = list(
        (await session.scalars(select(Report.id).where(Report.problem_id.in_(ids)))).all()
    )
    if audited := await _erase_audit(session, problem_ids, report_ids):
        result.erased["audit_events"] = audited
    await session.execute(delete(ErasurePermit).where(ErasurePermit.id == permit.id))
    audit.record(
        session,
        None,
        action="governance.purge",
        resource_type="governance",
        resource_id="retention",
        summary=wording.purge_summary(result.problems, result.total),
        changes={
            "cutoff": [None, result.cutoff],
            "problems": [None, result.problems],
            "erased": [None, dict(result.erased)],
        },
    )
    await session.flush()
    return result
