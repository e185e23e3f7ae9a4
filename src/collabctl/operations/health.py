"""``doctor``'s checks: everything that must hold for collabctl to work, as findings.

Each check gives one finding (its name, whether it passed, what was seen or how
to fix it), in this order: config (config.toml and the catalogue file it names),
database-url, database, permissions (SQLite only), schema, role (PostgreSQL
only), write, notifications, smtp (when a server is configured: connect, EHLO,
STARTTLS, AUTH, sending nothing). A check that fails stops the ones that depend on
it. Doctor loads what every other command loads, so it fails on whatever they
would fail on. It reports file modes and never changes them. Its reads never
wait behind a writer, and its test write waits for the write lock a few seconds
only. No finding ever holds a password.
"""

from __future__ import annotations

import stat
from dataclasses import asdict, dataclass
from typing import Any

from collabctl.config import (
    catalogue_file,
    config_file,
    load_catalogue,
    load_config_file,
    redact,
    resolve_database_url,
    url_password,
    url_secrets,
)
from collabctl.domain.errors import CollabError
from collabctl.operations.database_schema import Database, open_database
from collabctl.operations.files import readable_by_others
from collabctl.store import failures
from collabctl.store.sqlitefile import explain_access

#: How long doctor's test write waits for a writer that holds the lock (SQLite's busy
#: timeout, PostgreSQL's lock_timeout), in seconds: a nightly bulk end must not make
#: doctor hang, nor fail it.
WRITE_WAIT_S = 3.0

#: The settings of config.toml that may hold a password, and what that password is.
_PASSWORD_SETTINGS = (("database_url", "a database password"), ("smtp_url", "the SMTP password"))


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Stop(Exception):
    """A check failed that the following checks depend on."""


class _Findings(list[Finding]):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()

    def add(self, check: str, ok: bool, detail: str) -> None:
        self.append(Finding(check, ok, redact(detail, self.secrets)))

    def stop(self, check: str, detail: str) -> _Stop:
        self.add(check, False, detail)
        return _Stop()


def check_health(database_url: str | None, actor: str) -> list[Finding]:
    """Run every check against the database ``database_url`` names (as ``--database-url``).

    Changes nothing: the test write is rolled back; the embedded database is
    created on first use, as by any command.
    """
    findings = _Findings()
    db: Database | None = None
    try:
        config = _check_config(findings)
        db = _check_url(findings, database_url, config)
        _check_connection(findings, db)
        _check_permissions(findings, db)
        _check_schema(findings, db)
        _check_write(findings, db, actor)
        _check_notifications(findings, db, config)
        _check_smtp(findings, config)
    except _Stop:
        pass
    finally:
        if db is not None:
            db.dispose()
    return list(findings)


def _failure(db: Database, exc: Exception) -> str:
    """What went wrong, said once: a failure already worded for users keeps its words."""
    if isinstance(exc, CollabError):
        return exc.message
    return db.translate(exc).message


def _with_fix(exc: CollabError) -> str:
    return f"{exc.message}; fix: {exc.hint}" if exc.hint else exc.message


def _check_config(findings: _Findings) -> dict[str, Any]:
    """config.toml, and the catalogue file it names, as every command loads them."""
    path = config_file()
    try:
        config = load_config_file()
    except CollabError as exc:
        raise findings.stop("config", exc.message) from None
    problems = []
    exposed = [what for key, what in _PASSWORD_SETTINGS if url_password(str(config.get(key, "")))]
    if exposed and readable_by_others(path):
        problems.append(
            f"{path} holds {' and '.join(exposed)} and others can read it: run chmod 600 {path}"
        )
    catalogue = ""
    try:
        services = load_catalogue(config)
    except CollabError as exc:
        problems.append(_with_fix(exc))
    else:
        file = catalogue_file(config)
        if file is not None:
            count = len(services.codes)
            catalogue = f"; catalogue {file} ({count} service{'' if count == 1 else 's'} in all)"
    if problems:
        findings.add("config", False, "; ".join(problems))
    else:
        read = "read" if config else "not present, defaults used"
        findings.add("config", True, f"{path} ({read}){catalogue}")
    return config


def _check_url(findings: _Findings, database_url: str | None, config: dict[str, Any]) -> Database:
    try:
        resolved = resolve_database_url(database_url, config)
        findings.secrets = url_secrets(resolved.url)
        db = open_database(database_url, config)
    except CollabError as exc:
        raise findings.stop("database-url", exc.message) from None
    findings.secrets = db.secrets
    db.busy_timeout = WRITE_WAIT_S  # before the engine exists: its connections take it
    findings.add("database-url", True, f"{db.display_url} (from {resolved.source})")
    return db


