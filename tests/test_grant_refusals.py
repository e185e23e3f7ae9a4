"""`db grant` refuses every role that could undo the limits it sets (SPEC 8.1), and `doctor`
lists those attributes of the connected role: each bad grant tried on a real PostgreSQL
server, the roles made by a superuser as an administrator would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from helpers import error_of, invoke
from pg_fixtures import PostgresServer
from pg_roles import granted, login, make_role, owner

__all__ = ["make_role", "owner"]  # fixtures

pytestmark = pytest.mark.postgres


@pytest.fixture
def superuser(pg_server: PostgresServer, owner: str) -> Iterator[Callable[[str], None]]:
    """Run a statement as a superuser in the test database."""
    import psycopg

    dbname = owner.rsplit("/", 1)[1]
    where = {"host": str(pg_server.socket_dir), "port": pg_server.port, "user": "postgres"}
    with psycopg.connect(dbname=dbname, autocommit=True, **where) as conn:

        def run(statement: str) -> None:
            conn.execute(statement)

        yield run


def granted_anything(owner_url: str, role: str) -> bool:
    """Does any table or sequence name ``role`` in its privileges?"""
    import psycopg

    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a "
            "WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = %s)",
            (role,),
        ).fetchone()
    return bool(row and row[0])


def refused(owner_url: str, role: str, words: str) -> dict[str, Any]:
    """Both kinds of grant are refused with invalid-input, and nothing was granted."""
    for kind in ("agent", "read-only"):
        error = error_of(
            invoke("db", "grant", role, f"--{kind}", "--apply", "--format", "json"),
            "invalid-input",
            2,
        )
        assert words in error["message"], error
        assert "no grant limits what it may do" in error["message"]
    assert not granted_anything(owner_url, role)
    return error


@pytest.mark.parametrize(
    ("make_bad", "words"),
    [
        ("ALTER ROLE {role} SUPERUSER", "is a superuser"),
        ("GRANT collab TO {role}", "is a member of collab"),
        ("CREATE ROLE {role}_mid; GRANT collab TO {role}_mid; GRANT {role}_mid TO {role}",
         "is a member of collab"),
        ("ALTER ROLE {role} CREATEROLE", "has CREATEROLE"),
        ("ALTER ROLE {role} BYPASSRLS", "has BYPASSRLS"),
        ("CREATE TABLE public.{role}_notes (x int); ALTER TABLE public.{role}_notes OWNER TO {role}",
         "owns table {role}_notes"),
        ("CREATE FUNCTION public.{role}_f() RETURNS int LANGUAGE sql AS 'SELECT 1';"
         " ALTER FUNCTION public.{role}_f() OWNER TO {role}", "owns function {role}_f"),
    ],
    ids=["superuser", "member", "indirect-member", "createrole", "bypassrls", "owns-table",
         "owns-function"],
)  # fmt: skip
def test_a_role_that_could_undo_the_limits_is_refused(
    owner: str,
    make_role: Callable[[], str],
    superuser: Callable[[str], None],
    make_bad: str,
    words: str,
) -> None:
    role = make_role()
    for statement in make_bad.format(role=role).split("; "):
        superuser(statement)
    try:
        refused(owner, role, words.format(role=role))
    finally:
        superuser(f"DROP ROLE IF EXISTS {role}_mid")
        superuser(f"DROP FUNCTION IF EXISTS public.{role}_f()")
        superuser(f"DROP TABLE IF EXISTS public.{role}_notes")


def test_the_owner_itself_is_refused(owner: str) -> None:
    error = error_of(
        invoke("db", "grant", "collab", "--agent", "--apply", "--format", "json"),
        "invalid-input",
        2,
    )
    assert "owns collabctl's tables" in error["message"]


def doctor_checks(run: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    result = run("doctor", "--format", "json")
    assert "Traceback" not in result.stderr
    return {c["check"]: c for c in result.json()}


def test_doctor_lists_the_attributes_of_the_connected_role(
    pg_server: PostgresServer,
    owner: str,
    make_role: Callable[[], str],
    superuser: Callable[[str], None],
) -> None:
    role = make_role()
    granted(role, "agent")
    agent = login(owner, pg_server, role)
    line = doctor_checks(agent)["role-attributes"]
    assert line["ok"] is True
    assert line["detail"] == (
        f"{role}: superuser no, owner no, member of the owner's role no, CREATEROLE no, "
        "BYPASSRLS no, owns no other object"
    )
    # given CREATEROLE after its grant: doctor says what it could do
    superuser(f"ALTER ROLE {role} CREATEROLE")
    line = doctor_checks(agent)["role-attributes"]
    assert line["ok"] is False
    assert "CREATEROLE yes" in line["detail"] and "can act beyond its grant" in line["detail"]
    owner_line = doctor_checks(invoke)["role-attributes"]
    assert owner_line["ok"] is True and "owner yes" in owner_line["detail"]
