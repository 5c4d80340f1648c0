"""audit events: sealed inside the COMMIT on PostgreSQL, the chain's lock held only there

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 16:00:00

A write's audit events were sealed just before its commit by `audit_events_seal`, which
took the chain's advisory lock: the lock then stayed held through the application's turn
of its event loop before it sent COMMIT, and through the commit. Under 16 clients sending
reports, that turn is several milliseconds, and every write waited for the one before
(the seal's call: 16 ms on average, the intake's p95 above 100 ms).

The application now hands the digests to the transaction (`gpo.audit_seal`, a setting
local to it: "id:digest,id:digest" in the order to chain them) and a deferred constraint
trigger seals them when PostgreSQL runs the COMMIT: the lock is taken there and released
by the same commit, with no round trip to the application in between. The chain is the
same: the events in the order given, after the last sealed one; an event listed that a
rolled-back savepoint took away is skipped (the application may digest an event as its
insert returns it, before knowing whether it stays).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_LOCK = 0x67706F5F61756469  # "gpo_audi", as app.governance.chain.AUDIT
GENESIS = "0" * 64  # app.governance.models.GENESIS

SEAL = f"""
CREATE FUNCTION audit_events_seal_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    listed text := current_setting('gpo.audit_seal', true);
    pair text;
    last_seq bigint;
    last_hash varchar;
    current varchar;
BEGIN
    -- The first of the transaction's events does it for all; the others find it done.
    IF listed IS NULL OR listed = '' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('gpo.audit_seal', '', true);
    PERFORM pg_advisory_xact_lock({AUDIT_LOCK});
    SELECT seq, hash INTO last_seq, last_hash FROM audit_events
        WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    last_seq := coalesce(last_seq, 0);
    last_hash := coalesce(last_hash, '{GENESIS}');
    FOREACH pair IN ARRAY string_to_array(listed, ',') LOOP
        current := encode(sha256(convert_to(last_hash || split_part(pair, ':', 2), 'UTF8')),
                          'hex');
        UPDATE audit_events SET seq = last_seq + 1, prev_hash = last_hash, hash = current
            WHERE id = split_part(pair, ':', 1)::uuid AND seq IS NULL;
        -- An event a rolled-back savepoint took away is no link of the chain.
        IF FOUND THEN
            last_seq := last_seq + 1;
            last_hash := current;
        END IF;
    END LOOP;
    RETURN NULL;
END $$
"""

TRIGGER = """
CREATE CONSTRAINT TRIGGER audit_events_sealed_at_commit AFTER INSERT ON audit_events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION audit_events_seal_at_commit()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SEAL)
        op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_sealed_at_commit ON audit_events")
        op.execute("DROP FUNCTION audit_events_seal_at_commit()")
