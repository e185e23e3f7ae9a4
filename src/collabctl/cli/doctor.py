"""``collabctl doctor``: everything that must hold for collabctl to work, checked."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from collabctl.domain.errors import CollabError

if TYPE_CHECKING:
    from collabctl.cli.state import State


def run_checks(state: State) -> list[dict[str, Any]]:
    from collabctl.config import config_file, resolve_database_url

    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": ok, "detail": state_redact(detail)})

    def state_redact(text: str) -> str:
        from collabctl.config import redact

        return redact(text, state.secrets)

    path = config_file()
    try:
        config = state.config
        from collabctl.config import url_password

        loose = bool(
            path.exists()
            and url_password(str(config.get("database_url", "")))
            and stat.S_IMODE(path.stat().st_mode) & 0o077
        )
        if loose:
            check(
                "config",
                False,
                f"{path} holds a database password and others can read it: run chmod 600 {path}",
            )
        else:
            check("config", True, f"{path} ({'read' if config else 'not present, defaults used'})")
    except CollabError as exc:
        check("config", False, exc.message)
        return checks

    try:
        resolved = resolve_database_url(state.database_url, config)
        db = state.database(ensure_schema=False)
    except CollabError as exc:
        check("database-url", False, exc.message)
        return checks
    check("database-url", True, f"{db.display_url} (from {resolved.source})")

    try:
        with db.engine.connect() as conn:
            if db.backend == "sqlite":
                version = conn.exec_driver_sql("select sqlite_version()").scalar()
                journal = conn.exec_driver_sql("pragma journal_mode").scalar()
                check("database", True, f"SQLite {version}, journal {journal}")
            else:
                version = conn.exec_driver_sql("show server_version").scalar()
                check("database", True, f"PostgreSQL {version}")
    except Exception as exc:
        error = db.translate(exc)
        check("database", False, error.message)
        return checks

    if db.sqlite_path is not None:
        mode = stat.S_IMODE(os.stat(db.sqlite_path).st_mode)
        dir_mode = stat.S_IMODE(os.stat(db.sqlite_path.parent).st_mode)
        fixes = []
        if mode & 0o077:
            fixes.append(f"chmod 600 {db.sqlite_path}")
        if db.embedded and dir_mode & 0o077:
            fixes.append(f"chmod 700 {db.sqlite_path.parent}")
        check(
            "permissions",
            not fixes,
            f"file {oct(mode)}, directory {oct(dir_mode)}"
            + (f": others can read customer data; run {' and '.join(fixes)}" if fixes else ""),
        )

    try:
        db.ensure_schema()
        check("schema", True, f"revision {db.current_revision()} (newest)")
    except CollabError as exc:
        check("schema", False, f"{exc.message}; fix: {exc.hint}")
        return checks

    try:
        from sqlalchemy import insert

        from collabctl.operations.context import now_iso
        from collabctl.store.models import AuditEvent

        with db.session() as session:
            session.execute(
                insert(AuditEvent).values(
                    at=now_iso(), actor=state.actor, scope="doctor", action="doctor", details={}
                )
            )
            session.rollback()
        check("write", True, "a test write was made and rolled back")
    except Exception as exc:
        check("write", False, db.translate(exc).message)
    return checks
