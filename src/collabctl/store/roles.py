"""PostgreSQL roles and their rights on collabctl's tables, in SQL: the statements of
``db grant`` and the catalogue queries behind it and ``doctor``.

What the rights mean, and the refusals, are ``collabctl.operations.grants``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

#: The kinds of role ``db grant`` makes (``operations.grants`` says what each may do).
KINDS = ("agent", "read-only")

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
        raise ValueError(f"unknown kind of role {kind!r}")
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

# What could let a role undo the limits of a grant: superuser, the owner of the tables,
# membership (direct or through other roles) in the owner's role, CREATEROLE (it can
# grant itself that membership), BYPASSRLS, or owning any of collabctl's objects (an
# owner may alter or drop it whatever it is granted; the schema's owner may drop
# anything in it).
_ATTRIBUTES_SQL = """
SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolbypassrls, r.oid = c.relowner,
       r.oid <> c.relowner AND pg_has_role(r.oid, c.relowner, 'MEMBER'),
       ARRAY(
           SELECT kind || ' ' || name FROM (
               SELECT CASE o.relkind WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence'
                          WHEN 'i' THEN 'index' WHEN 'v' THEN 'view' ELSE 'relation' END,
                      o.relname
               FROM pg_class o WHERE o.relnamespace = c.relnamespace AND o.relowner = r.oid
               UNION ALL
               SELECT 'function', p.proname FROM pg_proc p
               WHERE p.pronamespace = c.relnamespace AND p.proowner = r.oid
               UNION ALL
               SELECT 'schema', n.nspname FROM pg_namespace n
               WHERE n.oid = c.relnamespace AND n.nspowner = r.oid
               UNION ALL
               SELECT 'database', d.datname FROM pg_database d
               WHERE d.datname = current_database() AND d.datdba = r.oid
           ) AS owned(kind, name)
           ORDER BY kind, name
       )
FROM pg_roles r, pg_class c
WHERE r.rolname = {role} AND c.oid = to_regclass('audit_event')
"""


def read_target(session: Session) -> tuple[Target, bool]:
    """Where collabctl's tables are, and whether the connected role may grant on them."""
    row = session.execute(text(_TARGET_SQL)).one()
    return Target(row[0], row[1], row[2]), bool(row[3])


def is_superuser(session: Session, role: str) -> bool | None:
    """Whether ``role`` is a superuser; None when there is no such role."""
    found = session.execute(text(_ROLE_SQL), {"role": role}).first()
    return None if found is None else bool(found[0])


def role_attributes_row(session: Session, role: str | None = None) -> tuple[Any, ...]:
    """The attributes of ``role`` (the connected role when None) that could undo the limits
    of a grant, as ``_ATTRIBUTES_SQL`` lists them."""
    sql = _ATTRIBUTES_SQL.format(role=":role" if role is not None else "current_user")
    return tuple(session.execute(text(sql), {"role": role} if role is not None else {}).one())


def run_statements(session: Session, statements: list[str]) -> None:
    """Run the statements of :func:`grant_statements`, in the caller's transaction."""
    for statement in statements:
        session.execute(text(statement))


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


def rights_row(session: Session) -> tuple[Any, ...]:
    """The connected role: name, superuser, member of the owner, SELECT and INSERT on the
    audit log, UPDATE or DELETE on it, UPDATE on collaboration, INSERT on company."""
    return tuple(session.execute(text(_RIGHTS_SQL)).one())
