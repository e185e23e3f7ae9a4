"""audit order: the database owns an event's id, time and db_user, and its chain's order

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 05:00:00.000000

PostgreSQL only (SQLite has no second writer to guard against): the trigger
that set ``db_user`` is replaced by one that, for every new audit event,

1. takes an advisory lock of the event's chain (as long as the transaction),
2. refuses the event unless its ``prev_hash`` is the hash of the chain's newest
   event (SQLSTATE 40001: an honest writer that lost a race runs again),
3. refuses an ``at`` or ``db_user`` other than the database's own (SQLSTATE
   23514): the event's hash covers both, and must cover what is stored,
4. sets ``id`` from the table's sequence after the lock, whatever the client
   sent, so a chain's ids ascend in the order its events were committed, and
   sets ``at`` (the transaction's start, by the server's clock) and
   ``db_user`` (``session_user``).

The column's default is dropped so that the sequence gives one number per
event. Events written before keep their ids, times and hashes: their chains
verify as before, and new events link to their heads.

The function runs with ``search_path`` set to ``pg_catalog, pg_temp`` and
names the table and the sequence with their schema, so that no object a
writer creates (a temporary table called ``audit_event``, a function called
``pg_advisory_xact_lock`` in another schema) can stand in for them. It also
runs with ``enable_seqscan`` off: its lookup of the chain's head is planned
once per connection, and statistics taken while the table was small (after a
fresh import) would otherwise fix a sequential scan for the whole of a bulk
end, one scan of the growing table per event; the index on
``(customer_number, id)`` answers it in one step at any size.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: The chain's lock is an advisory transaction lock of its own ("aut" and the chain key's
#: hashtext): cheap to compute for every row, and only ever taken here, where a writer
#: that holds it holds nothing else of the chain's. The time is collabctl.store.chain's
#: PG_AT (copied: a migration stays as it was written).
_APPEND = """
CREATE FUNCTION {schema}.audit_event_append() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp SET enable_seqscan = off AS $$
DECLARE
    chain text := coalesce(NEW.customer_number, '-');
    head text;
    now_at text := to_char(transaction_timestamp() AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
BEGIN
    PERFORM pg_advisory_xact_lock(6387060, hashtext(chain));
    IF NEW.customer_number IS NULL THEN
        SELECT e.hash INTO head FROM {schema}.audit_event e
        WHERE e.customer_number IS NULL ORDER BY e.id DESC LIMIT 1;
    ELSE
        SELECT e.hash INTO head FROM {schema}.audit_event e
        WHERE e.customer_number = NEW.customer_number ORDER BY e.id DESC LIMIT 1;
    END IF;
    IF NEW.prev_hash IS DISTINCT FROM head THEN
        RAISE EXCEPTION 'audit event refused: its prev_hash is not the head of the chain of %',
            CASE WHEN NEW.customer_number IS NULL THEN 'events without a company'
                 ELSE 'customer ' || NEW.customer_number END
            USING ERRCODE = 'serialization_failure',
                  HINT = 'read the chain''s head under its lock and link to it';
    END IF;
    IF NEW.at IS DISTINCT FROM now_at AND NEW.at IS NOT NULL THEN
        RAISE EXCEPTION 'audit event refused: its time is the database''s (%), not %',
            now_at, NEW.at USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.db_user IS DISTINCT FROM session_user AND NEW.db_user IS NOT NULL THEN
        RAISE EXCEPTION 'audit event refused: db_user is the database''s session_user (%), not %',
            session_user, NEW.db_user USING ERRCODE = 'check_violation';
    END IF;
    NEW.id := nextval('{sequence}'::regclass);
    NEW.at := now_at;
    NEW.db_user := session_user;
    RETURN NEW;
END
$$"""


def upgrade() -> None:
    if not _postgres():
        return
    schema, sequence = _names()
    op.execute("DROP TRIGGER audit_event_db_user ON audit_event")
    op.execute("DROP FUNCTION audit_event_set_db_user()")
    op.execute(_APPEND.format(schema=schema, sequence=sequence.replace("'", "''")))
    op.execute(
        "CREATE TRIGGER audit_event_append BEFORE INSERT ON audit_event "
        f"FOR EACH ROW EXECUTE FUNCTION {schema}.audit_event_append()"
    )
    op.execute("ALTER TABLE audit_event ALTER COLUMN id DROP DEFAULT")


def downgrade() -> None:
    if not _postgres():
        return
    schema, sequence = _names()
    op.execute(f"ALTER TABLE audit_event ALTER COLUMN id SET DEFAULT nextval('{sequence}')")
    op.execute("DROP TRIGGER audit_event_append ON audit_event")
    op.execute(f"DROP FUNCTION {schema}.audit_event_append()")
    op.execute(
        """CREATE FUNCTION audit_event_set_db_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.db_user := session_user;
    RETURN NEW;
END
$$"""
    )
    op.execute(
        "CREATE TRIGGER audit_event_db_user BEFORE INSERT ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_set_db_user()"
    )


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _names() -> tuple[str, str]:
    """The table's schema (quoted) and its id sequence (qualified and quoted)."""
    row = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT quote_ident(n.nspname), pg_get_serial_sequence(c.oid::regclass::text, 'id') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = 'audit_event'::regclass"
        )
        .one()
    )
    return str(row[0]), str(row[1])
