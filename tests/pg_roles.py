"""Database roles for the tests of a shared PostgreSQL database: the owner's database with
the demo data, login roles made by a superuser, and collabctl run as one of them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from helpers import Run, invoke
from pg_fixtures import PostgresServer

END = ("--service", "eekonomi", "--outcome", "continue", "--by", "office", "--yes")
PASSWORD = "role-Secret-1"

Login = Callable[..., Run]


@pytest.fixture
def owner(pg_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database, as its owner: loaded with the demo data."""
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", pg_database_url)
    assert invoke("demo").exit_code == 0
    return pg_database_url


@pytest.fixture
def make_role(pg_server: PostgresServer, pg_database_url: str) -> Iterator[Callable[[], str]]:
    """Login roles created by a superuser (as an administrator would), dropped afterwards."""
    import psycopg
    from psycopg import sql

    made: list[str] = []
    dbname = pg_database_url.rsplit("/", 1)[1]

    def make() -> str:
        role = f"r_{os.getpid()}_{time.monotonic_ns()}"
        pg_server.admin().execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(PASSWORD)
            )
        )
        made.append(role)
        return role

    yield make
    superuser = {"host": str(pg_server.socket_dir), "port": pg_server.port, "user": "postgres"}
    with psycopg.connect(dbname=dbname, autocommit=True, **superuser) as conn:
        for role in made:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    for role in made:
        pg_server.admin().execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def url_as(owner_url: str, server: PostgresServer, role: str) -> str:
    return owner_url.replace(f"collab:{server.password}@", f"{role}:{PASSWORD}@")


def login(owner_url: str, server: PostgresServer, role: str) -> Login:
    env = {"COLLABCTL_DATABASE_URL": url_as(owner_url, server, role)}

    def run(*args: str, input: str | None = None) -> Run:
        return invoke(*args, env=env, input=input)

    return run


def granted(role: str, kind: str) -> None:
    result = invoke("db", "grant", role, f"--{kind}", "--apply")
    assert result.exit_code == 0, result.output
    assert f"{role} now has the rights of" in result.stderr


def doctor_role(run: Login) -> dict[str, Any]:
    result = run("doctor", "--format", "json")
    assert result.exit_code == 0, result.output
    return {c["check"]: c for c in result.json()}["role"]
