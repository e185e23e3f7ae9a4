"""Least privilege on a shared PostgreSQL database: `db grant`, agent and read-only roles,
what `doctor` says about them, and `permission-denied` instead of a driver traceback."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import error_of, invoke, ok, run_process
from pg_fixtures import PostgresServer
from pg_roles import END, PASSWORD, Login, doctor_role, granted, login, make_role, owner, url_as

__all__ = ["make_role", "owner"]  # fixtures


# -- printing and applying ----------------------------------------------------------------------

pytestmark = pytest.mark.postgres


def test_a_role_that_does_not_exist_is_named_with_how_to_create_it(owner: str) -> None:
    error = error_of(
        invoke("db", "grant", "collab_agents", "--agent", "--format", "json"), "not-found"
    )
    assert "CREATE ROLE collab_agents LOGIN" in error["hint"]


def test_the_statements_of_each_kind(owner: str, make_role: Callable[[], str]) -> None:
    role = make_role()
    dbname = owner.rsplit("/", 1)[1]
    agent = invoke("db", "grant", role, "--agent")
    assert agent.exit_code == 0, agent.output
    statements = agent.stdout.splitlines()
    assert f"GRANT CONNECT ON DATABASE {dbname} TO {role};" in statements
    assert f"REVOKE UPDATE, DELETE ON public.audit_event FROM {role};" in statements
    assert all(line.endswith(";") for line in statements)
    assert "run them as collab" in agent.stderr
    reader = ok(invoke("db", "grant", role, "--read-only", "--format", "json"))
    assert reader["applied"] is False
    assert (reader["kind"], reader["owner"], reader["schema"]) == ("read-only", "collab", "public")
    assert not any("INSERT" in s and "GRANT" in s for s in reader["statements"])


def test_printing_runs_nothing(
    pg_server: PostgresServer, owner: str, make_role: Callable[[], str]
) -> None:
    role = make_role()
    assert invoke("db", "grant", role, "--agent").exit_code == 0
    result = login(owner, pg_server, role)("list", "--format", "json")
    error_of(result, "permission-denied")


def test_db_grant_needs_a_kind_and_postgres(owner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    error_of(invoke("db", "grant", "someone", "--format", "json"), "invalid-input", 2)
    error_of(
        invoke("db", "grant", "someone", "--agent", "--read-only", "--format", "json"),
        "invalid-input",
        2,
    )
    error_of(invoke("db", "grant", "collab", "--agent", "--format", "json"), "invalid-input", 2)
    monkeypatch.delenv("COLLABCTL_DATABASE_URL")
    sqlite = error_of(
        invoke("db", "grant", "someone", "--agent", "--format", "json"), "invalid-input", 2
    )
    assert "SQLite" in sqlite["message"]


# -- an agent role ---------------------------------------------------------------------------


def test_an_agent_role_works_and_the_database_records_it_whatever_the_actor(
    pg_server: PostgresServer, owner: str, make_role: Callable[[], str]
) -> None:
    import psycopg

    role = make_role()
    granted(role, "agent")
    agent = login(owner, pg_server, role)
    ok(agent("--actor", "someone-else", "end", "1001", *END, "--format", "json"))
    ok(agent("end", "--from", "-", *END, "--format", "jsonl", input="1003\n"))
    logged = ok(agent("log", "--customer", "1001", "--format", "json"))
    end = next(e for e in logged if e["action"] == "end")
    assert (end["actor"], end["db_user"]) == ("someone-else", role)
    assert "agent: every command" in doctor_role(agent)["detail"]
    assert ok(agent("log", "--verify", "--format", "json"))["intact"] is True

    with psycopg.connect(url_as(owner, pg_server, role)) as conn:
        for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_only_the_owner_can_apply_grants(
    pg_server: PostgresServer, owner: str, make_role: Callable[[], str]
) -> None:
    agent_role, other = make_role(), make_role()
    granted(agent_role, "agent")
    agent = login(owner, pg_server, agent_role)
    error = error_of(
        agent("db", "grant", other, "--read-only", "--apply", "--format", "json"),
        "permission-denied",
    )
    assert "only the owner of collabctl's tables (collab)" in error["message"]


# -- a read-only role --------------------------------------------------------------------------

CHANGES = [
    ["end", "1001", *END],
    ["end", "--from", "-", *END],
    ["start", "1002", "--service", "lon", "--office", "556677-8899"],
    ["add-user", "1002", "--email", "ny@snickerinorr.se", "--name", "Ny"],
    ["set-main-contact", "1001", "--user", "erik@kund.se"],
    ["export", "1001", "-o", "out.json"],
    ["import", "-"],
    ["demo", "--force"],
]


@pytest.fixture
def reader(pg_server: PostgresServer, owner: str, make_role: Callable[[], str]) -> Login:
    role = make_role()
    granted(role, "read-only")
    return login(owner, pg_server, role)


def test_a_read_only_role_reads(reader: Login) -> None:
    for command in (["list"], ["show", "1001"], ["log"], ["log", "--verify"], ["doctor"]):
        result = reader(*command)
        assert result.exit_code == 0, (command, result.output)
    assert "read-only: list, show" in doctor_role(reader)["detail"]


@pytest.mark.parametrize("command", CHANGES, ids=lambda c: " ".join(c[:2]))
def test_every_change_of_a_read_only_role_is_permission_denied(
    reader: Login, command: list[str], tmp_path: Path
) -> None:
    document = {
        "companies": [{"customer_number": "1009", "org_number": "556036-0793", "name": "Ny AB"}]
    }
    if "--from" in command:
        # a bulk run streams its results: the error is the last line
        result = reader(*command, "--format", "jsonl", input="1001\n")
        assert result.exit_code == 1, result.output
        error = result.jsonl()[-1]["error"]
        assert error["code"] == "permission-denied"
        assert f"error[permission-denied]: {error['message']}" in result.stderr
        assert "Traceback" not in result.output
    else:
        result = reader(*command, "--format", "json", input=json.dumps(document))
        error = error_of(result, "permission-denied")
    assert "collabctl doctor" in error["hint"]
    assert "db grant" in error["hint"]
    # nothing changed
    assert not (tmp_path / "out.json").exists()


def test_permission_denied_as_a_real_process(
    pg_server: PostgresServer, owner: str, make_role: Callable[[], str]
) -> None:
    role = make_role()
    granted(role, "read-only")
    env = {"COLLABCTL_DATABASE_URL": url_as(owner, pg_server, role)}
    result = run_process("end", "1001", *END, env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("error[permission-denied]: "), result.stderr
    assert "Traceback" not in result.output
    assert PASSWORD not in result.output
    assert re.search(r"^hint: ", result.stderr, flags=re.MULTILINE)


def test_a_role_can_switch_kinds(
    pg_server: PostgresServer, owner: str, make_role: Callable[[], str]
) -> None:
    role = make_role()
    granted(role, "agent")
    granted(role, "read-only")
    who = login(owner, pg_server, role)
    error_of(who("end", "1001", *END, "--format", "json"), "permission-denied")
    granted(role, "agent")
    ok(who("end", "1001", *END, "--format", "json"))


def test_doctor_names_the_owner(owner: str) -> None:
    result = invoke("doctor", "--format", "json")
    assert result.exit_code == 0, result.output
    role = {c["check"]: c for c in result.json()}["role"]
    assert role["detail"].startswith("collab (owner): owner of the tables")


# -- backups -----------------------------------------------------------------------------------


def test_a_restored_dump_verifies_against_the_digest_taken_before(
    pg_server: PostgresServer, owner: str, make_role: Callable[[], str], tmp_path: Path
) -> None:
    """pg_restore creates the triggers after the data: events come back as they were."""
    import subprocess

    role = make_role()
    granted(role, "agent")
    ok(login(owner, pg_server, role)("end", "1001", *END, "--format", "json"))
    digest = ok(invoke("log", "--verify", "--format", "json"))["digest"]
    dump = tmp_path / "collabctl.dump"
    client = {**os.environ, "PGPASSWORD": pg_server.password}
    tools = pg_server.bin_dir
    subprocess.run(
        [str(tools / "pg_dump"), "--format=custom", f"--file={dump}", owner],
        env=client,
        check=True,
        capture_output=True,
        timeout=120,
    )
    name = f"restored_{os.getpid()}_{time.monotonic_ns()}"
    restored = pg_server.create_database(name)
    try:
        subprocess.run(
            [
                str(tools / "pg_restore"),
                "--no-owner",
                "--role=collab",
                f"--dbname={restored}",
                str(dump),
            ],
            env=client,
            check=True,
            capture_output=True,
            timeout=120,
        )
        env = {"COLLABCTL_DATABASE_URL": restored}
        checked = ok(invoke("log", "--verify", "--anchor", digest, "--format", "json", env=env))
        assert (checked["intact"], checked["digest"]) == (True, digest)
        logged = ok(invoke("log", "--customer", "1001", "--format", "json", env=env))
        assert [e["db_user"] for e in logged if e["action"] == "end"] == [role]
    finally:
        pg_server.drop_database(name)


# -- agents at once ------------------------------------------------------------------------------


@pytest.mark.slow
def test_agents_at_once_keep_every_chain_whole(
    pg_server: PostgresServer, owner: str, make_role: Callable[[], str], tmp_path: Path
) -> None:
    """Bulk ends over the same companies in opposite orders, exports and new users of the
    same companies, all at once, as different roles: every chain stays one line."""
    import subprocess

    from helpers import COLLABCTL, collabctl_process

    anna, bertil = make_role(), make_role()
    granted(anna, "agent")
    granted(bertil, "agent")
    numbers = ["1001", "1003", "1004", "1007"]
    jobs: list[tuple[str, list[str], str | None]] = [
        (anna, ["end", "--from", "-", *END, "--format", "jsonl"], "\n".join(numbers)),
        (bertil, ["end", "--from", "-", *END, "--format", "jsonl"], "\n".join(numbers[::-1])),
    ]
    for index, number in enumerate(numbers):
        jobs.append((anna, ["export", number, "-o", str(tmp_path / f"{number}.json")], None))
        email = f"ny{index}@example.se"
        jobs.append((bertil, ["add-user", number, "--email", email, "--name", "Ny"], None))
    running = [
        collabctl_process(
            [*COLLABCTL, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLLABCTL_DATABASE_URL": url_as(owner, pg_server, role)},
        )
        for role, args, _stdin in jobs
    ]
    for process, (_role, args, stdin) in zip(running, jobs, strict=True):
        out, err = process.communicate(stdin, timeout=120)
        assert process.returncode == 0, (args, out, err)
        assert "Traceback" not in err
    result = ok(invoke("log", "--verify", "--format", "json"))
    assert result["intact"] is True
    logged = ok(invoke("log", "--format", "json"))
    ends = [e for e in logged if e["action"] == "end"]
    assert sorted(e["customer_number"] for e in ends) == numbers
    assert {e["db_user"] for e in logged if e["action"] in ("end", "export", "add-user")} == {
        anna,
        bertil,
    }
