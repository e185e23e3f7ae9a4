"""`log --verify` on PostgreSQL waits only for transactions writing to collabctl's audit
table in its own database (SPEC 8.1): a transaction left open elsewhere on the server
(another database, another table) does not hold it up."""

from __future__ import annotations

import pytest

from helpers import error_of, invoke, ok
from pg_fixtures import PostgresServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def owner(pg_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", pg_database_url)
    assert invoke("demo").exit_code == 0
    # a writer that never finishes makes the check give up after this long, not 60 s
    monkeypatch.setattr("collabctl.operations.verify.SETTLE_TIMEOUT_S", 0.5)
    return pg_database_url


def test_an_open_transaction_in_another_database_or_table_is_not_waited_for(
    pg_server: PostgresServer, owner: str
) -> None:
    import psycopg

    where = {"host": str(pg_server.socket_dir), "port": pg_server.port, "user": "postgres"}
    with (
        psycopg.connect(dbname="postgres", **where) as elsewhere,
        psycopg.connect(owner) as same_database,
    ):
        elsewhere.execute("CREATE TABLE verify_settle_elsewhere (x int)")
        same_database.execute("UPDATE company SET name = name WHERE customer_number = '1001'")
        same_database.execute("SELECT count(*) FROM audit_event")  # reading is no writing
        # both transactions stay open while the check runs
        assert ok(invoke("log", "--verify", "--format", "json"))["intact"] is True
        elsewhere.rollback()
        same_database.rollback()


def test_an_open_writer_of_the_audit_table_is_waited_for(
    pg_server: PostgresServer, owner: str
) -> None:
    import psycopg

    with psycopg.connect(owner) as writer:
        # the lock an INSERT into the audit table takes and holds until its transaction ends
        writer.execute("LOCK TABLE audit_event IN ROW EXCLUSIVE MODE")
        error = error_of(invoke("log", "--verify", "--format", "json"), "conflict")
        assert "writing to the audit log since before the check began" in error["message"]
        writer.rollback()
    assert ok(invoke("log", "--verify", "--format", "json"))["intact"] is True
