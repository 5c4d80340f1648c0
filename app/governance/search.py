"""The DPO's subject search: every free text and every person's name or e-mail that
mentions a name or an identifier, to answer a data subject's request (GDPR art. 15 to 17,
directive 2016/680 art. 14 to 16).

The texts are compared as `app.core.search.normalise` writes them (case and accents
folded, spaces collapsed), in Python: only the problems keep a normalised copy, and no SQL
function folds accents the same way on SQLite and PostgreSQL. So the search reads every
text of the history, table by table in primary-key order, in batches (each one a short
statement, far from the statement timeout), and stops once it has a page. No index can
serve such a read: it is the price of a request a DPO makes a few times a year (README,
"The DPO's subject search").
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, null, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from app import wording
from app.actions.models import Action
from app.core import audit
from app.core.audit import AuditEvent
from app.core.idempotency import IdempotencyKey
from app.core.search import normalise
from app.identity.models import SignInAttempt, User
from app.identity.principal import Principal
from app.indicators.models import Indicator, Measurement
from app.mail.models import Mail
from app.meetings.models import Meeting, Review
from app.problems.models import Problem, ProblemComment
from app.reports.models import Report
from app.webhooks.models import Delivery, Webhook

# Rows read per statement.
BATCH = 1000
# Characters of the original text kept on each side of a match.
EXCERPT_CONTEXT = 40
MIN_QUERY_LENGTH = 3


@dataclass(frozen=True)
class Source:
    """A table holding text about people: its free-text columns (`texts`), the JSON
    columns whose string values are such texts (`documents`: audit changes, webhook
    bodies), and the problem its rows belong to, when they belong to one."""

    resource_type: str
    id: InstrumentedAttribute[uuid.UUID]
    texts: tuple[InstrumentedAttribute[Any], ...]
    problem_id: Any = None
    documents: tuple[InstrumentedAttribute[Any], ...] = ()

    @property
    def columns(self) -> tuple[InstrumentedAttribute[Any], ...]:
        return (*self.texts, *self.documents)


def _indicator_problem(indicator_id: Any) -> Any:
    return select(Indicator.problem_id).where(Indicator.id == indicator_id).scalar_subquery()


# Every text the service keeps about people, in the order the search reads them (and the
# processing register lists them). A new free-text column belongs here.
SOURCES: tuple[Source, ...] = (
    Source(
        "problem",
        Problem.id,
        (
            Problem.title,
            Problem.description,
            Problem.objective,
            Problem.outcome_note,
            Problem.address,
            Problem.time_pattern,
        ),
        Problem.id,
    ),
    Source(
        "report",
        Report.id,
        (
            Report.description,
            Report.public_note,
            Report.address,
            Report.time_pattern,
            Report.external_ref,
        ),
        Report.problem_id,
    ),
    Source("comment", ProblemComment.id, (ProblemComment.body,), ProblemComment.problem_id),
    Source("review", Review.id, (Review.note,), Review.problem_id),
    Source("meeting", Meeting.id, (Meeting.notes, Meeting.location)),
    Source(
        "action",
        Action.id,
        (Action.title, Action.description, Action.result_note),
        Action.problem_id,
    ),
    Source("indicator", Indicator.id, (Indicator.name, Indicator.source), Indicator.problem_id),
    Source(
        "measurement",
        Measurement.id,
        (Measurement.note,),
        _indicator_problem(Measurement.indicator_id),
    ),
    # Old and new values of every change, transition notes among them.
    Source(
        "audit_event",
        AuditEvent.id,
        (AuditEvent.summary,),
        AuditEvent.problem_id,
        (AuditEvent.changes,),
    ),
    Source("user", User.id, (User.display_name, User.email)),
    Source("sign_in_attempt", SignInAttempt.id, (SignInAttempt.email,)),
    Source("mail", Mail.id, (Mail.to_address, Mail.subject)),
    Source("webhook", Webhook.id, (Webhook.description,)),
    Source("webhook_delivery", Delivery.id, (), None, (Delivery.body,)),
    # Stored answers replayed for an Idempotency-Key: copies of what was written.
    Source("idempotency_key", IdempotencyKey.id, (IdempotencyKey.response_body,)),
)
SOURCE_RANKS = {source.resource_type: rank for rank, source in enumerate(SOURCES)}


@dataclass(frozen=True)
class Position:
    """Where a match is, in the order the search reads: the source, the row, the field
    (its column's rank, then its path inside a JSON document)."""

    rank: int
    row_id: uuid.UUID
    column: int
    path: str

    @property
    def resource_type(self) -> str:
        return SOURCES[self.rank].resource_type

    @property
    def field(self) -> str:
        name = SOURCES[self.rank].columns[self.column].key
        return f"{name}.{self.path}" if self.path else name

    def sort_values(self) -> list[Any]:
        return [self.resource_type, self.row_id, self.field]

    @classmethod
    def after(cls, values: list[Any]) -> Position:
        """The position a cursor's sort values name; ValueError for one that names none."""
        resource_type, row_id, field = values
        rank = SOURCE_RANKS.get(resource_type, -1)
        if rank < 0 or not isinstance(row_id, uuid.UUID):
            raise ValueError("no such source")
        name, _, path = str(field).partition(".")
        names = [column.key for column in SOURCES[rank].columns]
        if name not in names:
            raise ValueError("no such field")
        return cls(rank, row_id, names.index(name), path)

    def key(self) -> tuple[int, uuid.UUID, int, str]:
        return (self.rank, self.row_id, self.column, self.path)


@dataclass(frozen=True)
class Match:
    position: Position
    problem_id: uuid.UUID | None
    problem_reference: str | None
    excerpt: str


# --- Matching: the normalised text, and where each of its characters came from ----------


def folded_with_origins(text: str) -> tuple[str, list[int]]:
    """`normalise(text)`, and for each of its characters the index of the character of
    `text` it comes from (an excerpt is cut from the text as written)."""
    chars: list[str] = []
    origins: list[int] = []
    space_pending = False
    for index, char in enumerate(text):
        for part in unicodedata.normalize("NFKD", char.casefold()):
            if unicodedata.combining(part):
                continue
            if part.isspace():
                space_pending = bool(chars)
                continue
            if space_pending:
                chars.append(" ")
                origins.append(index)
                space_pending = False
            chars.append(part)
            origins.append(index)
    return "".join(chars), origins


def ascii_folded(text: str) -> str:
    """`normalise(text)` with every character outside ASCII dropped, spaces collapsed
    again, in C-speed steps (three times as fast). An ASCII needle in `normalise(text)` is
    in this too, whatever the text (combining accents and spaces are all it drops between
    ASCII characters): a pre-test that rules most texts out early."""
    if text.isascii():
        return " ".join(text.lower().split())
    spaced = " ".join(unicodedata.normalize("NFKD", text.casefold()).split())
    return " ".join(spaced.encode("ascii", "ignore").decode("ascii").split())


def excerpt(text: str, needle: str) -> str | None:
    """A short window of `text` around the first place its normalised form contains
    `needle` (already normalised), or None when it does not."""
    if needle.isascii() and needle not in ascii_folded(text):
        return None
    if needle not in normalise(text):  # origins only for a match
        return None
    folded, origins = folded_with_origins(text)
    found = folded.find(needle)
    start, end = origins[found], origins[found + len(needle) - 1] + 1
    left, right = max(0, start - EXCERPT_CONTEXT), min(len(text), end + EXCERPT_CONTEXT)
    window = " ".join(text[left:right].split())
    return ("…" if left > 0 else "") + window + ("…" if right < len(text) else "")


def document_texts(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """The string values of a JSON document with their paths (`description`,
    `problem.title`), keys sorted: PostgreSQL's JSONB does not keep the order written."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key in sorted(value):
            yield from document_texts(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from document_texts(item, path)


# --- Reading ------------------------------------------------------------------------------


def _batch(source: Source) -> Select[Any]:
    owner = aliased(Problem)
    problem_id = null() if source.problem_id is None else source.problem_id
    statement = select(
        source.id,
        problem_id.label("problem_id"),
        (null() if source.problem_id is None else owner.reference).label("problem_reference"),
        *source.columns,
    )
    if source.problem_id is not None:
        statement = statement.outerjoin(owner, owner.id == source.problem_id)
    return statement.order_by(source.id).limit(BATCH)


async def _rows(
    session: AsyncSession, source: Source, start: uuid.UUID | None
) -> AsyncIterator[Any]:
    """The source's rows from `start` on (included), in batches, in primary-key order."""
    statement = _batch(source)
    after = None
    while True:
        page = statement
        if after is not None:
            page = page.where(source.id > after)
        elif start is not None:
            page = page.where(source.id >= start)
        rows = (await session.execute(page)).all()
        for row in rows:
            yield row
        if len(rows) < BATCH:
            return
        after = rows[-1][0]


def _fields(source: Source, row: Any) -> Iterator[tuple[int, str, str]]:
    """(column rank, path in a document, text) of each text of the row."""
    values = row[3:]
    for column, value in enumerate(values):
        if column < len(source.texts):
            if value:
                yield column, "", value
        else:
            for path, text in document_texts(value):
                yield column, path, text


async def search(
    session: AsyncSession, query: str, *, after: Position | None, limit: int
) -> tuple[list[Match], bool]:
    """The first `limit` matches of `query` past `after`, in the search's order, and
    whether more follow."""
    needle = normalise(query)
    matches: list[Match] = []
    first = 0 if after is None else after.rank
    for rank in range(first, len(SOURCES)):
        source = SOURCES[rank]
        start = after.row_id if after is not None and rank == after.rank else None
        async for row in _rows(session, source, start):
            for column, path, text in _fields(source, row):
                position = Position(rank, row[0], column, path)
                if after is not None and position.key() <= after.key():
                    continue
                if (window := excerpt(text, needle)) is None:
                    continue
                if len(matches) == limit:
                    return matches, True
                matches.append(Match(position, row.problem_id, row.problem_reference, window))
    return matches, False


async def log_search(
    session: AsyncSession, principal: Principal, *, query: str, matches: int
) -> None:
    """A search is itself logged: an audit event with the query's length and the number of
    matches answered, never the query, which names the person searched for (a log is the
    last place a name should be copied to: it outlives the texts the purge erases). The
    access log names the records found (the route calls `service.log_read`).

    The search's read transaction ends first: on SQLite a read transaction cannot turn into
    a write once another writer has committed (SQLITE_BUSY_SNAPSHOT), while a fresh one
    waits for the write lock like any writer."""
    await session.commit()
    audit.record(
        session,
        principal,
        action="governance.subject_search",
        resource_type="governance",
        resource_id="subject-search",
        summary=wording.summary("governance.subject_search", length=len(query), matches=matches),
        changes={"query_length": [None, len(query)], "matches": [None, matches]},
    )
    await session.flush()
