"""PostgreSQL for the tests: a real throwaway server, started once per test session.

The server runs from the PostgreSQL binaries in ``/usr/lib/postgresql/*/bin``
(or ``COLLABCTL_PG_BINDIR``) on a private temporary directory, listens on
127.0.0.1 and a free port, and accepts the test role only with a password
(scram-sha-256), so every URL the tests use carries a password that must never
be shown. The superuser is reached over the server's own unix socket, for the
administration the tests need (creating and dropping databases).

A template database is migrated once; ``pg_database_url`` gives each test a fresh
copy of it, and afterwards puts the copy back as it was for the next test (or drops it,
when the test changed more than its rows).

When the binaries are missing the PostgreSQL tests are skipped with the reason,
unless ``COLLABCTL_REQUIRE_POSTGRES=1`` (CI), where a missing server is a failure.

The module is also imported by ``benchmarks/bulk_postgres.py``: the server class
below does not depend on pytest.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import glob
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROLE = "collab"
TEMPLATE_DB = "collabctl_template"
DEMO_TEMPLATE_DB = "collabctl_demo_template"
START_TIMEOUT_S = 30
START_ATTEMPTS = 3
SERVER_SETTINGS = {
    # Throwaway data: durability costs time and buys nothing here.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "listen_addresses": "127.0.0.1",
    "log_min_messages": "warning",
    "log_statement": "none",
    # nothing replicates from this server; minimal WAL makes CREATE DATABASE cheaper
    "wal_level": "minimal",
    "max_wal_senders": "0",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started on this machine (binaries or user missing)."""


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server binaries."""
    override = os.environ.get("COLLABCTL_PG_BINDIR")
    candidates = [override] if override else glob.glob("/usr/lib/postgresql/*/bin")
    found = [Path(c) for c in candidates if c and (Path(c) / "initdb").exists()]
    if not found:
        return None

    def version(path: Path) -> tuple[int, ...]:
        digits = "".join(ch if ch.isdigit() else " " for ch in path.parent.name).split()
        return tuple(int(d) for d in digits)

    return max(found, key=version)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A private PostgreSQL cluster in a temporary directory; ``stop()`` removes it all."""

    def __init__(self, bin_dir: Path | None = None, settings: dict[str, str] | None = None) -> None:
        self.settings = {**SERVER_SETTINGS, **(settings or {})}
        found = bin_dir or find_bin_dir()
        if found is None:
            where = os.environ.get("COLLABCTL_PG_BINDIR") or "/usr/lib/postgresql/*/bin"
            raise PostgresUnavailable(
                f"PostgreSQL server binaries (initdb) not found in {where} "
                "(install the `postgresql` package, or set COLLABCTL_PG_BINDIR)"
            )
        self.bin_dir = found
        self.run_as: str | None = None
        if os.geteuid() == 0:
            # the server refuses to run as root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root, and there is no `postgres` user to run the server as"
                ) from None
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root needs `runuser` (util-linux)")
            self.run_as = "postgres"
        self.password = "pw-" + secrets.token_hex(12)
        self.port = 0
        self.root: Path | None = None
        self._admin: Any = None

    # -- paths and commands ------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        assert self.root is not None
        return self.root / "server.log"

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        if self.run_as is not None:
            return ["runuser", "-u", self.run_as, "--", *command]
        return command

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            self._command(program, *args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                + self.log_tail()
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\nserver log:\n" + "\n".join(text.splitlines()[-lines:])

    # -- life cycle --------------------------------------------------------------

    def start(self) -> PostgresServer:
        # the server's user must be able to reach its directory: as root, a private
        # TMPDIR would not do, /tmp always does
        base = "/tmp" if self.run_as is not None else None
        self.root = Path(tempfile.mkdtemp(prefix="collabctl-pg-", dir=base))
        atexit.register(self.stop)
        try:
            self.socket_dir.mkdir()
            if self.run_as is not None:
                entry = pwd.getpwnam(self.run_as)
                for path in (self.root, self.socket_dir):
                    os.chown(path, entry.pw_uid, entry.pw_gid)
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )
            # the superuser only over the private socket; everyone else with a password
            (self.data_dir / "pg_hba.conf").write_text(
                "local all postgres trust\n"
                "local all all scram-sha-256\n"
                "host all all 127.0.0.1/32 scram-sha-256\n"
            )
            self._start_server()
            self._create_role()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_server(self) -> None:
        last_error: Exception | None = None
        for _ in range(START_ATTEMPTS):
            self.port = free_port()
            settings = {
                **self.settings,
                "port": str(self.port),
                "unix_socket_directories": str(self.socket_dir),
            }
            options = " ".join(f"-c {key}={value}" for key, value in settings.items())
            try:
                self._run(
                    "pg_ctl",
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    timeout=START_TIMEOUT_S + 10,
                )
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                # most likely another process took the port between our probe and the start
                last_error = exc
                self._stop_server()
                continue
            self._wait_ready()
            return
        raise RuntimeError(f"PostgreSQL did not start: {last_error}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self.admin().execute("SELECT 1")
                return
            except Exception:
                self._admin = None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _create_role(self) -> None:
        from psycopg import sql

        self.admin().execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(self.password)
            )
        )

    def _stop_server(self) -> None:
        if self.root is None or not (self.data_dir / "postmaster.pid").exists():
            return
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w")

    def stop(self) -> None:
        """Stop the server and remove its directory; safe to call more than once."""
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
        self._stop_server()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # -- administration ----------------------------------------------------------

    def admin(self) -> Any:
        """An autocommit superuser connection over the private unix socket."""
        if self._admin is None or self._admin.closed:
            import psycopg

            self._admin = psycopg.connect(
                host=str(self.socket_dir),
                port=self.port,
                user="postgres",
                dbname="postgres",
                autocommit=True,
                connect_timeout=5,
            )
        return self._admin

    def url(
        self,
        dbname: str,
        *,
        password: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> str:
        """The URL a collabctl user would give: role, password, host and port in it."""
        secret = self.password if password is None else password
        return f"postgresql://{ROLE}:{secret}@{host}:{port or self.port}/{dbname}"

    def create_database(
        self, name: str, *, template: str | None = None, connection: Any = None
    ) -> str:
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(ROLE)
        )
        if template is not None:
            # a file copy of a small template is the quickest way to a fresh database
            query += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
        (connection or self.admin()).execute(query)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        # FORCE ends whatever connection a test (or a killed process) left behind
        self.admin().execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def migrated_template(self) -> str:
        """Create and migrate the template database once; its name."""
        from collabctl.store.database import Database

        self.create_database(TEMPLATE_DB)
        db = Database(self.url(TEMPLATE_DB))
        try:
            db.upgrade()
        finally:
            db.dispose()
        return TEMPLATE_DB


