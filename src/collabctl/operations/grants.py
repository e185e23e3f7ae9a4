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


@dataclass(frozen=True)
class RoleAttributes:
    """What a role could use to undo the limits of a grant (see ``_ATTRIBUTES_SQL``)."""

    role: str
    superuser: bool
    createrole: bool
    bypassrls: bool
    owner: bool
    member_of_owner: bool
    owns: tuple[str, ...]

    def dangers(self, owner: str) -> list[str]:
        """Each attribute that lets the role act beyond its grant, in words."""
        found = []
        if self.superuser:
            found.append("is a superuser")
        if self.owner:
            found.append("owns collabctl's tables")
        if self.member_of_owner:
            found.append(f"is a member of {owner}, the owner of the tables (or of a role that is)")
        if self.createrole:
            found.append("has CREATEROLE (it can make itself a member of the owner's role)")
        if self.bypassrls:
            found.append("has BYPASSRLS")
        if self.owns and not self.owner:
            shown = ", ".join(self.owns[:3]) + (
                f" and {len(self.owns) - 3} more" if len(self.owns) > 3 else ""
            )
            found.append(f"owns {shown}")
        return found

    def to_text(self) -> str:
        def yes(flag: bool) -> str:
            return "yes" if flag else "no"

        return (
            f"superuser {yes(self.superuser)}, owner {yes(self.owner)}, member of the owner's "
            f"role {yes(self.member_of_owner)}, CREATEROLE {yes(self.createrole)}, BYPASSRLS "
            f"{yes(self.bypassrls)}, owns "
            + (", ".join(self.owns) if self.owns and not self.owner else "no other object")
        )


def role_attributes(session: Session, role: str | None = None) -> RoleAttributes:
    """The attributes of ``role`` (the connected role when None) on collabctl's tables."""
    sql = _ATTRIBUTES_SQL.format(role=":role" if role is not None else "current_user")
    row = session.execute(text(sql), {"role": role} if role is not None else {}).one()
    return RoleAttributes(
        str(row[0]),
        bool(row[1]),
        bool(row[2]),
        bool(row[3]),
        bool(row[4]),
        bool(row[5]),
        tuple(row[6] or ()),
    )


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
        dangers = role_attributes(session, role).dangers(target.owner)
        if dangers:
            raise InvalidInput(
                f"{role} {'; it '.join(dangers)}: no grant limits what it may do",
                f"use a role of its own for agents and readers, or take that away first "
                f"(as a superuser: ALTER ROLE {quote(role)} NOCREATEROLE NOBYPASSRLS; "
                f"REVOKE {quote(target.owner)} FROM {quote(role)}; ALTER ... OWNER TO "
                f"{quote(target.owner)}); see docs/deploy.md",
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


def attributes_check(session: Session, rights: Rights) -> tuple[bool, str]:
    """``doctor``'s line on the connected role's attributes: all of them, and whether a
    role that is not the owner could undo the limits of its grant with one of them."""
    attributes = role_attributes(session)
    text_ = f"{attributes.role}: {attributes.to_text()}"
    if rights.kind == "owner":
        return True, text_
    dangers = attributes.dangers("the owner")
    if not dangers:
        return True, text_
    return False, (
        f"{text_}; it {'; it '.join(dangers)}, so it can act beyond its grant: a superuser "
        "takes that away (docs/deploy.md)"
    )
