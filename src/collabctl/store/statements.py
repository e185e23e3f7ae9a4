"""Plain SQL on a session's own DBAPI connection, for the hot paths.

A bulk end runs a handful of statements per item. Building SQLAlchemy
statements and loading ORM objects costs several times more than the
statements themselves, so the end path (and the audit insert every change
shares) speaks plain SQL through :class:`Statements`: same connection, same
transaction and locks as the session, and the driver keeps the statements
prepared (sqlite3 caches them per connection; psycopg prepares a query once it
has run a few times).

Statements are written once with ``:name`` parameters and rewritten to
psycopg's ``%(name)s`` on PostgreSQL, so they hold no other colon or percent
sign.
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: a bind parameter, as SQLAlchemy's text() finds them: not after a word character (the
#: colons of a time format such as HH24:MI) nor in a cast (::)
_PARAM = re.compile(r"(?<![:\w]):(\w+)")


def os_login() -> str:
    """The operating system account that writes an event to a SQLite database.

    The account of the process's real uid in the password database (looked up
    once per process), never an environment variable such as ``LOGNAME`` or
    ``USER``, which the process itself can set to any name.
    """
    return _account_name(os.getuid())


@functools.cache
def _account_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # an account without an entry (a container's arbitrary uid)
        return f"uid:{uid}"


@functools.lru_cache(maxsize=128)
def _written_out(
    sql: str, keys: str, count: int, dialect: type[Any], paramstyle: str
) -> tuple[str, Sequence[str] | None, list[str]]:
    """``sql`` with its list parameter ``keys`` written out for ``count`` values by
    SQLAlchemy's expanding bind parameter for the backend (``IN (?, ?, ...)``): the
    statement, the order of its parameters when they are positional, and the names of
    the values. Written once per statement and number of values (writing it out again on
    every execution cost about a microsecond per value)."""
    from sqlalchemy import bindparam, text

    statement = text(sql).bindparams(bindparam(keys, expanding=True))
    compiled = statement.compile(dialect=dialect(paramstyle=paramstyle))
    others = {name: None for name in compiled.binds if name != keys}
    state = compiled.construct_expanded_state({**others, keys: [None] * count})
    return state.statement, state.positiontup, state.parameter_expansion[keys]


def _padded(count: int) -> int:
    """How many values a list of ``count`` is written out for: the next power of two up
    to 512, so a statement is written out in a handful of lengths, whatever the sizes of
    the batches (which a slow input or a busy machine makes vary)."""
    if count <= 8 or count > 512:
        return count
    return 1 << (count - 1).bit_length()


class Statements:
    """Run SQL on the session's connection, inside the session's transaction."""

    _postgres_sql: ClassVar[dict[str, str]] = {}

    def __init__(self, session: Session) -> None:
        session.flush()  # plain SQL must see what the ORM has not written yet
        self.session = session
        connection = session.connection()
        self.postgres = connection.dialect.name == "postgresql"
        self._error: type[Exception] = connection.dialect.loaded_dbapi.Error
        self._cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self._dialect: Any = type(connection.dialect)  # its class, to compile statements with

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """Run one statement; returns the DBAPI cursor (``fetchone``, ``rowcount``, iteration)."""
        if self.postgres:
            sql = self._for_psycopg(sql)
        try:
            self._cursor.execute(sql, params or {})
        except self._error as exc:
            # the same exception SQLAlchemy raises, so retries and error messages work as elsewhere
            raise DBAPIError.instance(sql, params, exc, self._error) from exc
        return self._cursor

    def execute_positional(self, sql: str, params: Sequence[Any]) -> Any:
        """Run one statement written with ``?`` parameters (SQLite), given in order: a
        statement :meth:`execute_in` wrote out. Returns the DBAPI cursor."""
        assert not self.postgres
        try:
            self._cursor.execute(sql, params)
        except self._error as exc:
            raise DBAPIError.instance(sql, params, exc, self._error) from exc
        return self._cursor

    def executemany(self, sql: str, rows: list[dict[str, Any]]) -> int:
        """Run one statement for each row (psycopg sends them in one pipeline); returns
        how many rows they changed in all (sqlite3 adds up the rows each changed)."""
        if not rows:
            return 0
        if self.postgres:
            sql = self._for_psycopg(sql)
        try:
            self._cursor.executemany(sql, rows)
        except self._error as exc:
            raise DBAPIError.instance(sql, rows[:1], exc, self._error) from exc
        return int(self._cursor.rowcount)

    def execute_in(self, sql: str, params: dict[str, Any], *, keys: str) -> Any:
        """Run a query whose parameter ``keys`` is a list, written ``IN :keys``: SQLAlchemy's
        expanding bind parameter writes it ``IN (...)`` for the backend. Returns the DBAPI
        cursor, as :meth:`execute` does (its rows are tuples)."""
        values = params[keys]
        count = _padded(len(values))
        if count > len(values):  # the last value again: the same rows, a statement already written
            values = [*values, *[values[-1]] * (count - len(values))]
        # SQLite binds positional parameters several times faster than named ones
        statement, order, names = _written_out(
            sql, keys, count, self._dialect, "named" if self.postgres else "qmark"
        )
        expanded = {name: value for name, value in params.items() if name != keys}
        expanded.update(zip(names, values, strict=True))
        if order is None:
            return self.execute(statement, expanded)
        return self.execute_positional(statement, [expanded[name] for name in order])

    def _for_psycopg(self, sql: str) -> str:
        """``:name`` parameters as psycopg's ``%(name)s``, converted once per statement."""
        converted = self._postgres_sql.get(sql)
        if converted is None:
            converted = self._postgres_sql[sql] = _PARAM.sub(r"%(\1)s", sql)
        return converted

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Insert rows (value tuples in the order of ``columns``) in one go.

        PostgreSQL: ``COPY ... FROM STDIN``, a fraction of the server's work for
        separate INSERTs; SQLite: one prepared INSERT run for each row.
        """
        names = ", ".join(columns)
        try:
            if self.postgres:
                with self._cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns))
                self._cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        except self._error as exc:
            raise DBAPIError.instance(f"insert into {table}", None, exc, self._error) from exc

    @functools.cached_property
    def os_login(self) -> str:
        """Who writes to a SQLite database (the OS login), read once for these statements:
        the environment does not change during a transaction."""
        return os_login()

    def json(self, value: Any) -> Any:
        """A value for a JSON column, serialised as SQLAlchemy's JSON type does."""
        if self.postgres:
            from psycopg.types.json import Json

            return Json(value)
        return json.dumps(value)

    @staticmethod
    def from_json(value: Any) -> Any:
        """A JSON column's value as Python (sqlite3 returns the text, psycopg the value)."""
        return json.loads(value) if isinstance(value, str | bytes) else value
