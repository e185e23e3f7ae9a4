"""``db grant``: a PostgreSQL role's rights on collabctl's tables, as statements.

Two kinds of role, both without any right to change the schema:

- **agent**: every command; the audit log takes new events only (no UPDATE or
  DELETE, besides the triggers that refuse them anyway).
- **read-only**: ``list``, ``show``, ``log``, ``log --verify``, ``doctor``;
  every change fails with ``permission-denied``.

The statements first take away whatever the role had on the schema's tables,
so running them again, or switching a role from one kind to the other, leaves
exactly the rights of the kind. Default privileges give the role the same
rights on the tables later migrations create. The owner of the tables runs
them (``--apply``), or a superuser runs the printed text.

``role_rights`` tells ``doctor`` what the connected role may do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from collabctl.domain.errors import InvalidInput, NotFound, PermissionDenied
from collabctl.store.database import Database

KINDS = ("agent", "read-only")

#: What each kind may do, as `doctor` and `db grant` say it.
SUMMARIES = {
    "owner": "owner of the tables: every command, `db upgrade` and `db grant`",
    "agent": "agent: every command; the audit log takes new events only; no schema changes",
    "read-only": "read-only: list, show, log, log --verify, doctor; no changes",
}

# The words PostgreSQL reserves: such a name must be quoted to be an identifier.
_RESERVED = frozenset(
    """all analyse analyze and any array as asc asymmetric authorization both case cast check
    collate column constraint create current_catalog current_date current_role current_time
    current_timestamp current_user default deferrable desc distinct do else end except
    false fetch for foreign from grant group having in initially intersect into lateral
    leading limit localtime localtimestamp not null offset on only or order placing primary
    references returning select session_user some symmetric table then to trailing true
    union unique user using variadic when where window with""".split()  # noqa: SIM905
)
_BARE = re.compile(r"[a-z_][a-z0-9_]*")


def quote(name: str) -> str:
    """An SQL identifier: bare when PostgreSQL reads it back unchanged, quoted otherwise."""
    if _BARE.fullmatch(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Target:
    """Where collabctl's tables are: database, schema, and the role that owns them."""

    database: str
    schema: str
    owner: str


def grant_statements(role: str, kind: str, target: Target) -> list[str]:
    """The statements that give ``role`` exactly the rights of ``kind``."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind of role {kind!r}", "use --agent or --read-only")
    r, s, o = quote(role), quote(target.schema), quote(target.owner)
    defaults = f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s}"
    statements = [
        # start from nothing, so that a second run or a change of kind leaves exactly this
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r};",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r};",
        f"{defaults} REVOKE ALL ON TABLES FROM {r};",
        f"{defaults} REVOKE ALL ON SEQUENCES FROM {r};",
        f"GRANT CONNECT ON DATABASE {quote(target.database)} TO {r};",
        f"GRANT USAGE ON SCHEMA {s} TO {r};",
    ]
    if kind == "read-only":
        return [
            *statements,
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {r};",
            f"{defaults} GRANT SELECT ON TABLES TO {r};",
        ]
    return [
        *statements,
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r};",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {r};",
        # the audit log takes new events only, also for someone with a SQL prompt
        f"REVOKE UPDATE, DELETE ON {s}.audit_event FROM {r};",
        # only the owner migrates the schema
        f"REVOKE INSERT, UPDATE, DELETE ON {s}.alembic_version FROM {r};",
        f"{defaults} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r};",
        f"{defaults} GRANT USAGE ON SEQUENCES TO {r};",
    ]


_TARGET_SQL = """
SELECT current_database(), n.nspname, pg_get_userbyid(c.relowner),
       pg_has_role(current_user, c.relowner, 'MEMBER')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass('audit_event')