def _check_connection(findings: _Findings, db: Database) -> None:
    try:
        with db.read_engine.connect() as conn:  # never waits for the write lock
            if db.backend == "sqlite":
                version = conn.exec_driver_sql("select sqlite_version()").scalar()
                journal = conn.exec_driver_sql("pragma journal_mode").scalar()
                findings.add("database", True, f"SQLite {version}, journal {journal}")
            else:
                version = conn.exec_driver_sql("show server_version").scalar()
                findings.add("database", True, f"PostgreSQL {version}")
    except Exception as exc:
        raise findings.stop("database", _failure(db, exc)) from None


def _check_permissions(findings: _Findings, db: Database) -> None:
    """Who may use the SQLite file: others (they should not), and this user (who must).

    Reported, never changed: the owner's own modes are the owner's choice.
    """
    path = db.sqlite_path
    if path is None:
        return
    directory = path.parent
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        dir_mode = stat.S_IMODE(directory.stat().st_mode)
    except OSError as exc:
        findings.add("permissions", False, _failure(db, exc))
        return
    problems = []
    if mode & 0o077:
        problems.append(f"others can read customer data: chmod 600 {path}")
    if db.embedded and dir_mode & 0o077:
        problems.append(f"others can look into the data directory: chmod 700 {directory}")
    explained = explain_access(path)  # what stops this user: a read-only file, a foreign one
    if explained is not None:
        problems.append("; ".join(explained))
    findings.add(
        "permissions",
        not problems,
        f"file {mode:04o}, directory {dir_mode:04o}"
        + (f": {'; '.join(problems)}" if problems else ""),
    )


def _check_schema(findings: _Findings, db: Database) -> None:
    """The schema's place in the migration history; the embedded database is upgraded
    here as by any command's first use, a shared one never."""
    try:
        found = db.schema_status()
        before = found.revision
        if not found.current and db.embedded and found.state in ("empty", "behind"):
            db.ensure_schema()
            found = db.schema_status()
    except Exception as exc:
        raise findings.stop("schema", _failure(db, exc)) from None
    if not found.current:
        raise findings.stop("schema", _with_fix(found.error(db.source)))
    upgraded = f"; upgraded from {before or 'empty'}" if before != found.revision else ""
    findings.add("schema", True, f"revision {found.revision} (newest{upgraded})")


def _check_write(findings: _Findings, db: Database, actor: str) -> None:
    from sqlalchemy import text

    from collabctl.operations.context import now_iso
    from collabctl.operations.grants import attributes_check, role_rights
    from collabctl.store.audit import insert_audit_event
    from collabctl.store.statements import Statements

    try:
        if db.backend == "postgresql":
            with db.session(write=False) as session:
                rights = role_rights(session)
                attributes_ok, attributes = attributes_check(session, rights)
            findings.add("role", rights.kind != "limited", rights.detail)
            findings.add("role-attributes", attributes_ok, attributes)
            if not rights.may_change:
                findings.add("write", True, "no test write: this role may not change data")
                return
        with db.session() as session:  # on SQLite: waits WRITE_WAIT_S for the write lock
            if db.backend == "postgresql":
                session.execute(text(f"SET LOCAL lock_timeout = {int(WRITE_WAIT_S * 1000)}"))
            insert_audit_event(
                Statements(session),
                at=now_iso(),
                actor=actor,
                scope="doctor",
                action="doctor",
                customer_number=None,
                service=None,
                details={},
            )
            session.rollback()
    except Exception as exc:
        if failures.kind_of(exc.__cause__ or exc) == failures.LOCKED:
            findings.add(
                "write",
                True,
                f"not tested: another process held the write lock for longer than "
                f"{WRITE_WAIT_S:g} s (a long import or bulk end?); run doctor again later",
            )
        else:
            findings.add("write", False, _failure(db, exc))
        return
    findings.add("write", True, "a test write was made and rolled back")


def _check_notifications(findings: _Findings, db: Database, config: dict[str, Any]) -> None:
    from collabctl.operations.delivery import notification_health

    try:
        ok, detail, secrets = notification_health(db, config)
    except Exception as exc:
        findings.add("notifications", False, _failure(db, exc))
        return
    findings.secrets = (*findings.secrets, *secrets)
    findings.add("notifications", ok, detail)


def _check_smtp(findings: _Findings, config: dict[str, Any]) -> None:
    """The configured SMTP server, reached as ``notify send`` would, sending nothing."""
    from collabctl.operations.mailer import smtp_settings
    from collabctl.operations.smtp_connection import probe

    try:
        settings = smtp_settings(config)
    except CollabError:
        return  # said by the notifications finding
    if settings is None:
        return
    findings.secrets = (*findings.secrets, *settings.secrets)
    ok, detail = probe(settings)
    findings.add("smtp", ok, f"{settings.display_url}: {detail}")
