"""the access log, the hash chains, the auditor role

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 19:30:00

- `access_log`: one row per request that read `police` or `restricted` records (issue 12,
  item 4); `audit_events` get `seq`, `prev_hash` and `hash` (`app.governance.chain`).
- Insert-only, on both databases, by triggers: the access log refuses every UPDATE and
  DELETE (and TRUNCATE on PostgreSQL); the audit events refuse them too, except two narrow
  UPDATEs: the sealing at commit (a row without hash gets `seq`, `prev_hash` and `hash`,
  nothing else changes), and the retention purge's erasure (only `summary` and `changes`
  change, while
  the purge's own transaction holds a row in `audit_erasure_permits`: see
  `app.governance.retention`). A superuser can still bypass triggers
  (`session_replication_role = replica`): that is what `GET /governance/verify` detects.
- The audit events already stored are chained here, oldest first. This migration imports
  the chain's digest from the application, against the rule of 0015: the digest is the
  chain's fixed format, which verification recomputes with that same code, so the two must
  not drift apart (a change to it would be a new chain format and a migration of its own).
- `console_sessions.access_purpose`: the purpose a console session declared.
- The role `auditor` joins the users' CHECK constraint.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.audit import AuditEvent
from app.governance.chain import audit_digest, link
from app.governance.models import GENESIS

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = ("admin", "facilitator", "commander", "partner")
ROLES_AFTER = (*ROLES_BEFORE, "auditor")
PURPOSES = ("meeting", "follow_up", "investigation", "statistics", "audit", "unspecified")

CHAIN_COLUMNS = ("seq", "prev_hash", "hash")
# What the retention purge may rewrite (texts, kept in the chain as their digests).
ERASABLE_COLUMNS = ("summary", "changes")
# Every other column of audit_events.
FIXED_COLUMNS = (
    "id",
    "at",
    "actor_id",
    "token_id",
    "request_id",
    "action",
    "resource_type",
    "resource_id",
    "problem_id",
    "visibility",
)


def _same(columns: Sequence[str], compare: str) -> str:
    return " AND ".join(f"NEW.{c} {compare} OLD.{c}" for c in columns)


def _roles(roles: Sequence[str]) -> sa.TextClause:
    return sa.text("role IN (" + ", ".join(f"'{r}'" for r in roles) + ")")


# The access log's append (app.governance.chain.APPEND_ACCESS): the chain's lock, its last
# hash, the insert, in one call; each statement of a plpgsql function takes a fresh snapshot.
# A read request's transaction commits without waiting for the disk (see the chain).
ACCESS_LOG_LOCK = 0x67706F5F61636373  # "gpo_accs", as app.governance.chain.ACCESS_LOG
APPEND_ACCESS = f"""
CREATE FUNCTION access_log_append(
    p_id uuid, p_at timestamptz, p_user_id uuid, p_organisation_id uuid,
    p_session_or_token_id uuid, p_resource_type varchar, p_resource_ids jsonb, p_route varchar,
    p_purpose varchar, p_request_id varchar, p_digest varchar, p_read_only boolean
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash varchar;
BEGIN
    IF p_read_only THEN
        -- A read's transaction: its commit need not wait for the disk (app.governance.chain).
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM pg_advisory_xact_lock({ACCESS_LOG_LOCK});
    SELECT seq, hash INTO last_seq, last_hash FROM access_log ORDER BY seq DESC LIMIT 1;
    last_hash := coalesce(last_hash, '{GENESIS}');
    INSERT INTO access_log (id, seq, at, user_id, organisation_id, session_or_token_id,
                            resource_type, resource_ids, route, purpose, request_id,
                            prev_hash, hash)
    VALUES (p_id, coalesce(last_seq, 0) + 1, p_at, p_user_id, p_organisation_id,
            p_session_or_token_id, p_resource_type, p_resource_ids, p_route, p_purpose,
            p_request_id, last_hash,
            encode(sha256(convert_to(last_hash || p_digest, 'UTF8')), 'hex'));
END $$
"""

# The audit events' sealing (app.governance.chain.SEAL_AUDIT): the transaction's events, in
# the order given, with their content digests computed by the application beforehand.
AUDIT_LOCK = 0x67706F5F61756469  # "gpo_audi", as app.governance.chain.AUDIT
SEAL_AUDIT = f"""
CREATE FUNCTION audit_events_seal(p_ids uuid[], p_digests varchar[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash varchar;
    current varchar;
BEGIN
    PERFORM pg_advisory_xact_lock({AUDIT_LOCK});
    SELECT seq, hash INTO last_seq, last_hash FROM audit_events
        WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    last_seq := coalesce(last_seq, 0);
    last_hash := coalesce(last_hash, '{GENESIS}');
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        last_seq := last_seq + 1;
        current := encode(sha256(convert_to(last_hash || p_digests[i], 'UTF8')), 'hex');
        UPDATE audit_events SET seq = last_seq, prev_hash = last_hash, hash = current
            WHERE id = p_ids[i];
        last_hash := current;
    END LOOP;
END $$
"""

POSTGRESQL_UP = [
    APPEND_ACCESS,
    SEAL_AUDIT,
    """
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is insert-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$
""",
    """
CREATE TRIGGER access_log_insert_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change()
""",
    """
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()
""",
    f"""
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.seq IS NOT NULL
       AND {_same((*FIXED_COLUMNS, *ERASABLE_COLUMNS), "IS NOT DISTINCT FROM")} THEN
        RETURN NEW;  -- sealed at commit
    END IF;
    IF TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM audit_erasure_permits)
       AND {_same((*FIXED_COLUMNS, *CHAIN_COLUMNS), "IS NOT DISTINCT FROM")} THEN
        RETURN NEW;  -- the retention purge erases texts of `changes`
    END IF;
    RAISE EXCEPTION 'audit_events is insert-only' USING ERRCODE = 'insufficient_privilege';
END $$
""",
    """
CREATE TRIGGER audit_events_insert_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_guard()
""",
    """
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()
""",
]

SQLITE_UP = [
    """
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is insert-only'); END
""",
    """
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is insert-only'); END
""",
    f"""
CREATE TRIGGER audit_events_insert_only BEFORE UPDATE ON audit_events
    WHEN NOT (
        (OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.seq IS NOT NULL
         AND {_same((*FIXED_COLUMNS, *ERASABLE_COLUMNS), "IS")})
        OR (EXISTS (SELECT 1 FROM audit_erasure_permits)
            AND {_same((*FIXED_COLUMNS, *CHAIN_COLUMNS), "IS")})
    )
BEGIN SELECT RAISE(ABORT, 'audit_events is insert-only'); END
""",
    """
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is insert-only'); END
""",
]


def _chain_stored_events() -> None:
    """Seal the events stored before this revision, in the order they happened."""
    table = AuditEvent.__table__
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(*(table.c[name] for name in (*FIXED_COLUMNS, *ERASABLE_COLUMNS))).order_by(
            table.c.at, table.c.id
        )
    ).mappings()
    previous, sealed = GENESIS, []
    for seq, row in enumerate(rows, start=1):
        current = link(previous, audit_digest(row))
        sealed.append({"key": row["id"], "seq": seq, "prev_hash": previous, "hash": current})
        previous = current
    if sealed:
        connection.execute(
            table.update()
            .where(table.c.id == sa.bindparam("key"))
            .values(seq=sa.bindparam("seq"), prev_hash=sa.bindparam("prev_hash"),
                    hash=sa.bindparam("hash")),
            sealed,
        )


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("session_or_token_id", sa.Uuid(), nullable=True),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column(
            "resource_ids",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(*PURPOSES, name="access_purpose", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_access_log_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
    )
    op.create_index("ix_access_log_seq", "access_log", ["seq"], unique=True)
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_index("ix_access_log_user_id_at", "access_log", ["user_id", "at"])
    op.create_table(
        "audit_erasure_permits",
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_erasure_permits"),
    )
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_audit_events_seq", ["seq"], unique=True)
    with op.batch_alter_table("console_sessions") as batch_op:
        batch_op.add_column(sa.Column("access_purpose", sa.String(length=20), nullable=True))
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("user_role", type_="check")
        batch_op.create_check_constraint("user_role", _roles(ROLES_AFTER))
    _chain_stored_events()
    for statement in POSTGRESQL_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_insert_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_guard()")
        op.execute("DROP TRIGGER access_log_no_truncate ON access_log")
        op.execute("DROP TRIGGER access_log_insert_only ON access_log")
        op.execute("DROP FUNCTION refuse_change()")
        op.execute("DROP FUNCTION access_log_append")
        op.execute("DROP FUNCTION audit_events_seal")
    else:
        for name in (
            "audit_events_no_delete",
            "audit_events_insert_only",
            "access_log_no_delete",
            "access_log_no_update",
        ):
            op.execute(f"DROP TRIGGER {name}")
    # An auditor has no place in the older roles: kept, but disabled and without rights.
    op.execute("UPDATE users SET role = 'partner', active = false WHERE role = 'auditor'")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("user_role", type_="check")
        batch_op.create_check_constraint("user_role", _roles(ROLES_BEFORE))
    with op.batch_alter_table("console_sessions") as batch_op:
        batch_op.drop_column("access_purpose")
    # ALTER TABLE ... DROP COLUMN on both: SQLite's batch mode would copy the table and
    # lose its outbox trigger (0016).
    op.drop_index("ix_audit_events_seq", table_name="audit_events")
    for column in ("hash", "prev_hash", "seq"):
        op.execute(f"ALTER TABLE audit_events DROP COLUMN {column}")
    op.drop_table("audit_erasure_permits")
    op.drop_index("ix_access_log_user_id_at", table_name="access_log")
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_index("ix_access_log_seq", table_name="access_log")
    op.drop_table("access_log")