#: Everything about a database, but for its rows, that a test could change and a copy of
#: the template would not have: objects, columns, rights, owners, triggers and whether
#: they fire, functions, settings, planner statistics. Two databases that agree on it
#: and hold the same rows are the same to a test.
_FINGERPRINT_SQL = """
WITH ours AS (
    SELECT oid FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%'
), rels AS (
    SELECT oid FROM pg_class WHERE relnamespace IN (SELECT oid FROM ours)
), parts(part) AS (
    SELECT format('namespace %s %s %s', nspname, nspowner, nspacl) FROM pg_namespace
    UNION ALL
    SELECT format('class %s %s %s %s %s %s %s %s %s', relnamespace::regnamespace, relname,
                  relkind, relowner, relacl, reloptions, relpages, reltuples, relallvisible)
    FROM pg_class WHERE oid IN (SELECT oid FROM rels)
    UNION ALL
    SELECT format('column %s %s %s %s %s %s %s', attrelid::regclass, attname, atttypid, attnum,
                  attnotnull, attisdropped, attacl)
    FROM pg_attribute WHERE attrelid IN (SELECT oid FROM rels) AND attnum > 0
    UNION ALL
    SELECT format('default %s', pg_get_expr(adbin, adrelid)) FROM pg_attrdef
    WHERE adrelid IN (SELECT oid FROM rels)
    UNION ALL
    SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace IN (SELECT oid FROM ours)
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(indexrelid)) FROM pg_index
    WHERE indrelid IN (SELECT oid FROM rels)
    UNION ALL
    SELECT format('trigger %s %s %s', tgrelid::regclass, tgenabled, pg_get_triggerdef(oid))
    FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM rels)
    UNION ALL
    SELECT format('rule %s', pg_get_ruledef(r.oid)) FROM pg_rewrite r
    WHERE ev_class IN (SELECT oid FROM rels)
    UNION ALL
    SELECT format('policy %s %s', polrelid::regclass, polname) FROM pg_policy
    UNION ALL
    SELECT format('function %s %s %s %s %s', pronamespace::regnamespace, proname, proowner,
                  proacl, md5(prosrc))
    FROM pg_proc WHERE pronamespace IN (SELECT oid FROM ours)
    UNION ALL
    SELECT format('type %s %s %s', typnamespace::regnamespace, typname, typacl) FROM pg_type
    WHERE typnamespace IN (SELECT oid FROM ours)
    UNION ALL
    SELECT format('sequence %s %s %s %s', seqrelid::regclass, seqstart, seqincrement, seqcycle)
    FROM pg_sequence
    UNION ALL
    SELECT format('statistic %s %s %s %s', starelid::regclass, staattnum, stanullfrac, stadistinct)
    FROM pg_statistic WHERE starelid IN (SELECT oid FROM rels)
    UNION ALL
    SELECT format('extended statistics %s', stxname) FROM pg_statistic_ext
    UNION ALL
    SELECT format('extension %s %s', extname, extversion) FROM pg_extension
    UNION ALL
    SELECT format('event trigger %s', evtname) FROM pg_event_trigger
    UNION ALL
    SELECT format('default acl %s', defaclacl) FROM pg_default_acl
    UNION ALL
    SELECT format('publication %s', pubname) FROM pg_publication
    UNION ALL
    SELECT format('large objects %s', count(*)) FROM pg_largeobject_metadata
    UNION ALL
    SELECT format('database %s %s %s %s', datdba, datacl, datconnlimit, datallowconn)
    FROM pg_database WHERE datname = current_database()
    UNION ALL
    SELECT format('settings %s %s', setrole, setconfig) FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL
    SELECT format('prepared %s', gid) FROM pg_prepared_xacts WHERE database = current_database()
)
SELECT string_agg(part, E'\n' ORDER BY part) FROM parts
"""


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A fresh copy of a template as ``recycle`` puts a used one back: its fingerprint,
    each table's rows (COPY's binary format) and each sequence's position."""

    fingerprint: str
    rows: tuple[tuple[str, bytes], ...]
    sequences: tuple[tuple[str, int, bool], ...]
    #: the tables that had planner statistics (ANALYZE): analyzed again in a used copy,
    #: the others' statistics cleared
    analyzed: tuple[str, ...]
    #: each relation's size as the planner has it (relpages, reltuples, relallvisible)
    sizes: tuple[tuple[str, int, float, int], ...]


