"""references: a report's number from a sequence of its year on PostgreSQL, not a locked row

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 14:30:00

A report's reference came from the `counters` row of its prefix and year, bumped by an
upsert in the intake's transaction: the row stayed locked until that transaction's commit,
so concurrent reports took turns behind each other's remaining statements and commit (at a
million problems, 16 clients: the upsert waited 40 ms on average, p95 239 ms). A sequence
hands out numbers without holding anything: `reference_next(name)` returns the next number
of the name's sequence, creating it at the year's first reference from the counter's value
(so the numbers go on where the row left them). A number is never handed out twice; one
taken by an intake that then fails is not given back (a gap).

The sequence is found by a plain query of `pg_class` (each statement of the function reads
afresh in READ COMMITTED), and created under an advisory lock: a concurrent first reference
of the year waits for the creator's commit and then finds it, or creates it if the creator
rolled back. The counter's row gets the name if it had none, so a downgrade writes each
sequence's last number back into it.

SQLite (one writer at a time, so its upsert serialises nothing more) keeps the counter.
Problems keep it on both: a facilitator's creations are few, and their references stay
consecutive.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The advisory locks' class for the creation of a name's sequence (the audit chain's and
# the access log's locks use the one-key form: another space).
LOCK_CLASS = 0x52454600  # "REF\0"

SEQUENCE_NAME = "'reference_' || lower(regexp_replace({name}, '[^A-Za-z0-9]', '_', 'g'))"

NEXT = f"""
CREATE FUNCTION reference_next(p_name varchar) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    seq_name text := {SEQUENCE_NAME.format(name="p_name")};
    seq oid;
BEGIN
    SELECT c.oid INTO seq FROM pg_class c
        WHERE c.relname = seq_name AND c.relnamespace = current_schema()::regnamespace;
    IF seq IS NULL THEN
        PERFORM pg_advisory_xact_lock({LOCK_CLASS}, hashtext(p_name));
        SELECT c.oid INTO seq FROM pg_class c
            WHERE c.relname = seq_name AND c.relnamespace = current_schema()::regnamespace;
        IF seq IS NULL THEN
            INSERT INTO counters (name, value) VALUES (p_name, 0) ON CONFLICT (name) DO NOTHING;
            EXECUTE format('CREATE SEQUENCE %I START %s', seq_name,
                (SELECT value FROM counters WHERE name = p_name) + 1);
            seq := seq_name::regclass;
        END IF;
    END IF;
    RETURN nextval(seq::regclass);
END $$
"""

# The reference itself (`R-2026-000045`, as `app.core.references` writes it: six digits at
# least), for an insert that takes its number in the statement that stores the row.
TAKE = """
CREATE FUNCTION reference_take(p_name varchar) RETURNS varchar LANGUAGE plpgsql AS $$
DECLARE
    n bigint := reference_next(p_name);
BEGIN
    RETURN p_name || '-' || CASE WHEN n < 1000000 THEN lpad(n::text, 6, '0') ELSE n::text END;
END $$
"""

# Each sequence's last number back into its counter's row, then the sequences dropped.
DOWN = f"""
DO $$
DECLARE
    counter record;
    seq_name text;
    last bigint;
BEGIN
    FOR counter IN SELECT name FROM counters LOOP
        seq_name := {SEQUENCE_NAME.format(name="counter.name")};
        IF to_regclass(quote_ident(seq_name)) IS NOT NULL THEN
            EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END'
                           ' FROM %I', seq_name) INTO last;
            UPDATE counters SET value = greatest(value, last) WHERE name = counter.name;
            EXECUTE format('DROP SEQUENCE %I', seq_name);
        END IF;
    END LOOP;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NEXT)
        op.execute(TAKE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DOWN)
        op.execute("DROP FUNCTION reference_take(varchar)")
        op.execute("DROP FUNCTION reference_next(varchar)")
