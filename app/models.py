"""Every table, imported once so that the metadata is complete (Alembic, tests)."""

from app.actions.models import Action
from app.core.audit import AuditEvent
from app.core.db import Base
from app.core.idempotency import IdempotencyKey
from app.core.outbox import OutboxEvent
from app.core.references import Counter
from app.core.schedule import ScheduledRun
from app.figures.models import (
    ClosedProblem,
    ClosingDays,
    MeasuredProblem,
    ProblemCount,
)
from app.governance import chain as _chain  # noqa: F401  (its commit hooks)
from app.governance.models import AccessLogEntry
from app.governance.screening import TextScreening
from app.gpos.models import Gpo, GpoCommune, GpoFacilitator, GpoMember
from app.identity.models import (
    ApiToken,
    CharterAcceptance,
    ConsoleSession,
    Invitation,
    SignInAttempt,
    User,
)
from app.indicators.models import Indicator, Measurement
from app.mail.models import Mail
from app.meetings.models import Meeting, MeetingAttendee, Review
from app.problems.models import Problem, ProblemComment
from app.reference.models import ActionKind, Category, Commune, Organisation
from app.reports.models import Report
from app.webhooks.models import Delivery, Webhook

metadata = Base.metadata

__all__ = [
    "AccessLogEntry",
    "Action",
    "ActionKind",
    "ApiToken",
    "AuditEvent",
    "Category",
    "CharterAcceptance",
    "ClosedProblem",
    "ClosingDays",
    "Commune",
    "ConsoleSession",
    "Counter",
    "Delivery",
    "Gpo",
    "GpoCommune",
    "GpoFacilitator",
    "GpoMember",
    "IdempotencyKey",
    "Indicator",
    "Invitation",
    "Mail",
    "MeasuredProblem",
    "Measurement",
    "Meeting",
    "MeetingAttendee",
    "Organisation",
    "OutboxEvent",
    "Problem",
    "ProblemComment",
    "ProblemCount",
    "Report",
    "Review",
    "ScheduledRun",
    "SignInAttempt",
    "TextScreening",
    "User",
    "Webhook",
    "metadata",
]