def _tables(connection: Any) -> list[str]:
    return [
        name
        for (name,) in connection.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        )
    ]


def read_baseline(connection: Any) -> Baseline:
    rows = []
    for table in _tables(connection):
        data = bytearray()
        with connection.cursor().copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                data += chunk
        rows.append((table, bytes(data)))
    sequences = []
    for (name,) in connection.execute(
        "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences ORDER BY 1"
    ).fetchall():
        last, called = connection.execute(f"SELECT last_value, is_called FROM {name}").fetchone()
        sequences.append((name, int(last), bool(called)))
    fingerprint = connection.execute(_FINGERPRINT_SQL).fetchone()[0]
    analyzed = connection.execute(
        "SELECT DISTINCT format('%I.%I', relnamespace::regnamespace, relname) FROM pg_class"
        f" WHERE oid IN (SELECT starelid FROM pg_statistic WHERE starelid IN ({_OUR_RELATIONS}))"
        " ORDER BY 1"
    ).fetchall()
    sizes = connection.execute(
        "SELECT oid::regclass::text, relpages, reltuples, relallvisible FROM pg_class"
        f" WHERE oid IN ({_OUR_RELATIONS}) ORDER BY 1"
    ).fetchall()
    return Baseline(
        fingerprint,
        tuple(rows),
        tuple(sequences),
        tuple(name for (name,) in analyzed),
        tuple((str(n), int(p), float(t), int(v)) for n, p, t, v in sizes),
    )


_OUR_RELATIONS = (
    "SELECT oid FROM pg_class WHERE relnamespace NOT IN "
    "('pg_catalog'::regnamespace, 'information_schema'::regnamespace)"
)


