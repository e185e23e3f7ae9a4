"""Trust in the audit log: db_user, append-only triggers, hash chains and `log --verify`,
on SQLite and on a real PostgreSQL server (SPEC 7.5).

Tampering is done the way someone with direct access to the database would do it:
the sqlite3 module on the file (after dropping the triggers), a PostgreSQL superuser
(after disabling them).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collabctl.domain.audit_chain import Anchor
from helpers import CLI, db_url, error_of, log_events, ok, sqlite_only
from pg_fixtures import PostgresServer
from tampering import drop_guards, events, raw

END = ("--service", "eekonomi", "--outcome", "continue", "--by", "office", "--yes")


def verify(cli: CLI, *args: str) -> Any:
    return cli("log", "--verify", *args, "--format", "json")


# -- db_user ---------------------------------------------------------------------------------


def test_every_event_records_who_the_database_says_wrote_it(
    demo: CLI, backend: str, request: pytest.FixtureRequest
) -> None:
    ok(demo("--actor", "someone-else", "end", "1001", *END, "--format", "json"))
    logged = log_events(demo)
    expected = pwd.getpwuid(os.getuid()).pw_name if backend == "sqlite" else "collab"
    assert {e["db_user"] for e in logged} == {expected}
    end = next(e for e in logged if e["action"] == "end")
    assert end["actor"] == "someone-else"
    assert list(end)[:5] == ["id", "at", "actor", "db_user", "scope"]
    # every format carries it
    assert all(e["db_user"] == expected for e in demo("log", "--format", "jsonl").jsonl())
    header = demo("log", "--format", "csv").stdout.splitlines()[0].split(",")
    assert "db_user" in header
    assert expected in demo("log").stdout


@sqlite_only  # PostgreSQL's db_user is the database's session_user (tested above)
def test_on_sqlite_db_user_is_the_account_of_the_real_uid_not_the_environment(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "mallory")
    assert cli("demo").exit_code == 0
    account = pwd.getpwuid(os.getuid()).pw_name
    assert account != "mallory"
    assert {e["db_user"] for e in log_events(cli)} == {account}


@pytest.mark.postgres
def test_a_client_cannot_forge_db_user_on_postgres(
    pg_server: PostgresServer, pg_database_url: str
) -> None:
    import psycopg

    with psycopg.connect(pg_database_url) as conn:  # the owner of the tables
        with pytest.raises(psycopg.errors.CheckViolation, match="session_user"):
            conn.execute(
                "INSERT INTO audit_event (actor, scope, action, details, db_user, hash) "
                "VALUES ('a', 'agent', 'x', '{}', 'mallory', 'h')"
            )
        conn.rollback()
        conn.execute(
            "INSERT INTO audit_event (actor, scope, action, details, hash) "
            "VALUES ('a', 'agent', 'x', '{}', 'h')"
        )
        row = conn.execute("SELECT db_user FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None and row[0] == "collab"


# -- append-only ------------------------------------------------------------------------------


def test_the_database_refuses_to_update_or_delete_audit_events(
    demo: CLI, backend: str, request: pytest.FixtureRequest
) -> None:
    """Also for the owner of the tables (the role the test databases belong to)."""
    statements = ["UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"]
    if backend == "sqlite":
        conn = sqlite3.connect(db_url().removeprefix("sqlite:///"))
        try:
            for statement in statements:
                with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                    conn.execute(statement)
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(db_url()) as conn:  # the owner
            for statement in [*statements, "TRUNCATE audit_event"]:
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    conn.execute(statement)
                conn.rollback()
    assert ok(verify(demo))["intact"] is True
    assert len(log_events(demo)) == 10


# -- hash chains and log --verify ----------------------------------------------------------------


def test_each_company_has_its_own_chain(
    demo: CLI, backend: str, request: pytest.FixtureRequest
) -> None:
    ok(demo("end", "1001", *END, "--format", "json"))
    rows = events(backend, request)
    heads: dict[Any, str | None] = {}
    for _id, number, _action, prev_hash, hash_ in rows:
        assert prev_hash == heads.get(number)
        assert re.fullmatch(r"[0-9a-f]{64}", hash_)
        heads[number] = hash_
    result = ok(verify(demo))
    assert result["events"] == len(rows) == 11
    assert result["chains"] == len(heads)
    assert result["intact"] is True
    anchor = Anchor.parse(result["digest"])
    assert anchor is not None and anchor.through == rows[-1][0] and anchor.events == 11


def test_verify_prints_the_summary_and_the_digest(demo: CLI) -> None:
    result = demo("log", "--verify")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "10 events in 8 chains, intact"
    assert re.fullmatch(r"digest v1:\d+:10:[0-9a-f]{64}", lines[1])


def test_an_earlier_digest_still_holds_after_more_changes(demo: CLI) -> None:
    before = ok(verify(demo))["digest"]
    ok(demo("end", "1001", *END, "--format", "json"))
    ok(demo("export", "1002", "-o", "1002.json", "--format", "json"))
    after = ok(verify(demo, "--anchor", before))
    assert after["anchor"] == before
    assert after["digest"] != before
    table = demo("log", "--verify", "--anchor", before)
    assert table.exit_code == 0, table.stderr
    assert f"the digest {before} still holds" in table.stderr


def test_verify_takes_no_filters_and_the_anchor_needs_verify(demo: CLI) -> None:
    error_of(demo("log", "--verify", "--customer", "1001", "--format", "json"), "invalid-input", 2)
    error_of(demo("log", "--anchor", "v1:1:1:" + "0" * 64, "--format", "json"), "invalid-input", 2)
    bad = error_of(
        demo("log", "--verify", "--anchor", "abc", "--format", "json"), "invalid-input", 2
    )
    assert "--anchor" in bad["message"]


def tampered(cli: CLI, *args: str) -> dict[str, Any]:
    error = error_of(verify(cli, *args), "audit-tampered", 1)
    return error


def test_an_edited_event_is_named(demo: CLI, backend: str, request: pytest.FixtureRequest) -> None:
    ok(demo("end", "1001", *END, "--format", "json"))
    end_id = next(r[0] for r in events(backend, request) if r[2] == "end")
    with raw(backend, request) as conn:
        drop_guards(backend, conn)
        details = '{"outcome": "delete", "forced": []}'
        conn.execute(f"UPDATE audit_event SET details = '{details}' WHERE id = {end_id}")
    error = tampered(demo)
    assert f"event {end_id} (customer 1001) was changed" in error["message"]


def test_a_deleted_event_is_named(demo: CLI, backend: str, request: pytest.FixtureRequest) -> None:
    ok(demo("end", "1001", *END, "--format", "json"))
    ok(demo("export", "1001", "-o", "1001.json", "--format", "json"))
    chain = [r[0] for r in events(backend, request) if r[1] == "1001"]
    assert len(chain) == 3
    with raw(backend, request) as conn:
        drop_guards(backend, conn)
        conn.execute(f"DELETE FROM audit_event WHERE id = {chain[1]}")
    error = tampered(demo)
    assert (
        f"events are missing between event {chain[0]} and event {chain[2]} (customer 1001)"
        in error["message"]
    )


def test_two_swapped_events_are_named(
    demo: CLI, backend: str, request: pytest.FixtureRequest
) -> None:
    ok(demo("end", "1001", *END, "--format", "json"))
    ok(demo("export", "1001", "-o", "1001.json", "--format", "json"))
    _first, second, third = (r[0] for r in events(backend, request) if r[1] == "1001")
    with raw(backend, request) as conn:
        drop_guards(backend, conn)
        # swap the ids of the 2nd and 3rd events of the chain (through a free id)
        conn.execute(f"UPDATE audit_event SET id = 100000 WHERE id = {second}")
        conn.execute(f"UPDATE audit_event SET id = {second} WHERE id = {third}")
        conn.execute(f"UPDATE audit_event SET id = {third} WHERE id = 100000")
    error = tampered(demo)
    assert (
        f"event {second} (customer 1001) is out of order: it follows event {third}, "
        "which is recorded after it"
    ) in error["message"]


def test_events_cut_off_the_end_are_caught_with_an_earlier_digest(
    demo: CLI, backend: str, request: pytest.FixtureRequest
) -> None:
    ok(demo("end", "1001", *END, "--format", "json"))
    ok(demo("export", "1002", "-o", "1002.json", "--format", "json"))
    digest = ok(verify(demo))["digest"]
    last_two = [r[0] for r in events(backend, request)][-2:]
    with raw(backend, request) as conn:
        drop_guards(backend, conn)
        conn.execute(f"DELETE FROM audit_event WHERE id IN ({last_two[0]}, {last_two[1]})")
    # each chain on its own is still whole: only the digest knows what was there
    assert ok(verify(demo))["intact"] is True
    error = tampered(demo, "--anchor", digest)
    assert f"event {last_two[1]}, the newest the digest covers, is gone" in error["message"]
    assert "2 events with an id" in error["message"]


def test_a_rewritten_chain_is_caught_with_an_earlier_digest(
    demo: CLI, backend: str, request: pytest.FixtureRequest
) -> None:
    """Someone who knows the encoding edits an event and hashes its chain again."""
    from collabctl.domain.audit_chain import event_hash

    digest = ok(verify(demo))["digest"]
    with raw(backend, request) as conn:
        drop_guards(backend, conn)
        row = conn.execute(
            "SELECT id, at, actor, db_user, scope, action, customer_number, service, details, "
            "prev_hash FROM audit_event WHERE customer_number = '1003' ORDER BY id"
        ).fetchone()
        keys = ("at", "actor", "db_user", "scope", "action", "customer_number", "service")
        event = dict(zip(keys, row[1:8], strict=True))
        details = json.loads(row[8]) if isinstance(row[8], str) else row[8]
        event["details"] = {**details, "forged": True}
        conn.execute(
            "UPDATE audit_event SET details = '"
            + json.dumps(event["details"])
            + f"', hash = '{event_hash(event, row[9])}' WHERE id = {row[0]}"
        )
    assert ok(verify(demo))["intact"] is True
    error = tampered(demo, "--anchor", digest)
    assert "were rewritten since the digest" in error["message"]


def test_the_error_lists_every_broken_chain_in_json(
    demo: CLI, backend: str, request: pytest.FixtureRequest
) -> None:
    with raw(backend, request) as conn:
        drop_guards(backend, conn)
        conn.execute("UPDATE audit_event SET actor = 'x' WHERE customer_number IN ('1002', '1004')")
    result = verify(demo)
    assert result.exit_code == 1
    assert "(and 1 more problem)" in result.stderr
    assert "Traceback" not in result.stderr


# -- migration -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def at_0002(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database migrated to 0002 (before the chains), holding events, and its backend."""
    from collabctl.store.database import Database

    if request.param == "postgres":
        url = str(request.getfixturevalue("pg_empty_database_url"))
    else:
        url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    try:
        db.upgrade("0002")
        with db.engine.begin() as conn:
            for index in range(7):
                conn.exec_driver_sql(
                    "INSERT INTO audit_event (at, actor, scope, action, customer_number, "
                    "service, details) VALUES (%s, 'anna', 'agent', 'import', %s, NULL, %s)"
                    if request.param == "postgres"
                    else "INSERT INTO audit_event (at, actor, scope, action, customer_number, "
                    "service, details) VALUES (?, 'anna', 'agent', 'import', ?, NULL, ?)",
                    (
                        f"2024-01-0{index + 1}T00:00:00.000000Z",
                        None if index % 3 == 0 else f"100{index % 2}",
                        json.dumps({"index": index, "name": "Café Hörnet"}),
                    ),
                )
    finally:
        db.dispose()
    yield url, request.param


def test_an_upgrade_keeps_and_chains_the_events_already_recorded(
    at_0002: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import invoke

    url, _backend = at_0002
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", url)
    upgraded = invoke("db", "upgrade", "--format", "json")
    assert ok(upgraded)["before"] == "0002"
    logged = ok(invoke("log", "--reverse", "--format", "json"))
    assert [e["details"]["index"] for e in logged] == list(range(7))
    assert {e["details"]["name"] for e in logged} == {"Café Hörnet"}
    assert {e["db_user"] for e in logged} == {None}
    result = ok(invoke("log", "--verify", "--format", "json"))
    assert (result["events"], result["chains"], result["intact"]) == (7, 3, True)
    # new events join the chains the migration made
    assert invoke("demo", "--force").exit_code == 0
    assert ok(invoke("log", "--verify", "--format", "json"))["intact"] is True
