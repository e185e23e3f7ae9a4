"""Tampering with the audit log the way someone with direct access to the database would:
a connection with their rights (the sqlite3 module on the file, or a PostgreSQL
superuser), the append-only triggers taken out of the way, and the events as stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from helpers import db_url
from pg_fixtures import PostgresServer


@contextmanager
def raw(backend: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A DBAPI connection with the rights of whoever can touch the database directly:
    the sqlite3 module on the file, or a PostgreSQL superuser. Commits on success."""
    url = db_url()
    if backend == "sqlite":
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
    else:
        import psycopg

        server: PostgresServer = request.getfixturevalue("pg_server")
        conn = psycopg.connect(
            host=str(server.socket_dir),
            port=server.port,
            user="postgres",
            dbname=url.rsplit("/", 1)[1],
        )
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def drop_guards(backend: str, conn: Any) -> None:
    """What a tamperer does first: take the append-only triggers out of the way."""
    if backend == "sqlite":
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("DROP TRIGGER audit_event_no_delete")
    else:
        conn.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")


def events(backend: str, request: pytest.FixtureRequest) -> list[tuple[Any, ...]]:
    with raw(backend, request) as conn:
        rows = conn.execute(
            "SELECT id, customer_number, action, prev_hash, hash FROM audit_event ORDER BY id"
        ).fetchall()
    return [tuple(row) for row in rows]
