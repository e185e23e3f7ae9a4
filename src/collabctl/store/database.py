"""Engine and session setup for SQLite and PostgreSQL, schema checks, retries.

SQLite: WAL, a long busy timeout, foreign keys on, and every writing
transaction starts with ``BEGIN IMMEDIATE`` so that writers queue for the lock
at the start instead of failing halfway with "database is locked".

PostgreSQL (psycopg 3): READ COMMITTED with row locks (``SELECT ... FOR
UPDATE``) taken by the operations; deadlocks and serialization failures are
retried.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel import create_engine

from collabctl.config import redact, url_secrets
from collabctl.domain.errors import (
    CollabError,
    DatabaseUnavailable,
    InvalidInput,
    PermissionDenied,
    SchemaOutdated,
)

#: The newest migration this code knows. A test keeps it equal to Alembic's head,
#: so ordinary commands can check the schema without importing Alembic.
HEAD_REVISION = "0003"

SQLITE_BUSY_TIMEOUT_S = 60.0
_READ_ONLY = "collabctl_read_only"
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}
#: PostgreSQL's insufficient_privilege: a grant is missing, or the audit log's
#: append-only trigger refused a change (error code permission-denied)
_INSUFFICIENT_PRIVILEGE = "42501"
#: Advisory lock key (any fixed number) under which `db upgrade` runs on PostgreSQL.
_MIGRATION_LOCK_KEY = 0x636F6C6C

T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept the URL forms people paste (``postgres://``, ``postgresql://``) and pick psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    def __init__(self, url: str, *, embedded: bool = False, source: str = "option") -> None:
        self.raw_url = url
        self.url = normalize_url(url)
        self.embedded = embedded
        #: where the URL came from: option | environment | config | default
        self.source = source
        self.secrets = url_secrets(url)
        #: set once the schema was found (or made) current: one check per command is enough
        self._schema_current = False
        try:
            parsed = make_url(self.url)
        except Exception as exc:  # sqlalchemy raises ArgumentError with the URL in it
            raise InvalidInput(
                f"not a database URL: {self.display_url}",
                "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DBNAME",
            ) from exc
        self.backend = parsed.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            raise InvalidInput(
                f"unsupported database {self.backend!r} in {self.display_url}",
                "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DBNAME",
            )
        self.sqlite_path: Path | None = None
        if self.backend == "sqlite":
            database = parsed.database
            if not database or database == ":memory:":
                raise InvalidInput(
                    "an in-memory SQLite database cannot hold collabctl's data between commands",
                    "use sqlite:///PATH/TO/FILE.db",
                )
            self.sqlite_path = Path(database).expanduser()

    @property
    def display_url(self) -> str:
        return redact(self.raw_url, self.secrets)

    def scrub(self, message: str) -> str:
        return redact(message, self.secrets)

    # -- engine --------------------------------------------------------------

    @cached_property
    def engine(self) -> Engine:
        if self.sqlite_path is not None:
            _prepare_private_file(self.sqlite_path, own_directory=self.embedded)
            engine = create_engine(
                self.url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            )
            _configure_sqlite(engine)
            return engine
        # defaults only: what the URL's query string says (?connect_timeout=20) wins
        defaults = {"connect_timeout": 5, "application_name": "collabctl"}
        query = make_url(self.url).query
        return create_engine(
            self.url,
            connect_args={k: v for k, v in defaults.items() if k not in query},
            pool_pre_ping=False,
        )

    @cached_property
    def _read_engine(self) -> Engine:
        return self.engine.execution_options(**{_READ_ONLY: True})

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    def translate(self, exc: BaseException) -> CollabError:
        """A database failure as a user sees it: what, where (no password), how to fix."""
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = detail[0] if detail else type(exc).__name__
        if getattr(getattr(exc, "orig", exc), "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
            return PermissionDenied(
                self.scrub(f"the database role may not do this: {reason}"),
                "`collabctl doctor` shows what this role may do; the database owner grants "
                "more with `collabctl db grant ROLE --agent --apply`",
            )
        return DatabaseUnavailable(
            self.scrub(f"cannot use the database {self.display_url}: {reason}"),
            "check the URL (host, port, user, password, database name) and that the server "
            "is running; `collabctl doctor` checks the setup",
        )

    # -- schema --------------------------------------------------------------

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return _read_revision(conn)
        except SQLAlchemyError as exc:
            raise self.translate(exc) from exc

    def ensure_schema(self) -> None:
        """The embedded database is created and upgraded on first use; others never implicitly."""
        if self._schema_current:
            return
        revision = self.current_revision()
        if revision == HEAD_REVISION:
            self._schema_current = True
            return
        if self.embedded and (revision is None or revision < HEAD_REVISION):
            self.upgrade()
            self._schema_current = True
            return
        if revision is not None and revision > HEAD_REVISION:
            raise SchemaOutdated(
                f"the database schema ({revision}) is newer than this collabctl knows ({HEAD_REVISION})",
                "upgrade collabctl: pip install --upgrade collabctl",
            )
        raise SchemaOutdated(
            f"the database schema is {'empty' if revision is None else revision}, "
            f"collabctl needs {HEAD_REVISION}",
            # from the environment or config.toml the bare command finds the same database;
            # a URL given as an option has to be given again (its password is not shown)
            "collabctl db upgrade"
            if self.source in ("environment", "config")
            else f"collabctl --database-url '{self.display_url}' db upgrade",
        )

    def upgrade(self, revision: str = "head") -> str | None:
        """Migrate to ``revision``; returns the revision the database had just before."""
        from collabctl.store.migrate import upgrade

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
                upgrade(conn, revision)
                return before
        except SQLAlchemyError as exc:
            raise self.translate(exc) from exc

    # -- sessions ------------------------------------------------------------

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose transaction the caller commits; errors become domain errors."""
        session = Session(self.engine if write else self._read_engine, expire_on_commit=False)
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

    def transact(self, work: Callable[[Session], T], *, attempts: int = 8) -> T:
        """Run ``work`` in one writing transaction and commit; retry on lock conflicts."""
        for attempt in range(attempts):
            try:
                with self.session() as session:
                    result = work(session)
                    session.commit()
                    return result
            except DBAPIError as exc:
                if attempt + 1 < attempts and is_retryable(exc):
                    time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
                    continue
                raise
        raise AssertionError("unreachable")


def is_retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


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


def _prepare_private_file(path: Path, *, own_directory: bool) -> None:
    """The data file and its directory are readable by their owner only.

    The directory is made private only when it is collabctl's own (the embedded
    default); a file named by URL may live in a shared directory such as /tmp.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if own_directory:
        os.chmod(path.parent, 0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    os.chmod(path, 0o600)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