def recycle(connection: Any, baseline: Baseline) -> bool:
    """Make a used database (``connection``: a superuser's, not in autocommit) hold what
    ``baseline`` says a fresh copy holds; False, with nothing changed, where it cannot
    (the test changed more than rows): such a database is dropped instead."""
    connection.execute("SET LOCAL lock_timeout = '10s'")
    # the tables' own triggers would refuse (the audit log is append-only)
    connection.execute("SET LOCAL session_replication_role = replica")
    tables = _tables(connection)
    if tables:
        connection.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    for table, data in baseline.rows:
        with connection.cursor().copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
            copy.write(data)
    for name, last, called in baseline.sequences:
        connection.execute("SELECT setval(%s, %s, %s)", (name, last, called))
    # the planner's statistics as the copy had them: ANALYZE where it had run, none elsewhere
    connection.execute(f"DELETE FROM pg_statistic WHERE starelid IN ({_OUR_RELATIONS})")
    for table in baseline.analyzed:
        connection.execute(f"ANALYZE {table}")
    for name, pages, tuples, visible in baseline.sizes:
        connection.execute(
            "UPDATE pg_class SET relpages = %s, reltuples = %s, relallvisible = %s"
            " WHERE oid = %s::regclass",
            (pages, tuples, visible, name),
        )
    if connection.execute(_FINGERPRINT_SQL).fetchone()[0] != baseline.fingerprint:
        connection.rollback()
        return False
    connection.execute("SELECT pg_stat_reset()")  # autovacuum counts from zero, as in a copy
    connection.commit()
    return True


class DatabaseFactory:
    """Fresh copies of the template, made in a thread of their own.

    Copying a database costs the server a noticeable fraction of a second (about
    0.15 s of its time, for every PostgreSQL test): a database a test gives back is put
    back as a fresh copy would be instead (``recycle``: its rows replaced by the
    template's, about 0.03 s) unless the test changed more than rows; then it is
    dropped, and the next test gets a new copy.
    """

    def __init__(self, server: PostgresServer, template: str, prefix: str = "test") -> None:
        self.server = server
        self.template = template
        self.prefix = prefix
        self._numbers = itertools.count(1)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-template")
        self._connection: Any = None
        self._baseline: Baseline | None = None
        self._free: list[str] = []

    def _superuser(self, dbname: str) -> Any:
        import psycopg

        return psycopg.connect(
            host=str(self.server.socket_dir),
            port=self.server.port,
            user="postgres",
            dbname=dbname,
            autocommit=dbname == "postgres",
            connect_timeout=5,
        )

    def _create(self) -> str:
        if self._free:
            return self._free.pop()
        if self._connection is None:
            self._connection = self._superuser("postgres")
        name = f"{self.prefix}_{os.getpid()}_{next(self._numbers)}"
        self.server.create_database(name, template=self.template, connection=self._connection)
        if self._baseline is None:
            with contextlib.closing(self._superuser(name)) as connection:
                self._baseline = read_baseline(connection)
        return name

    def _recycle(self, name: str) -> None:
        assert self._connection is not None and self._baseline is not None
        # whatever connection the test (or a killed process) left behind goes first
        self._connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        )
        try:
            with contextlib.closing(self._superuser(name)) as connection:
                recycled = recycle(connection, self._baseline)
        except Exception:
            recycled = False
        if recycled:
            self._free.append(name)
        else:
            self.server.drop_database(name)

    def take(self) -> str:
        """The name of a fresh database that is the caller's to use, then ``give_back``."""
        return self._executor.submit(self._create).result(timeout=120)

    def give_back(self, name: str) -> None:
        """A database ``take`` gave, used: made fresh again (or dropped) in the background."""
        self._executor.submit(self._recycle, name)

    def close(self, *, drop: bool = True) -> None:
        """Stop making copies; ``drop``: drop the free ones too (not needed when the whole
        server is about to go, with its directory)."""

        def drop_all() -> None:
            while drop and self._free:
                self.server.drop_database(self._free.pop())
            if self._connection is not None:
                self._connection.close()

        with contextlib.suppress(Exception):
            self._executor.submit(drop_all).result(timeout=120)
        self._executor.shutdown(wait=True)


# -- pytest fixtures -------------------------------------------------------------------
#
# Each test session (each pytest-xdist worker is one) starts its own server, and only
# when the first test that needs it asks: a worker that runs no PostgreSQL test starts
# none, and no two workers share a server, a port or a database.


