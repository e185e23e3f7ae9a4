"""Engine and session setup for SQLite and PostgreSQL, schema checks, retries.

SQLite: WAL, a long busy timeout, foreign keys on. Only a writing session starts
with ``BEGIN IMMEDIATE`` (writers queue for the lock at the start instead of
failing halfway with "database is locked"); reads, the schema check included,
start a plain ``BEGIN`` and, with WAL, never wait for a writer. A file named by
URL must exist (see ``sqlitefile``): only the embedded default is created on
first use, and ``db upgrade`` creates the file it is pointed at.

PostgreSQL (psycopg 3): READ COMMITTED with row locks (``SELECT ... FOR
UPDATE``) taken by the operations; deadlocks and serialization failures are
retried (``retry``). Nothing outlives a transaction on the server (no prepared
statements, no session settings or locks), so PgBouncer in transaction pooling
mode may sit in front of it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from collabctl.config import config_file, parse_url, redact
from collabctl.domain.errors import CollabError, ConfigInvalid, InvalidInput, SchemaOutdated
from collabctl.store import failures, sqlitefile
from collabctl.store.retry import DEFAULT_BACKOFF, Backoff, is_retryable

if TYPE_CHECKING:
    from typing import TypeAlias

    from sqlalchemy.orm import Session

    #: what a read runs its Core queries on: a read connection (``Database.reading``),
    #: or the session of a writing transaction
    Reader: TypeAlias = Session | Connection

__all__ = ["HEAD_REVISION", "Database", "SchemaStatus", "is_retryable", "normalize_url"]

#: The newest migration this code knows. A test keeps it equal to Alembic's head,
#: so ordinary commands can check the schema without importing Alembic.
HEAD_REVISION = "0006"

SQLITE_BUSY_TIMEOUT_S = 60.0
_READ_ONLY = "collabctl_read_only"
#: Advisory lock key (any fixed number) under which `db upgrade` runs on PostgreSQL.
_MIGRATION_LOCK_KEY = 0x636F6C6C
_URL_FORMS = "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DBNAME"

T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept the URL forms people paste (``postgres://``, ``postgresql://``) and pick psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class SchemaStatus(NamedTuple):
    """A database's schema revision against the migrations this collabctl has."""

    revision: str | None
    head: str
    #: empty | behind | current | newer | unknown (see store.migrate.classify)
    state: str

    @property
    def current(self) -> bool:
        return self.state == "current"

    @property
    def note(self) -> str:
        """One phrase for `db current`: what the state means for the person reading it."""
        return {
            "current": "current",
            "empty": "empty: run `collabctl db upgrade`",
            "behind": "outdated: run `collabctl db upgrade`",
            "newer": "upgraded by a newer collabctl: upgrade collabctl",
            "unknown": "a revision this collabctl does not know",
        }[self.state]

    def error(self, source: str) -> SchemaOutdated:
        """Why a command cannot run on this schema; ``source`` is where the URL came from."""
        if self.state == "newer":
            return SchemaOutdated(
                f"this database was upgraded by a newer collabctl (schema {self.revision}; "
                f"this collabctl knows up to {self.head})",
                "upgrade collabctl: pip install --upgrade collabctl",
            )
        if self.state == "unknown":
            return SchemaOutdated(
                f"the database schema is at revision {self.revision!r}, which is not in this "
                f"collabctl's migrations (up to {self.head})",
                "the database was changed by another program or another build of collabctl: "
                "compare its alembic_version table with the collabctl that wrote it; a newer "
                "collabctl may know the revision",
            )
        where = "is empty" if self.state == "empty" else f"is at {self.revision}"
        return SchemaOutdated(
            f"the database schema {where}, collabctl needs {self.head}",
            # the URL is not repeated: its password is hidden, and a hint with *** in it
            # would fail when pasted
            "run `collabctl db upgrade` with the same --database-url as this command"
            if source == "option"
            else "collabctl db upgrade",
        )


