"""The database owns the audit log's order and time (SPEC 8.1), tried as an insider: a role
made by `db grant NAME --agent --apply` writing to `audit_event` with its own SQL on a real
PostgreSQL server, and a database made by the schema before (0003)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from collabctl.domain.audit_chain import chain_key, event_hash, head_anchor
from collabctl.store.chain import PG_AT
from helpers import error_of, invoke, ok
from pg_fixtures import PostgresServer
from pg_roles import END, granted, login, make_role, owner, url_as

__all__ = ["make_role", "owner"]  # fixtures

pytestmark = pytest.mark.postgres

FORGED_ID = 2147483647
BACK_DATED = "2020-01-01T00:00:00.000000Z"


def verify(*anchor: str) -> dict[str, Any]:
    """`log --verify` (with ``--anchor`` when given) as the owner: it must say intact."""
    flags = ["--anchor", *anchor] if anchor else []
    result = invoke("log", "--verify", *flags, "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json()["intact"] is True
    return dict(result.json())


def head(conn: Any, number: str) -> str:
    row = conn.execute(
        "SELECT hash FROM audit_event WHERE customer_number = %s ORDER BY id DESC LIMIT 1",
        (number,),
    ).fetchone()
    return str(row[0])


def forge(
    conn: Any, number: str, prev_hash: str | None, table: str = "audit_event", **columns: Any
) -> None:
    """An INSERT written by hand, with a hash computed correctly over what it sends."""
    event = {
        "at": columns.get("at"),
        "actor": "mallory",
        "db_user": columns.get("db_user"),
        "scope": "agent",
        "action": "set-main-contact",
        "customer_number": number,
        "service": None,
        "details": {"note": "forged"},
    }
    digest = event_hash(event, prev_hash)
    names = ["actor", "scope", "action", "customer_number", "details", "prev_hash", "hash"]
    values = [event["actor"], "agent", event["action"], number, json.dumps(event["details"])]
    values += [prev_hash, digest]
    for name in ("id", "at", "db_user"):
        if name in columns:
            names.append(name)
            values.append(columns[name])
    conn.execute(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(values))})",
        values,
    )


@pytest.fixture
def agent(pg_server: PostgresServer, owner: str, make_role: Callable[[], str]) -> tuple[str, str]:
    """A role with an agent's rights, and its database URL."""
    role = make_role()
    granted(role, "agent")
    return role, url_as(owner, pg_server, role)


def test_a_forged_id_and_time_never_land_and_a_forged_event_lands_in_order_under_its_role(
    pg_server: PostgresServer,
    owner: str,
    agent: tuple[str, str],
    make_role: Callable[[], str],
) -> None:
    import psycopg

    role, url = agent
    before = verify()["digest"]
    with psycopg.connect(url) as conn:
        # a back-dated time is refused: the event's hash would cover a time it does not have
        with pytest.raises(psycopg.errors.CheckViolation, match="time is the database's"):
            forge(conn, "1007", head(conn, "1007"), id=FORGED_ID, at=BACK_DATED)
        conn.rollback()
        # so is a name that is not the connection's
        with pytest.raises(psycopg.errors.CheckViolation, match="session_user"):
            forge(conn, "1007", head(conn, "1007"), db_user="collab")
        conn.rollback()
        # the database's own time and name, read as collabctl reads them: the event lands,
        # but with the next id of the sequence, not the one it asked for
        at, user = conn.execute(f"SELECT {PG_AT}, session_user").fetchone()
        forge(conn, "1007", head(conn, "1007"), id=FORGED_ID, at=at, db_user=user)
        conn.commit()
        rows = conn.execute("SELECT id, at, db_user FROM audit_event ORDER BY id").fetchall()
    forged_id, forged_at, forged_by = rows[-1]
    assert forged_id == len(rows) < FORGED_ID and forged_by == role
    assert forged_at == at and forged_at > max(r[1] for r in rows[:-1])
    after_forgery = verify()["digest"]
    # an honest change by another agent afterwards: every digest taken before still holds
    honest = make_role()
    granted(honest, "agent")
    ok(login(owner, pg_server, honest)("end", "1007", *END, "--format", "json"))
    verify(before)
    verify(after_forgery)
    logged = ok(invoke("log", "--customer", "1007", "--format", "json"))
    by_id = {e["id"]: e for e in logged}
    assert by_id[forged_id]["db_user"] == role and by_id[forged_id]["actor"] == "mallory"
    assert max(by_id) > forged_id  # the honest event came after it, in order


def test_a_forked_or_pre_empted_chain_is_refused(
    pg_server: PostgresServer, owner: str, agent: tuple[str, str]
) -> None:
    import psycopg

    _role, url = agent
    ok(invoke("end", "1001", *END, "--format", "json"))
    with psycopg.connect(url) as conn:
        at, user = conn.execute(f"SELECT {PG_AT}, session_user").fetchone()
        first = conn.execute(
            "SELECT hash FROM audit_event WHERE customer_number = '1001' ORDER BY id LIMIT 1"
        ).fetchone()[0]
        assert first != head(conn, "1001")
        for prev_hash in (first, None, "0" * 64):
            with pytest.raises(psycopg.errors.SerializationFailure, match="not the head"):
                forge(conn, "1001", prev_hash, at=at, db_user=user)
            conn.rollback()
        # a temporary table of the same name does not stand in for the log
        conn.execute("CREATE TEMP TABLE audit_event (LIKE public.audit_event)")
        with pytest.raises(psycopg.errors.SerializationFailure, match="not the head"):
            forge(conn, "1001", None, "public.audit_event", at=at, db_user=user)
        conn.rollback()
    verify()


