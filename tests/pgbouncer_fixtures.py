"""PgBouncer in front of the test PostgreSQL server, as shared deployments run it.

A real ``pgbouncer`` (Debian package ``pgbouncer``; ``.ci/run`` installs it) in
transaction pooling mode, on 127.0.0.1 and a free port, run as the server's
user. Clients log in to it with the test role's password; it logs in to the
server with the same (SCRAM). In transaction mode one server connection serves
many clients in turn, so whatever a client leaves on a server session (a
prepared statement, a session setting, its process id as an identity) shows up
in another client's transactions: the tests that run through it catch that.

``pgbouncer_database_url`` gives a fresh database (a copy of the migrated
template) reached through PgBouncer. Without the program the tests are skipped
with the reason, unless ``COLLABCTL_REQUIRE_POSTGRES=1`` (CI).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pg_fixtures import ROLE, Cluster, PostgresServer, free_port

START_TIMEOUT_S = 30


def find_pgbouncer() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


class PgBouncer:
    """One PgBouncer process in front of ``server``; ``stop()`` ends it."""

    def __init__(self, server: PostgresServer, pool_mode: str = "transaction") -> None:
        program = find_pgbouncer()
        if program is None:
            raise FileNotFoundError("pgbouncer not found (install the `pgbouncer` package)")
        self.program = program
        self.server = server
        self.pool_mode = pool_mode
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        assert server.root is not None
        self.dir = server.root / f"pgbouncer-{pool_mode}"

    def _write_config(self) -> Path:
        self.dir.mkdir(exist_ok=True)
        userlist = self.dir / "userlist.txt"
        userlist.write_text(f'"{ROLE}" "{self.server.password}"\n')
        config = self.dir / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.server.port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {userlist}\n"
            f"pool_mode = {self.pool_mode}\n"
            "max_client_conn = 400\n"
            "default_pool_size = 8\n"
            "max_db_connections = 8\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
            f"pidfile = {self.dir / 'pgbouncer.pid'}\n"
        )
        if self.server.run_as is not None:
            entry = pwd.getpwnam(self.server.run_as)
            for path in (self.dir, userlist, config):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        userlist.chmod(0o600)
        return config

    def start(self) -> PgBouncer:
        self.port = free_port()
        config = self._write_config()
        command = [self.program, str(config)]
        if self.server.run_as is not None:
            command = ["runuser", "-u", self.server.run_as, "--", *command]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                _, err = self.process.communicate()
                raise RuntimeError(f"pgbouncer exited: {err.decode(errors='replace')}" + self.log())
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("pgbouncer did not start listening" + self.log())
            time.sleep(0.05)

    def log(self) -> str:
        try:
            return "\npgbouncer log:\n" + (self.dir / "pgbouncer.log").read_text()[-3000:]
        except OSError:
            return ""

    def url(self, dbname: str) -> str:
        return self.server.url(dbname, port=self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                # PgBouncer itself, not runuser around it: runuser passes a SIGTERM on
                # and then waits two seconds before it kills what is left
                os.kill(int((self.dir / "pgbouncer.pid").read_text()), signal.SIGTERM)
            except (OSError, ValueError):
                self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def _start(pg_cluster: Cluster, pool_mode: str) -> PgBouncer:
    server = pg_cluster.server()
    try:
        return PgBouncer(server, pool_mode).start()
    except FileNotFoundError as exc:
        if os.environ.get("COLLABCTL_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PgBouncer is required (COLLABCTL_REQUIRE_POSTGRES=1): {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pgbouncer(pg_cluster: Cluster) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of this session's server (started once)."""
    bouncer = _start(pg_cluster, "transaction")
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture(scope="session")
def pgbouncer_session_mode(pg_cluster: Cluster) -> Iterator[PgBouncer]:
    """PgBouncer in session mode: a server session outlives the client that had it."""
    bouncer = _start(pg_cluster, "session")
    try:
        yield bouncer
    finally:
        bouncer.stop()


def _through(pg_server: PostgresServer, pg_cluster: Cluster, bouncer: PgBouncer) -> Iterator[str]:
    name = pg_cluster.databases().take()
    try:
        yield bouncer.url(name)
    finally:
        # the server connections PgBouncer keeps for this database go first
        with contextlib.suppress(Exception):
            pg_server.admin().execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        pg_server.drop_database(name)


@pytest.fixture
def pgbouncer_database_url(
    pg_server: PostgresServer, pg_cluster: Cluster, pgbouncer: PgBouncer
) -> Iterator[str]:
    """A fresh, migrated database for this test, reached through PgBouncer."""
    yield from _through(pg_server, pg_cluster, pgbouncer)


@pytest.fixture
def pgbouncer_session_database_url(
    pg_server: PostgresServer, pg_cluster: Cluster, pgbouncer_session_mode: PgBouncer
) -> Iterator[str]:
    """The same through PgBouncer in session mode."""
    yield from _through(pg_server, pg_cluster, pgbouncer_session_mode)


#: ``@pytest.mark.parametrize("backend", ALL_BACKENDS, indirect=True)``: a test that
#: also runs through PgBouncer (the ``backend`` fixture in conftest.py knows the name)
ALL_BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("pgbouncer", marks=pytest.mark.postgres),
]
#: the backends behind a URL, and the fixture that gives it
URL_FIXTURES = {
    "postgres": "pg_database_url",
    "pgbouncer": "pgbouncer_database_url",
    "pgbouncer-session": "pgbouncer_session_database_url",
}