def _unavailable(reason: str) -> None:
    if os.environ.get("COLLABCTL_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (COLLABCTL_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(f"no PostgreSQL server: {reason}")


class Cluster:
    """This session's server and its template copies, started on first use."""

    def __init__(self) -> None:
        self._server: PostgresServer | None = None
        self._databases: DatabaseFactory | None = None
        self._demo_databases: DatabaseFactory | None = None
        self._unavailable: str | None = None
        self._failed: BaseException | None = None
        self._stop_trapping: contextlib.ExitStack | None = None

    def server(self) -> PostgresServer:
        if self._unavailable is not None:
            _unavailable(self._unavailable)
        if self._failed is not None:
            raise RuntimeError(f"the PostgreSQL test server did not start: {self._failed}")
        if self._server is None:
            try:
                server = PostgresServer()
            except PostgresUnavailable as exc:
                self._unavailable = str(exc)
                _unavailable(self._unavailable)
                raise AssertionError("unreachable") from exc
            trapping = contextlib.ExitStack()
            trapping.enter_context(_interrupt_on_sigterm())
            try:
                server.start()
                server.migrated_template()
            except BaseException as exc:
                server.stop()
                trapping.close()
                self._failed = exc
                raise
            self._server, self._stop_trapping = server, trapping
            self._databases = DatabaseFactory(server, TEMPLATE_DB)
        return self._server

    def databases(self) -> DatabaseFactory:
        self.server()
        assert self._databases is not None
        return self._databases

    def demo_databases(self, load: Callable[[str], None]) -> DatabaseFactory:
        """Fresh copies of a template that holds the demo data: ``load(url)`` loads it into
        a copy of the migrated template, the first time (``conftest.demo``)."""
        server = self.server()
        if self._demo_databases is None:
            server.create_database(DEMO_TEMPLATE_DB, template=TEMPLATE_DB)
            try:
                load(server.url(DEMO_TEMPLATE_DB))
            finally:
                # a template takes no copies while anyone is connected to it
                server.admin().execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (DEMO_TEMPLATE_DB,),
                )
            self._demo_databases = DatabaseFactory(server, DEMO_TEMPLATE_DB, "demo")
        return self._demo_databases

    def close(self) -> None:
        for factory in (self._databases, self._demo_databases):
            if factory is not None:
                factory.close(drop=False)  # the server and its directory go next
        self._databases = self._demo_databases = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._stop_trapping is not None:
            self._stop_trapping.close()
            self._stop_trapping = None


@contextlib.contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """A terminated test run (a CI timeout) still stops its server, as Ctrl-C does."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.close()


def require_postgres_marker(request: pytest.FixtureRequest) -> None:
    """Fail a test that reaches the server without the ``postgres`` marker, so that
    ``-m 'not postgres'`` can never run a test that needs the server."""
    if request.node.get_closest_marker("postgres") is None:
        pytest.fail(
            f"{request.node.nodeid} uses the PostgreSQL server but is not marked `postgres`: "
            "add @pytest.mark.postgres, or pytest.param(..., marks=pytest.mark.postgres) "
            "to the parameter that asks for it",
            pytrace=False,
        )


@pytest.fixture
def pg_server(request: pytest.FixtureRequest, pg_cluster: Cluster) -> PostgresServer:
    """The running throwaway server (one per session), with a migrated template database."""
    require_postgres_marker(request)
    return pg_cluster.server()


_database_numbers = itertools.count(1)


@pytest.fixture
def pg_database_url(pg_server: PostgresServer, pg_cluster: Cluster) -> Iterator[str]:
    """A fresh, migrated database for this test (a copy of the template)."""
    databases = pg_cluster.databases()
    name = databases.take()
    try:
        yield pg_server.url(name)
    finally:
        databases.give_back(name)


def demo_database_url(request: pytest.FixtureRequest, load: Callable[[str], None]) -> str:
    """Like ``pg_database_url``, a fresh database for this test, but a copy of one that
    ``load(url)`` loaded with the demo data, once per session (``conftest.backend``)."""
    pg_server: PostgresServer = request.getfixturevalue("pg_server")
    pg_cluster: Cluster = request.getfixturevalue("pg_cluster")
    databases = pg_cluster.demo_databases(load)
    name = databases.take()
    request.addfinalizer(lambda: databases.give_back(name))
    return pg_server.url(name)


@pytest.fixture
def pg_empty_database_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh database with no collabctl schema at all (never migrated)."""
    name = f"empty_{os.getpid()}_{next(_database_numbers)}"
    url = pg_server.create_database(name)
    try:
        yield url
    finally:
        pg_server.drop_database(name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL, so ``-m 'not postgres'`` can leave them out.

    Only what collection can see: the ``postgres`` backend parameter and the ``pg_``
    fixtures a test names. A test that asks for the server in another way (through
    ``request.getfixturevalue``) carries the marker itself; ``pg_server`` fails it
    when it does not.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("backend") in (
            "postgres",
            "pgbouncer",
            "pgbouncer-session",
        )
        uses_server = any(name.startswith("pg_") for name in getattr(item, "fixturenames", ()))
        if on_postgres or uses_server:
            item.add_marker(pytest.mark.postgres)