def test_collabctl_writes_in_order_through_the_trigger(
    pg_server: PostgresServer, owner: str, agent: tuple[str, str]
) -> None:
    """Single, bulk and import writes link to the head the database checks, with its time."""
    role, _url = agent
    run = login(owner, pg_server, role)
    ok(run("end", "1001", *END, "--format", "json"))
    bulk = run("end", "--from", "-", *END, "--format", "jsonl", input="1003\n1004\n")
    assert [r["status"] for r in bulk.jsonl()] == ["ended", "ended"], bulk.stderr
    error_of(run("end", "1003", *END, "--format", "json"), "already-ended")
    company = {
        "customer_number": "2001",
        "org_number": "556036-0793",
        "name": "Ny Kund AB",
        "subscriptions": [{"service": "eekonomi", "state": "active"}],
    }
    imported = run("import", "-", input=json.dumps({"companies": [company]}))
    assert imported.exit_code == 0, imported.stderr
    events = ok(invoke("log", "--reverse", "--format", "json"))
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    verify()


# -- a database made by the schema before --------------------------------------------------


def test_a_log_written_by_schema_0003_still_verifies_and_grows_in_order(
    pg_empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collabctl.store.database import Database

    url = pg_empty_database_url
    db = Database(url)
    try:
        db.upgrade("0003")
        heads: dict[str | None, str] = {}
        counts: dict[str | None, int] = {}
        with db.engine.begin() as conn:
            for index in range(6):
                number = None if index % 3 == 0 else f"100{index % 2}"
                event = {
                    "at": f"2024-01-0{index + 1}T00:00:00.000000Z",
                    "actor": "anna",
                    "db_user": "collab",  # what 0003's trigger sets: the session's user
                    "scope": "agent",
                    "action": "import",
                    "customer_number": number,
                    "service": None,
                    "details": {"index": index, "name": "Café Hörnet"},
                }
                digest = event_hash(event, heads.get(number))
                conn.exec_driver_sql(
                    "INSERT INTO audit_event (at, actor, scope, action, customer_number, "
                    "details, db_user, prev_hash, hash) "
                    "VALUES (%s, 'anna', 'agent', 'import', %s, %s, 'mallory', %s, %s)",
                    (event["at"], number, json.dumps(event["details"]), heads.get(number), digest),
                )
                heads[number] = digest
                counts[number] = counts.get(number, 0) + 1
    finally:
        db.dispose()
    # the digest of the log as 0003 left it, computed by hand
    digest = str(head_anchor(((chain_key(n), counts[n], h) for n, h in heads.items()), 6))
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", url)
    assert ok(invoke("db", "upgrade", "--format", "json"))["before"] == "0003"
    assert verify()["digest"] == digest
    assert invoke("demo", "--force").exit_code == 0
    verify(digest)
    events = ok(invoke("log", "--reverse", "--format", "json"))
    ids = [e["id"] for e in events]
    assert ids[:6] == list(range(1, 7)) and ids == sorted(set(ids))
    assert [e["details"].get("index") for e in events[:6]] == list(range(6))
    assert {e["db_user"] for e in events} == {"collab"}
    assert verify()["events"] == len(events)


def test_the_triggers_head_lookup_uses_the_chain_index_whatever_the_statistics(
    pg_database_url: str,
) -> None:
    """Statistics taken while the table was small would plan a sequential scan, which the
    trigger then repeats for every event of a bulk end. Planned as the trigger plans it
    (its own settings, one generic plan), the lookup is an index scan all the same."""
    import psycopg

    with psycopg.connect(pg_database_url, autocommit=True) as conn:
        ok(invoke("--database-url", pg_database_url, "demo", "--format", "json"))
        conn.execute("ANALYZE audit_event")
        (config,) = conn.execute(
            "SELECT proconfig FROM pg_proc WHERE proname = 'audit_event_append'"
        ).fetchone()
        conn.execute("SET plan_cache_mode = force_generic_plan")
        plans = {}
        for name, settings in (("without", []), ("trigger", config)):
            conn.execute("RESET enable_seqscan")
            for setting in settings:
                key, _, value = setting.partition("=")
                conn.execute(f"SELECT set_config('{key}', '{value}', false)")
            conn.execute(
                f"PREPARE head_{name}(varchar) AS SELECT e.hash FROM public.audit_event e "
                "WHERE e.customer_number = $1 ORDER BY e.id DESC LIMIT 1"
            )
            rows = conn.execute(f"EXPLAIN EXECUTE head_{name}('1001')").fetchall()
            plans[name] = "\n".join(row[0] for row in rows)
    assert "Seq Scan" in plans["without"]  # what the statistics alone would choose
    assert "Index Scan Backward using ix_audit_event_chain" in plans["trigger"]
    assert "Seq Scan" not in plans["trigger"]
