"""A shared PostgreSQL database, on a real server.

What is checked is what a person sees: exit codes, messages, no traceback, and never
a password from the URL. Commands run in this process, on the same streams a shell
would capture; real processes only where processes are the point (admins upgrading
at once, the debug output of a whole program).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from collabctl.store.database import HEAD_REVISION
from helpers import COLLABCTL, Run, collabctl_process, invoke, run_process
from pg_fixtures import PostgresServer, free_port

pytestmark = pytest.mark.postgres

TIMEOUT_S = 120


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
    """collabctl in this process, which never shows a traceback."""
    finished = invoke(*args, input=input, env=env)
    assert "Traceback" not in finished.output, finished.output
    return finished


def assert_no_secret(result: Run, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.output, f"{secret!r} shown:\n{result.output}"
        assert quote(secret, safe="") not in result.output


def table_count(server: PostgresServer, url: str) -> int:
    """Tables in the database's public schema, seen by the superuser."""
    import psycopg

    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(
        host=str(server.socket_dir), port=server.port, user="postgres", dbname=dbname
    ) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def checks_of(result: Run) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in result.json()}


END_FLAGS = ("--service", "eekonomi", "--outcome", "continue", "--by", "office", "--yes")


# -- schema ------------------------------------------------------------------------------


def test_upgrade_and_current_on_an_empty_database(
    pg_server: PostgresServer, pg_empty_database_url: str
) -> None:
    url = pg_empty_database_url
    shown_url = url.replace(pg_server.password, "***")

    current = run("--database-url", url, "db", "current", "--format", "json")
    assert current.exit_code == 0, current.stderr
    assert current.json() == {
        "database": shown_url,
        "revision": None,
        "head": HEAD_REVISION,
        "current": False,
        "state": "empty",
    }

    upgraded = run("--database-url", url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert f"schema upgraded from empty to {HEAD_REVISION}" in upgraded.stderr

    current = run("--database-url", url, "db", "current")
    assert current.exit_code == 0
    assert current.stdout.strip() == f"{HEAD_REVISION} (head {HEAD_REVISION}): current"

    again = run("--database-url", url, "db", "upgrade", "--format", "json")
    assert again.exit_code == 0
    assert again.json()["before"] == again.json()["after"] == HEAD_REVISION

    listed = run("--database-url", url, "list", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    assert listed.json() == []
    for result in (current, upgraded, again, listed):
        assert_no_secret(result, pg_server.password)


@pytest.mark.slow
def test_admins_upgrading_at_once_take_turns(
    pg_server: PostgresServer, pg_empty_database_url: str
) -> None:
    command = [*COLLABCTL, "--database-url", pg_empty_database_url, "db", "upgrade"]
    procs = [
        collabctl_process(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=TIMEOUT_S) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    messages = sorted(err.strip() for _, err in outputs)
    assert messages == [
        f"schema already at {HEAD_REVISION} (newest): nothing to do",
        f"schema already at {HEAD_REVISION} (newest): nothing to do",
        f"schema upgraded from empty to {HEAD_REVISION}",
    ]


@pytest.mark.slow
def test_an_unmigrated_shared_database_is_refused_and_never_migrated(
    pg_server: PostgresServer, pg_empty_database_url: str, tmp_path: Path, home: Path
) -> None:
    url = pg_empty_database_url
    items = tmp_path / "items.json"
    items.write_text(json.dumps({"offices": [{"org_number": "556677-8899", "name": "Byrån"}]}))
    by_option = ["--database-url", url]
    attempts: list[tuple[list[str], dict[str, str] | None, str | None]] = [
        ([*by_option, "import", str(items)], None, None),
        ([*by_option, "demo"], None, None),
        (
            [*by_option, "start", "1001", "--service", "eekonomi", "--office", "556677-8899"],
            None,
            None,
        ),
        ([*by_option, "end", "--from", "-", *END_FLAGS, "--format", "jsonl"], None, "1001\n"),
        (["list", "--format", "json"], {"COLLABCTL_DATABASE_URL": url}, None),
    ]
    for args, env, stdin in attempts:
        result = run(*args, env=env, input=stdin)
        assert result.exit_code == 3, (args, result.output)
        assert "error[schema-outdated]: the database schema is empty" in result.stderr
        hint = result.hint()
        if env is None:  # the URL was an option: not repeated (with *** it would not paste)
            assert hint == (
                "hint: run `collabctl db upgrade` with the same --database-url as this command"
            )
        else:  # from the environment the bare command finds the same database
            assert hint == "hint: collabctl db upgrade"
        assert_no_secret(result, pg_server.password)
        if "--format" in args:
            error = json.loads(result.stdout.splitlines()[-1])["error"]
            assert (error["code"], error["hint"]) == (
                "schema-outdated",
                hint.removeprefix("hint: "),
            )

    # the URL from the configuration file is as shared as one from the command line
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.toml"
    config.write_text(f'database_url = "{url}"\n')
    config.chmod(0o600)
    result = run("show", "1001")
    assert result.exit_code == 3
    assert "error[schema-outdated]" in result.stderr
    assert result.hint() == "hint: collabctl db upgrade"
    assert_no_secret(result, pg_server.password)

    assert table_count(pg_server, url) == 0


# -- doctor ------------------------------------------------------------------------------


def test_doctor_reports_server_version_and_schema_revision(
    pg_server: PostgresServer, pg_database_url: str
) -> None:
    result = run("--database-url", pg_database_url, "doctor", "--format", "json")
    assert result.exit_code == 0, result.output
    checks = checks_of(result)
    assert all(c["ok"] for c in checks.values()), checks
    major = pg_server.admin().info.server_version // 10000
    assert checks["database"]["detail"].startswith(f"PostgreSQL {major}.")
    assert HEAD_REVISION in checks["schema"]["detail"]
    assert checks["write"]["ok"] is True
    assert "collab:***@127.0.0.1" in checks["database-url"]["detail"]
    assert_no_secret(result, pg_server.password)

    as_table = run("doctor", env={"COLLABCTL_DATABASE_URL": pg_database_url})
    assert as_table.exit_code == 0
    assert "from environment" in as_table.stdout
    assert_no_secret(as_table, pg_server.password)


def test_doctor_on_an_unmigrated_database_says_how_to_fix_it(
    pg_server: PostgresServer, pg_empty_database_url: str
) -> None:
    result = run("--database-url", pg_empty_database_url, "doctor", "--format", "json")
    assert result.exit_code == 3
    checks = checks_of(result)
    assert checks["database"]["ok"] is True
    assert checks["schema"]["ok"] is False
    assert "db upgrade" in checks["schema"]["detail"]
    assert "write" not in checks
    assert_no_secret(result, pg_server.password)
    assert table_count(pg_server, pg_empty_database_url) == 0


# -- the database cannot be used -------------------------------------------------------

WRONG_PASSWORD = "Wr0ng-Secret-4711"


def unusable_urls(server: PostgresServer, dbname: str) -> dict[str, tuple[str, str]]:
    """URLs that cannot work, and what the message says about each."""
    return {
        "host": (
            server.url(dbname, host="no-such-host.invalid"),
            "no-such-host.invalid",
        ),
        "port": (server.url(dbname, port=free_port()), "refused"),
        "password": (
            server.url(dbname, password=WRONG_PASSWORD),
            "password authentication failed",
        ),
        "database": (server.url("no_such_database"), 'database "no_such_database" does not exist'),
        "user": (
            server.url(dbname).replace("collab:", "nobody:"),
            "password authentication failed",
        ),
    }


@pytest.mark.parametrize("wrong", ["host", "port", "password", "database", "user"])
def test_an_unusable_database_is_reported_without_password_or_traceback(
    pg_server: PostgresServer, pg_database_url: str, wrong: str
) -> None:
    url, says = unusable_urls(pg_server, pg_database_url.rsplit("/", 1)[1])[wrong]

    result = run("--database-url", url, "list", "--format", "json")
    assert result.exit_code == 3, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("error[database-unavailable]: cannot use the database postgresql://")
    assert says in first
    assert result.hint().startswith("hint: check the URL")
    assert result.json()["error"]["code"] == "database-unavailable"
    assert_no_secret(result, pg_server.password, WRONG_PASSWORD)


def test_a_wrong_password_is_hidden_from_debug_output_and_doctor(
    pg_server: PostgresServer, pg_database_url: str
) -> None:
    url, says = unusable_urls(pg_server, pg_database_url.rsplit("/", 1)[1])["password"]
    debug = run_process(  # a whole program: what it prints on its way out counts too
        "end", "1001", *END_FLAGS, env={"COLLABCTL_DATABASE_URL": url, "COLLABCTL_DEBUG": "1"}
    )
    assert "Traceback" not in debug.output, debug.output
    assert debug.exit_code == 3
    assert "error[database-unavailable]" in debug.stderr
    assert_no_secret(debug, pg_server.password, WRONG_PASSWORD)

    doctor = run("--database-url", url, "doctor", "--format", "json")
    assert doctor.exit_code == 3
    checks = checks_of(doctor)
    assert checks["database"]["ok"] is False
    assert says in checks["database"]["detail"]
    assert_no_secret(doctor, pg_server.password, WRONG_PASSWORD)


def test_a_password_with_url_special_characters_is_never_shown(pg_server: PostgresServer) -> None:
    from psycopg import sql

    password = "p@ss:wörd/%?#&="
    role, dbname = "special", f"special_{os.getpid()}_{time.monotonic_ns()}"
    admin = pg_server.admin()
    admin.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )
    admin.execute(
        sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(role))
    )
    try:
        url = f"postgresql://{role}:{quote(password, safe='')}@127.0.0.1:{pg_server.port}/{dbname}"
        upgraded = run("--database-url", url, "db", "upgrade")
        assert upgraded.exit_code == 0, upgraded.output
        demo = run("--database-url", url, "demo")
        assert demo.exit_code == 0, demo.output
        doctor = run("--database-url", url, "doctor", "--format", "json")
        assert doctor.exit_code == 0, doctor.output
        wrong = run("--database-url", url.replace("%40", "%41"), "list")
        assert wrong.exit_code == 3
        assert "password authentication failed" in wrong.stderr
        for result in (upgraded, demo, doctor, wrong):
            assert_no_secret(result, password, "p@ss", "w%C3%B6rd", "wörd")
    finally:
        pg_server.drop_database(dbname)
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


# -- the setup docs/deploy.md describes ----------------------------------------------------


def deploy_sql(block_with: str) -> str:
    """The ```sql block of docs/deploy.md that contains ``block_with``."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "deploy.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL)
    return next(block for block in blocks if block_with in block)


def test_the_documented_agent_rights_are_enough_and_keep_the_audit_log_append_only(
    pg_server: PostgresServer, pg_database_url: str, tmp_path: Path
) -> None:
    import psycopg
    from psycopg import sql

    dbname = pg_database_url.rsplit("/", 1)[1]
    agent, password = f"agent_{os.getpid()}_{time.monotonic_ns()}", "agent-Secret-1"
    grants = deploy_sql("GRANT")
    grants = re.sub(r"\bcollabctl_owner\b", "collab", grants)
    grants = re.sub(r"\bcollabctl_agent\b", agent, grants)
    grants = re.sub(r"\bDATABASE collabctl\b", f'DATABASE "{dbname}"', grants)
    assert "collabctl" not in grants
    pg_server.admin().execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(agent), sql.Literal(password)
        )
    )
    superuser = {"host": str(pg_server.socket_dir), "port": pg_server.port, "user": "postgres"}
    try:
        with psycopg.connect(dbname=dbname, autocommit=True, **superuser) as conn:
            conn.execute(grants.encode())
        env = {
            "COLLABCTL_DATABASE_URL": pg_server.url(dbname).replace(
                f"collab:{pg_server.password}@", f"{agent}:{password}@"
            )
        }
        assert env["COLLABCTL_DATABASE_URL"].startswith(f"postgresql://{agent}:")
        exported = tmp_path / "1001.json"
        steps = [
            ("demo", None),
            ("end 1003 --service utlagg --outcome delete --force --by customer --yes", None),
            ("add-user 1002 --email ny@snickerinorr.se --main-contact", None),
            ("end 1002 --service eekonomi --outcome deactivate --by office --yes", None),
            ("start 1002 --service eekonomi --office 556677-8899", None),
            ("set-main-contact 1001 --user erik@kund.se", None),
            (f"export 1001 -o {exported}", None),
            (f"import {exported}", None),
            ("end --from - " + " ".join(END_FLAGS) + " --format jsonl", "1001\n"),
            ("log --format json", None),
            ("doctor", None),
        ]
        for command, stdin in steps:
            result = invoke(*command.split(), env=env, input=stdin)
            assert result.exit_code == 0, (command, result.output)

        agent_login = {"host": "127.0.0.1", "port": pg_server.port, "user": agent}
        with psycopg.connect(dbname=dbname, password=password, **agent_login) as conn:
            for statement in (
                "UPDATE audit_event SET actor = 'someone else'",
                "DELETE FROM audit_event",
                "UPDATE alembic_version SET version_num = '0000'",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
                conn.rollback()
    finally:
        with psycopg.connect(dbname=dbname, autocommit=True, **superuser) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(agent)))
        pg_server.admin().execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(agent)))


def test_a_password_from_pgpass_keeps_it_out_of_the_url(
    pg_server: PostgresServer, pg_database_url: str, tmp_path: Path
) -> None:
    url = pg_database_url.replace(f":{pg_server.password}@", "@")
    assert pg_server.password not in url
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_server.port}:*:collab:{pg_server.password}\n")
    pgpass.chmod(0o600)

    doctor = invoke(
        "doctor", "--format", "json", env={"COLLABCTL_DATABASE_URL": url, "PGPASSFILE": str(pgpass)}
    )
    assert doctor.exit_code == 0, doctor.output
    assert checks_of(doctor)["database-url"]["detail"] == f"{url} (from environment)"

    empty = tmp_path / "empty-pgpass"
    empty.write_text("")
    empty.chmod(0o600)
    refused = invoke("list", env={"COLLABCTL_DATABASE_URL": url, "PGPASSFILE": str(empty)})
    assert refused.exit_code == 3
    assert "error[database-unavailable]" in refused.stderr
    assert "no password supplied" in refused.stderr


def test_connection_parameters_in_the_url_reach_the_server(pg_database_url: str) -> None:
    from sqlalchemy import text

    from collabctl.store.database import Database

    for query, expected in (("", "collabctl"), ("?application_name=office-42", "office-42")):
        db = Database(pg_database_url + query)
        try:
            with db.engine.connect() as conn:
                assert conn.execute(text("SHOW application_name")).scalar() == expected
        finally:
            db.dispose()


def test_a_pg_dump_backup_restores_into_a_working_database(
    pg_server: PostgresServer, pg_database_url: str, tmp_path: Path
) -> None:
    source = {"COLLABCTL_DATABASE_URL": pg_database_url}
    assert invoke("demo", env=source).exit_code == 0
    ended = invoke("end", "1001", *END_FLAGS, env=source)
    assert ended.exit_code == 0, ended.output
    dump = tmp_path / "collabctl.dump"
    client_env = {**os.environ, "PGPASSWORD": pg_server.password}
    subprocess.run(
        [str(pg_server.bin_dir / "pg_dump"), "--format=custom", f"--file={dump}", pg_database_url],
        env=client_env,
        check=True,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    restored_name = f"restored_{os.getpid()}_{time.monotonic_ns()}"
    restored_url = pg_server.create_database(restored_name)
    try:
        subprocess.run(
            [
                str(pg_server.bin_dir / "pg_restore"),
                "--no-owner",
                "--role=collab",
                f"--dbname={restored_url}",
                str(dump),
            ],
            env=client_env,
            check=True,
            capture_output=True,
            timeout=TIMEOUT_S,
        )
        restored = {"COLLABCTL_DATABASE_URL": restored_url}
        assert invoke("doctor", env=restored).exit_code == 0
        for args in (["list", "--state", "all", "--format", "json"], ["log", "--format", "json"]):
            assert invoke(*args, env=restored).json() == invoke(*args, env=source).json()
    finally:
        pg_server.drop_database(restored_name)
