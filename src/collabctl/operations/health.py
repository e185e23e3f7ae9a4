"""``doctor``'s checks: everything that must hold for collabctl to work, as findings.

Each check gives one finding (its name, whether it passed, what was seen or how
to fix it), in this order: config, database-url, database, permissions (SQLite
only), schema, write. A check that fails stops the ones that depend on it. No
finding ever holds a database password.
"""

from __future__ import annotations

import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from collabctl.config import (
    config_file,
    load_config_file,
    redact,
    resolve_database_url,
    url_password,
    url_secrets,
)
from collabctl.domain.errors import CollabError
from collabctl.operations.schema import Database, open_database


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


def _check_config(findings: _Findings) -> dict[str, Any]:
    path = config_file()
    try:
        config = load_config_file()
    except CollabError as exc:
        raise findings.stop("config", exc.message) from None
    if _readable_by_others(path) and url_password(str(config.get("database_url", ""))):
        findings.add(
            "config",
            False,
            f"{path} holds a database password and others can read it: run chmod 600 {path}",
        )
    else:
        findings.add(
            "config", True, f"{path} ({'read' if config else 'not present, defaults used'})"
        )
    return config


def _readable_by_others(path: Path) -> bool:
    return path.exists() and bool(stat.S_IMODE(path.stat().st_mode) & 0o077)


def _check_url(findings: _Findings, database_url: str | None, config: dict[str, Any]) -> Database:
    try:
        resolved = resolve_database_url(database_url, config)
        findings.secrets = url_secrets(resolved.url)
        db = open_database(database_url, config)
    except CollabError as exc:
        raise findings.stop("database-url", exc.message) from None
    findings.secrets = db.secrets
    findings.add("database-url", True, f"{db.display_url} (from {resolved.source})")
    return db


def _check_connection(findings: _Findings, db: Database) -> None:
    try:
        with db.engine.connect() as conn:
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
    """Only others' access is checked: the owner's own mode is the owner's choice."""
    if db.sqlite_path is None:
        return
    mode = stat.S_IMODE(os.stat(db.sqlite_path).st_mode)
    dir_mode = stat.S_IMODE(os.stat(db.sqlite_path.parent).st_mode)
    fixes = []
    if mode & 0o077:
        fixes.append(f"chmod 600 {db.sqlite_path}")
    if db.embedded and dir_mode & 0o077:
        fixes.append(f"chmod 700 {db.sqlite_path.parent}")
    findings.add(
        "permissions",
        not fixes,
        f"file {oct(mode)}, directory {oct(dir_mode)}"
        + (f": others can read customer data; run {' and '.join(fixes)}" if fixes else ""),
    )


def _check_schema(findings: _Findings, db: Database) -> None:
    try:
        db.ensure_schema()
    except CollabError as exc:
        raise findings.stop("schema", f"{exc.message}; fix: {exc.hint}") from None
    findings.add("schema", True, f"revision {db.current_revision()} (newest)")


def _check_write(findings: _Findings, db: Database, actor: str) -> None:
    from collabctl.operations.context import now_iso
    from collabctl.operations.grants import role_rights
    from collabctl.store.audit import insert_audit_event
    from collabctl.store.statements import Statements

    try:
        if db.backend == "postgresql":
            with db.session(write=False) as session:
                rights = role_rights(session)
            findings.add("role", rights.kind != "limited", rights.detail)
            if not rights.may_change:
                findings.add("write", True, "no test write: this role may not change data")
                return
        with db.session() as session:
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
        findings.add("write", False, _failure(db, exc))
        return
    findings.add("write", True, "a test write was made and rolled back")


def _check_notifications(findings: _Findings, db: Database, config: dict[str, Any]) -> None:
    from collabctl.operations.notify import notification_health

    try:
        ok, detail, secrets = notification_health(db, config)
    except Exception as exc:
        findings.add("notifications", False, _failure(db, exc))
        return
    findings.secrets = (*findings.secrets, *secrets)
    findings.add("notifications", ok, detail)