class Database:
    def __init__(self, url: str, *, embedded: bool = False, source: str = "option") -> None:
        self.raw_url = url
        self.embedded = embedded
        #: where the URL came from: option | environment | config | default
        self.source = source
        parsed = parse_url(url)
        self.secrets = parsed.secrets
        #: the URL with its password hidden: what messages, doctor and JSON show
        self.display_url = parsed.display
        self.busy_timeout = SQLITE_BUSY_TIMEOUT_S
        #: set once the schema was found (or made) current: one check per command is enough
        self._schema_current = False
        if parsed.url is None:
            raise self._unusable(f"not a database URL: {self.display_url}", _URL_FORMS)
        self.backend = parsed.url.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            raise self._unusable(
                f"unsupported database {self.backend!r} in {self.display_url}", _URL_FORMS
            )
        self.sqlite_path: Path | None = None
        if self.backend == "sqlite":
            database = parsed.url.database
            if not database or database == ":memory:":
                raise self._unusable(
                    "an in-memory SQLite database cannot hold collabctl's data between commands",
                    "use sqlite:///PATH/TO/FILE.db",
                )
            self.sqlite_path = Path(database).expanduser()
            self._url = parsed.url
        else:
            self._url = parsed.url.set(drivername="postgresql+psycopg")

    def _unusable(self, message: str, hint: str) -> CollabError:
        """A URL that names no usable database: bad input, or bad configuration from config.toml."""
        if self.source == "config":
            return ConfigInvalid(f"database_url in {config_file()}: {message}", hint)
        return InvalidInput(message, hint)

    @property
    def url(self) -> str:
        """The URL the engine uses, password included: never for display."""
        return self._url.render_as_string(hide_password=False)

    def scrub(self, message: str) -> str:
        return redact(message, self.secrets)

    def _where(self) -> str:
        return {
            "option": "--database-url",
            "environment": "COLLABCTL_DATABASE_URL",
            "config": f"database_url in {config_file()}",
        }.get(self.source, "the database URL")

    # -- engine --------------------------------------------------------------

    @cached_property
    def engine(self) -> Engine:
        if self.sqlite_path is not None:
            if self.embedded:
                sqlitefile.create_file(self.sqlite_path)
            else:
                sqlitefile.require_file(self.sqlite_path, self._where())
            engine = create_engine(
                self._url, creator=partial(sqlitefile.connect, self.sqlite_path, self.busy_timeout)
            )
            _configure_sqlite(engine, self.busy_timeout)
            return engine
        # defaults only: what the URL's query string says (?connect_timeout=20) wins
        defaults = {"connect_timeout": 5, "application_name": "collabctl"}
        connect_args: dict[str, Any] = {
            k: v for k, v in defaults.items() if k not in self._url.query
        }
        # Never a server-side prepared statement (psycopg prepares a query it has run
        # five times): behind PgBouncer in transaction mode the next transaction may run
        # on another server connection, which has never heard of "_pg3_0".
        connect_args["prepare_threshold"] = None
        return create_engine(self._url, connect_args=connect_args, pool_pre_ping=False)

    @cached_property
    def read_engine(self) -> Engine:
        """The engine for reads: on SQLite its transactions never take the write lock."""
        return self.engine.execution_options(**{_READ_ONLY: True})

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    def translate(self, exc: BaseException) -> CollabError:
        """A database failure as a user sees it: what, where (no password), how to fix.

        ``database-unavailable`` with a hint for the kind of failure, or
        ``permission-denied`` for what the database role may not do.
        """
        return failures.translate(exc, self)

    # -- schema --------------------------------------------------------------

    def current_revision(self) -> str | None:
        try:
            with self.read_engine.connect() as conn:
                return _read_revision(conn)
        except SQLAlchemyError as exc:
            raise self.translate(exc) from exc

    def schema_status(self) -> SchemaStatus:
        """The schema's revision and where it stands in this collabctl's migration history."""
        revision = self.current_revision()
        if revision == HEAD_REVISION:  # the common case, without loading Alembic
            return SchemaStatus(revision, HEAD_REVISION, "current")
        from collabctl.store.migrate import classify

        return SchemaStatus(revision, HEAD_REVISION, classify(revision))

    def ensure_schema(self) -> None:
        """The embedded database is created and upgraded on first use; others never implicitly."""
        if self._schema_current:
            return
        status = self.schema_status()
        if status.current or (self.embedded and status.state in ("empty", "behind")):
            if not status.current:
                self.upgrade()
            self._schema_current = True
            return
        raise status.error(self.source)

    def upgrade(self, revision: str = "head") -> str | None:
        """Migrate to ``revision``; returns the revision the database had just before.

        A SQLite file named by URL that does not exist yet is created here: `db upgrade`
        is how a new shared SQLite database is made.
        """
        from collabctl.store.migrate import classify, upgrade

        if self.sqlite_path is not None:
            sqlitefile.create_file(self.sqlite_path)
        try:
            with self.engine.begin() as conn:
                if self.backend == "postgresql":
                    # Admins upgrading one shared database at once take turns: the second
                    # reads the revision after the first committed and finds nothing to do,
                    # instead of failing halfway through creating the same tables.
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                    )
                before = _read_revision(conn)
                state = classify(before)
                if state in ("newer", "unknown"):
                    raise SchemaStatus(before, HEAD_REVISION, state).error(self.source)
                upgrade(conn, revision)
                return before
        except SQLAlchemyError as exc:
            raise self.translate(exc) from exc

    # -- sessions ------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction on a plain connection, for Core queries: no ORM session,
        so a command that only reads never imports SQLAlchemy's ORM (nor SQLModel)."""
        try:
            with self.read_engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise self.translate(exc) from exc

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose transaction the caller commits; errors become domain errors."""
        from sqlalchemy.orm import Session

        session = Session(self.engine if write else self.read_engine, expire_on_commit=False)
        try:
            yield session
        except DBAPIError as exc:
            session.rollback()
            # lock conflicts stay DBAPIErrors so that transact() and bulk runs can retry them
            if _is_constraint_violation(exc) or is_retryable(exc):
                raise
            raise self.translate(exc) from exc
        finally:
            session.close()

    def transact(
        self,
        work: Callable[[Session], T],
        *,
        backoff: Backoff = DEFAULT_BACKOFF,
        commit: bool = True,
    ) -> T:
        """Run ``work`` in one writing transaction and commit (or, with ``commit=False``,
        roll it back: a dry run that does everything a real run does but keep it); run it
        again on lock conflicts."""

        def attempt() -> T:
            with self.session() as session:
                result = work(session)
                if commit:
                    session.commit()
                else:
                    session.rollback()
                return result

        return backoff.call(attempt)


def _is_constraint_violation(exc: DBAPIError) -> bool:
    from sqlalchemy.exc import IntegrityError

    return isinstance(exc, IntegrityError)


def _read_revision(conn: Connection) -> str | None:
    if conn.dialect.name == "sqlite":
        exists = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        ).first()
    else:
        exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
    if not exists:
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            # A file this user may only read cannot be switched to WAL; reads can still
            # work, and a write fails with an error that says why.
            if not str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_READONLY"):
                raise
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
