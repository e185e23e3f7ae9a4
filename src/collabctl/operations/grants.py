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

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from collabctl.domain.errors import InvalidInput, NotFound, PermissionDenied
from collabctl.store import roles
from collabctl.store.database import Database
from collabctl.store.roles import KINDS, Target, quote

#: What each kind may do, as `doctor` and `db grant` say it.
SUMMARIES = {
    "owner": "owner of the tables: every command, `db upgrade` and `db grant`",
    "agent": "agent: every command; the audit log takes new events only; no schema changes",
    "read-only": "read-only: list, show, log, log --verify, doctor; no changes",
}


def grant_statements(role: str, kind: str, target: Target) -> list[str]:
    """The statements that give ``role`` exactly the rights of ``kind``."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind of role {kind!r}", "use --agent or --read-only")
    return roles.grant_statements(role, kind, target)


@dataclass(frozen=True)
class RoleAttributes:
    """What a role could use to undo the limits of a grant (``store.roles``)."""

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
    row = roles.role_attributes_row(session, role)
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
        target, may_grant = roles.read_target(session)
        superuser = roles.is_superuser(session, role)
        if superuser is None:
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
        if superuser:
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
            roles.run_statements(session, statements)
            session.commit()
    return GrantResult(role, kind, target, statements, apply)


# -- what the connected role may do (doctor) ------------------------------------------


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
    role, superuser, owner, read, insert_event, change_event, end, add = roles.rights_row(session)
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
