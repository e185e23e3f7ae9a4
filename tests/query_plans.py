"""What the tests of query plans share: a database of 2 000 companies and what hangs
from them, the statements that reach the driver while a command runs, and their plans
on either backend, judged by whether they scan a growing table whole.

How the proof works. Each command runs in-process while every statement that reaches
the database driver is recorded, with its parameters: SQLAlchemy's
``before_cursor_execute`` for the ORM and Core statements, and
``Statements.execute``/``executemany``/``execute_positional`` for the plain SQL of
the end path and the import. Whatever the commands are made of, their real
statements are what is checked, so a query added or changed later is checked too.
Each recorded statement is then explained with the same parameters:

- **SQLite**: ``EXPLAIN QUERY PLAN``, on the database as collabctl leaves it (no
  ``ANALYZE``: the plans users get). A ``SCAN`` of one of the tables that grow with
  the customer base (a full pass over the table, with or without a covering index)
  fails; ``SEARCH ... USING INDEX`` is a lookup.
- **PostgreSQL**: the tables hold 2 000 companies and what hangs from them and are
  ``ANALYZE``d, so the planner decides with real statistics; ``EXPLAIN (FORMAT
  JSON)`` must then have no ``Seq Scan`` node on a growing table. This is the plan
  the planner chooses, not one forced on it: with ``enable_seqscan = off`` a
  sequential scan only becomes expensive, so a plan that reads through an index
  would prove nothing about what happens with the setting on, and a missing index
  would still show up as a (disabled) sequential scan rather than as a failure to
  choose the index. With a few thousand rows a sequential scan costs tens of pages
  against a handful for an index lookup, so a usable index is always chosen, and a
  query that has none must scan.

The small tables (``office``, ``service_definition``) are left out: they hold a
handful of rows, and a scan of them is what any planner does.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from collabctl.store.statements import Statements
from helpers import CLI, luhn_org_number

#: tables that grow with the customer base
GROWING = frozenset(
    {
        "company",
        "company_user",
        "subscription",
        "collaboration",
        "service_record",
        "audit_event",
        "outbox",
    }
)
COMPANIES = 2000
TARGET = 1001  # a company in the middle, not among those ended while loading
OFFICES = (("556677-8899", "Exempelbyrån AB"), ("559123-4561", "Siffror & Balans AB"))


def customer(index: int) -> str:
    return str(10000 + index)


def company(index: int) -> dict[str, Any]:
    office = OFFICES[index % len(OFFICES)][0]
    return {
        "customer_number": customer(index),
        "org_number": luhn_org_number(index),
        "name": f"Bolag {index} AB",
        "users": [
            {
                "email": f"admin@bolag{index}.se",
                "name": f"Admin {index}",
                "role": "administrator",
                "main_contact": True,
                "services": ["eekonomi", "utlagg"],
            },
            {
                "email": f"user@bolag{index}.se",
                "name": f"User {index}",
                "role": "user",
                "main_contact": False,
                "services": ["utlagg"],
            },
        ],
        "subscriptions": [
            {"service": "eekonomi", "state": "active"},
            {"service": "utlagg", "state": "active"},
        ],
        "collaborations": [
            {"service": s, "office": office, "started_at": "2024-01-31T09:00:00Z"}
            for s in ("eekonomi", "utlagg")
        ],
        "records": [
            {
                "id": f"R-{index}-1",
                "service": "utlagg",
                "kind": "expense-report",
                "status": "draft",
            },
            {"id": f"R-{index}-2", "service": "utlagg", "kind": "outlay", "status": "approved"},
        ],
    }


def load(cli: CLI, tmp_path: Path) -> None:
    path = tmp_path / "companies.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for org, name in OFFICES:
            office = {"org_number": org, "name": name, "email": f"kontor@{org}.example"}
            out.write(json.dumps({"office": office}, ensure_ascii=False) + "\n")
        for index in range(COMPANIES):
            out.write(json.dumps({"company": company(index)}, ensure_ascii=False) + "\n")
    result = cli("import", str(path))
    assert result.exit_code == 0, result.stderr[-2000:]
    # some ends, so the audit log and the outbox hold more than imports
    numbers = "".join(customer(i) + "\n" for i in range(0, COMPANIES, 4))
    ended = cli(
        "end", "--from", "-", "--service", "eekonomi", "--outcome", "deactivate",
        "--by", "office", "--yes", "--format", "jsonl", input=numbers,
    )  # fmt: skip
    assert ended.exit_code == 0, ended.stderr[-2000:]


# -- recording what reaches the driver -----------------------------------------------------

Recorded = list[tuple[str, Any]]


@contextmanager
def recording() -> Iterator[Recorded]:
    statements: Recorded = []

    def before(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        statements.append((sql, params[0] if many and params else params))

    execute, executemany = Statements.execute, Statements.executemany
    positional = Statements.execute_positional

    def plain(self: Statements, sql: str, params: dict[str, Any] | None = None) -> Any:
        statements.append((_driver_sql(self.postgres, sql), params or {}))
        return execute(self, sql, params)

    def plain_positional(self: Statements, sql: str, params: Any) -> Any:
        statements.append((sql, params))
        return positional(self, sql, params)

    def plain_many(self: Statements, sql: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            statements.append((_driver_sql(self.postgres, sql), rows[0]))
        executemany(self, sql, rows)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Statements, "execute", plain)
        patch.setattr(Statements, "executemany", plain_many)
        patch.setattr(Statements, "execute_positional", plain_positional)
        event.listen(Engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(Engine, "before_cursor_execute", before)


def _driver_sql(postgres: bool, sql: str) -> str:
    # as Statements sends it: psycopg's %(name)s for :name
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql) if postgres else sql


_EXPLAINED = re.compile(r"^\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_SKIPPED = re.compile(r"alembic_version|sqlite_master|to_regclass|pg_advisory|session_user\s*$")


def explained(statements: Recorded) -> list[tuple[str, Any]]:
    """The statements worth a plan: reads and changes of tables, once each."""
    seen: set[str] = set()
    out = []
    for sql, params in statements:
        if not _EXPLAINED.match(sql) or _SKIPPED.search(sql) or sql in seen:
            continue
        if re.match(r"^\s*INSERT\b", sql, re.IGNORECASE) and "SELECT" not in sql.upper():
            continue  # INSERT ... VALUES reads nothing
        seen.add(sql)
        out.append((sql, params))
    return out


# -- reading plans -------------------------------------------------------------------------

_NAMED = re.compile(
    r"\b(?:FROM|JOIN|UPDATE|INTO)\s+([a-z_][a-z0-9_]*)(?:\s+(?:AS\s+)?([a-z_][a-z0-9_]*))?",
    re.IGNORECASE,
)
_NOT_ALIAS = {
    "on", "where", "join", "left", "right", "inner", "outer", "cross", "order", "group",
    "limit", "union", "using", "set", "values", "natural", "with", "lateral", "select",
}  # fmt: skip


def sqlite_scans(path: Path, sql: str, params: Any) -> list[str]:
    """The plan lines that scan a growing table whole."""
    tables: dict[str, str] = {}
    for table, alias in _NAMED.findall(sql):
        tables[table.lower()] = table.lower()
        if alias and alias.lower() not in _NOT_ALIAS:
            tables[alias.lower()] = table.lower()
    with closing(sqlite3.connect(path)) as con:
        plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql, params or ())]
    bad = []
    for line in plan:
        match = re.match(r"SCAN (\S+)", line)
        if match and tables.get(match[1].lower(), match[1].lower()) in GROWING:
            bad.append(line)
    return bad


def postgres_scans(url: str, sql: str, params: Any) -> list[str]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
        ((plan,),) = con.execute("EXPLAIN (FORMAT JSON) " + sql, params or None).fetchall()
        con.rollback()
    bad: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in GROWING:
            bad.append(f"Seq Scan on {node['Relation Name']} (filter: {node.get('Filter')})")
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"])
    return bad


def analyze(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
        con.execute("ANALYZE")


BULK = ("end", "--from", "-", "--service", "eekonomi", "--outcome", "continue", "--yes",
        "--by", "office", "--format", "jsonl")  # fmt: skip
