"""problems of a sensitive category raised to restricted

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00

From issue 12 on, a problem whose category is sensitive (`drug_dealing`: what is forwarded
to the CROSS) is `restricted` whatever is asked (`app.problems.service.governed_visibility`).
Problems stored before at a lower level are raised here, their version raised with them (so
a client's `If-Match` read before the upgrade no longer matches). Running it again changes
nothing: only rows still below `restricted` are touched.

No audit event is written: the events carry the French summaries and the outbox notes that
the application composes (`app.wording`, `app.core.audit`), which a migration must not import
(it would bind an old revision to today's code). The raise is visible in each problem's
`version` and `updated_at`, and the upgrade itself is the record. Nothing to undo: lowering
the rows again would expose them; the downgrade leaves them restricted.

The figures' summary tables (0008, 0014) do not hold visibility; their PostgreSQL triggers
see an update that changes none of their columns.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RAISE = """
UPDATE problems
SET visibility = 'restricted', version = version + 1, updated_at = :now
WHERE visibility <> 'restricted'
  AND category IN (SELECT code FROM categories WHERE sensitive)
"""


def upgrade() -> None:
    bind = op.get_bind()
    # SQLite stores naive UTC text (as `app.core.db.UTCDateTime` writes it), PostgreSQL a
    # timestamp with time zone.
    aware = bind.dialect.name != "sqlite"
    now = datetime.now(UTC) if aware else datetime.now(UTC).replace(tzinfo=None)
    moment = sa.bindparam("now", now, type_=sa.DateTime(timezone=aware))
    statement = sa.text(RAISE).bindparams(moment)
    op.execute(statement)


def downgrade() -> None:
    pass
