"""The Operations (operations/gateway.py): how a command runs an operation, in-process on
both backends. The commands' own tests show what each operation does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from collabctl.domain.errors import InvalidInput
from collabctl.operations.context import Context
from collabctl.operations.gateway import Operations
from collabctl.store.database import Database


@dataclass
class Invocation:
    """A command line as the Operations reads it."""

    db: Database
    actor: str = "tester"
    party: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def database(self, *, ensure_schema: bool = True) -> Database:
        return self.db


def add_office(session: Session, ctx: Context, number: str) -> str:
    session.execute(
        text("INSERT INTO office (org_number, name) VALUES (:n, :name)"),
        {"n": number, "name": f"Byrå {number} ({ctx.actor})"},
    )
    return number


def offices(reader: Session | Connection, ctx: Context) -> list[str]:
    return [row[0] for row in reader.execute(text("SELECT name FROM office ORDER BY name"))]


def test_a_write_commits_and_a_dry_run_rolls_back_and_says_so(db: Database) -> None:
    said: list[str] = []
    ops = Operations(Invocation(db), on_dry_run=lambda: said.append("dry run"))
    assert ops.write(add_office, "556677-8899", dry_run=True) == "556677-8899"
    assert said == ["dry run"]
    assert ops.query(offices) == []
    assert ops.check(add_office, "556677-8899") == "556677-8899"
    assert said == ["dry run"], "a check is silent"
    assert ops.query(offices) == []
    ops.write(add_office, "556677-8899")
    assert said == ["dry run"]
    assert ops.read(offices) == ["Byrå 556677-8899 (tester)"]


def test_the_context_is_the_invocations(db: Database) -> None:
    ops = Operations(
        Invocation(db, actor="anna", party="office:556677-8899", config={"mail_language": "sv"})
    )
    ctx = ops.context()
    assert (ctx.actor, str(ctx.party), ctx.mail_language) == ("anna", "office:556677-8899", "sv")
    assert "eekonomi" in ctx.catalogue
    # a read queues no message: the language is left at its default
    assert ops.context(writing=False).mail_language == "en"
    seen: list[Any] = []
    ops.read(lambda session, ctx: seen.append((type(session), ctx.actor)))
    ops.query(lambda conn, ctx: seen.append((type(conn), ctx.actor)))
    assert seen == [(Session, "anna"), (Connection, "anna")]


def test_query_keeps_its_connection_open_while_the_rows_are_used(db: Database) -> None:
    ops = Operations(Invocation(db))
    ops.write(add_office, "556677-8899")

    def streamed(conn: Connection, ctx: Context) -> Iterator[str]:
        return (row[0] for row in conn.execute(text("SELECT org_number FROM office")))

    with ops.querying(streamed) as rows:
        assert list(rows) == ["556677-8899"]


def test_running_builds_the_context_when_the_first_result_is_asked_for(db: Database) -> None:
    """An operation that yields what it commits (import) reports a refusal of the
    context among its results, as it reports a refusal of the input."""

    def counting(session: Session, ctx: Context, n: int) -> Iterator[int]:
        for i in range(n):
            add_office(session, ctx, f"55667{i}-8899")
            session.commit()
            yield i

    ops = Operations(Invocation(db))
    with ops.running(counting, 2) as results:
        assert list(results) == [0, 1]
    assert len(ops.query(offices)) == 2
    wrong = Operations(Invocation(db, party="nobody"))
    with wrong.running(counting, 2) as results, pytest.raises(InvalidInput):
        next(results)