"""
_ROLE_SQL = "SELECT rolsuper FROM pg_roles WHERE rolname = :role"


@dataclass
class GrantResult:
    role: str
    kind: str
    target: Target
    statements: list[str]
    applied: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "kind": self.kind,
            "database": self.target.database,
            "schema": self.target.schema,
            "owner": self.target.owner,
            "applied": self.applied,
            "statements": self.statements,
        }


def grant(db: Database, role: str, kind: str, *, apply: bool) -> GrantResult:
    """The statements for ``role``; run them too when ``apply`` (as the tables' owner)."""
    if db.backend != "postgresql":
        raise InvalidInput(
            "db grant applies to a shared PostgreSQL database; a SQLite file has no roles",
            "on SQLite the file's permissions decide who may use it (`collabctl doctor` "
            "checks them); see docs/deploy.md for a shared database",
        )
    if not role or "\x00" in role:
        raise InvalidInput(f"{role!r} is not a role name", "give the role's name, e.g. agents")
    with db.session(write=apply) as session:
        row = session.execute(text(_TARGET_SQL)).one()
        target = Target(row[0], row[1], row[2])
        may_grant = bool(row[3])
        found = session.execute(text(_ROLE_SQL), {"role": role}).first()
        if found is None:
            raise NotFound(
                f"there is no database role {role!r}",
                "a PostgreSQL superuser creates it first, e.g. "
                f"CREATE ROLE {quote(role)} LOGIN PASSWORD '…';",
            )
        if role == target.owner:
            raise InvalidInput(
                f"{role} owns collabctl's tables: its rights cannot be narrowed",
                "give agents and readers roles of their own",
            )
        if found[0]:
            raise InvalidInput(
                f"{role} is a superuser: no grant limits what it may do",
                "use a role without SUPERUSER for agents and readers",
            )
        statements = grant_statements(role, kind, target)
        if apply:
            if not may_grant:
                raise PermissionDenied(
                    f"only the owner of collabctl's tables ({target.owner}) can grant rights "
                    "on them",
                    f"connect as {target.owner}, or have a superuser run the statements "
                    f"`collabctl db grant {role} --{kind}` prints",
                )
            for statement in statements:
                session.execute(text(statement))
            session.commit()
    return GrantResult(role, kind, target, statements, apply)


# -- what the connected role may do (doctor) ------------------------------------------

_RIGHTS_SQL = """
SELECT current_user, r.rolsuper,
       pg_has_role(current_user, c.relowner, 'MEMBER'),
       has_table_privilege(c.oid, 'SELECT'),
       has_table_privilege(c.oid, 'INSERT'),
       has_table_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE'),
       has_table_privilege(to_regclass('collaboration'), 'UPDATE'),
       has_table_privilege(to_regclass('company'), 'INSERT')
FROM pg_class c, pg_roles r
WHERE c.oid = to_regclass('audit_event') AND r.rolname = current_user
"""


@dataclass(frozen=True)
class Rights:
    role: str
    kind: str  # owner | agent | read-only | limited
    detail: str

    @property
    def may_change(self) -> bool:
        return self.kind in ("owner", "agent")


def role_rights(session: Session) -> Rights:
    """What the connected PostgreSQL role may do with collabctl's tables (schema required)."""
    row = session.execute(text(_RIGHTS_SQL)).one()
    role, superuser, owner, read, insert_event, change_event, end, add = row
    if superuser or owner:
        what = "superuser" if superuser else "owner"
        return Rights(role, "owner", f"{role} ({what}): {SUMMARIES['owner']}")
    if read and insert_event and end and add:
        if change_event:
            return Rights(
                role,
                "agent",
                f"{role}: {SUMMARIES['agent'].split(';')[0]}; it may also UPDATE or DELETE "
                "audit events (the triggers still refuse): "
                f"run `collabctl db grant {role} --agent --apply` as the owner",
            )
        return Rights(role, "agent", f"{role}: {SUMMARIES['agent']}")
    if read and not (insert_event or end or add):
        return Rights(role, "read-only", f"{role}: {SUMMARIES['read-only']}")
    missing = [
        name
        for name, ok in (
            ("SELECT on audit_event", read),
            ("INSERT on audit_event", insert_event),
            ("UPDATE on collaboration", end),
            ("INSERT on company", add),
        )
        if not ok
    ]
    return Rights(
        role,
        "limited",
        f"{role}: some changes will fail with permission-denied (missing "
        f"{', '.join(missing)}); the owner fixes it with "
        f"`collabctl db grant {role} --agent --apply` (or --read-only)",
    )
