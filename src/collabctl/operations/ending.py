"""Ending a collaboration: the pre-flight checks in their documented order, then
one transaction that ends it, changes the subscription per the outcome, deletes
records for ``delete`` (after a private backup), and writes one audit event.

1. an active collaboration exists        not-found / already-ended
2. the acting party is a party to it     not-a-party
3. the company has a main contact        main-contact-missing
4. the outcome is allowed                outcome-not-allowed
5. the checklist holds (or --force)      checklist-incomplete
6. the user confirmed                    (the command line's job)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from collabctl.domain import validation
from collabctl.domain.catalogue import CHECKLIST_ITEMS, OUTCOMES, Service
from collabctl.domain.errors import (
    AlreadyEnded,
    ChecklistIncomplete,
    CollabError,
    Conflict,
    InvalidInput,
    MainContactMissing,
    NotAParty,
    NotFound,
    OutcomeNotAllowed,
)
from collabctl.operations.companies import collaboration_dict
from collabctl.operations.context import Context, now_iso

CHECK_NAMES = ("collaboration", "party", "main-contact", "outcome", "checklist")


@dataclass
class EndRequest:
    customer_number: str
    service: str | None
    outcome: str | None = None
    by: str | None = None
    confirm: tuple[str, ...] = ()
    force: bool = False
    reason: str | None = None
    backup: bool = True


@dataclass
class Check:
    name: str
    ok: bool | None  # None: not evaluated because an earlier check failed
    message: str
    error: CollabError | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "ok": self.ok,
            "message": self.message,
            "error": self.error.to_dict() if self.error else None,
        }


@dataclass
class ChecklistState:
    item: str
    met: bool
    by: str  # data | attested | forced | unmet
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "met": self.met, "by": self.by, "detail": self.detail}


@dataclass
class Preflight:
    request: EndRequest
    service: Service
    checks: list[Check] = field(default_factory=list)
    checklist: list[ChecklistState] = field(default_factory=list)
    collaboration_id: int | None = None
    collaboration: dict[str, Any] | None = None
    ended_by: str | None = None
    outcome: str | None = None
    subscription_state: str | None = None

    @property
    def error(self) -> CollabError | None:
        return next((c.error for c in self.checks if c.error is not None), None)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def forced(self) -> list[str]:
        return [c.item for c in self.checklist if c.by == "forced"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_number": self.request.customer_number,
            "service": self.service.code,
            "office_org_number": (self.collaboration or {}).get("office_org_number"),
            "ended_by": self.ended_by,
            "outcome": self.outcome,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
            "checklist": [c.to_dict() for c in self.checklist],
        }


@dataclass
class EndResult:
    collaboration: dict[str, Any]
    subscription_before: str | None
    subscription_after: str
    checklist: list[ChecklistState]
    forced: list[str]
    backup_path: str | None
    records_deleted: int

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.collaboration,
            "subscription_state": self.subscription_after,
            "forced": self.forced,
            "backup_path": self.backup_path,
            "records_deleted": self.records_deleted,
        }


def _skip(preflight: Preflight, after: int) -> Preflight:
    for name in CHECK_NAMES[after:]:
        preflight.checks.append(Check(name, None, "not checked: an earlier check failed"))
    return preflight


# -- the statements of the end path ---------------------------------------------------
#
# A bulk end runs these for every item. Building SQLAlchemy statements and loading
# ORM objects cost several times more than the statements themselves, so the end
# path speaks plain SQL on the session's own DBAPI connection: same transaction,
# same locks, and the driver keeps the statements prepared (sqlite3 caches them
# per connection; psycopg prepares a query once it has run a few times).

_PARAM = re.compile(r":(\w+)")

# The company, its active collaboration for the service, the subscription and the
# main contact: one round trip for everything an end that goes through needs.
_COMPANY_COLLABORATION_SQL = """
SELECT co.name, c.id, c.office_org_number, o.name, c.state, c.started_at, c.ended_at,
       c.ended_by, c.outcome, c.reason, s.state, s.records_changed_at,
       (SELECT u.email FROM company_user u
         WHERE u.customer_number = co.customer_number AND u.main_contact)
FROM company co
LEFT JOIN collaboration c
       ON c.customer_number = co.customer_number AND c.service = :service AND c.state = 'active'
LEFT JOIN office o ON o.org_number = c.office_org_number
LEFT JOIN subscription s ON s.customer_number = co.customer_number AND s.service = :service
WHERE co.customer_number = :number
"""
# Without an active one: the latest collaboration for the service, if any.
_LATEST_COLLABORATION_SQL = """
SELECT c.id, c.office_org_number, o.name, c.state, c.started_at, c.ended_at, c.ended_by,
       c.outcome, c.reason
FROM collaboration c JOIN office o ON o.org_number = c.office_org_number
WHERE c.customer_number = :number AND c.service = :service
ORDER BY c.started_at DESC, c.id DESC
LIMIT 1
"""
_LOCK_COMPANY_SQL = "SELECT 1 FROM company WHERE customer_number = :number FOR UPDATE"
_ACTIVE_SERVICES_SQL = (
    "SELECT service FROM collaboration WHERE customer_number = :number AND state = 'active' "
    "ORDER BY service"
)
_USERS_SQL = (
    "SELECT email, role, main_contact, services FROM company_user "
    "WHERE customer_number = :number ORDER BY id"
)
_DRAFTS_SQL = (
    "SELECT record_id FROM service_record WHERE customer_number = :number "
    "AND service = :service AND kind = :kind AND status = 'draft' ORDER BY record_id"
)
_EXPORTS_SQL = (
    "SELECT at, service, details FROM audit_event "
    "WHERE customer_number = :number AND action = 'export' ORDER BY at DESC"
)
_END_SQL = (
    "UPDATE collaboration SET state = 'ended', ended_at = :at, ended_by = :ended_by, "
    "ended_actor = :actor, outcome = :outcome, reason = :reason "
    "WHERE id = :id AND state = 'active'"
)
_SAVEPOINT_SQL = "SAVEPOINT end_backup"
_ROLLBACK_TO_SAVEPOINT_SQL = "ROLLBACK TO SAVEPOINT end_backup"
_RELEASE_SAVEPOINT_SQL = "RELEASE SAVEPOINT end_backup"
_DELETE_RECORDS_SQL = (
    "DELETE FROM service_record WHERE customer_number = :number AND service = :service"
)
_INSERT_SUBSCRIPTION_SQL = (
    "INSERT INTO subscription (customer_number, service, state) VALUES (:number, :service, :state)"
)
_UPDATE_SUBSCRIPTION_SQL = (
    "UPDATE subscription SET state = :state WHERE customer_number = :number AND service = :service"
)
_UPDATE_SUBSCRIPTION_DELETED_SQL = (
    "UPDATE subscription SET state = :state, records_changed_at = :at "
    "WHERE customer_number = :number AND service = :service"
)
_AUDIT_SQL = (
    "INSERT INTO audit_event (at, actor, scope, action, customer_number, service, details) "
    "VALUES (:at, :actor, :scope, :action, :number, :service, :details)"
)


class EndStatements:
    """The end path's SQL on the session's connection, inside the session's transaction.

    Statements are written once with ``:name`` parameters and rewritten to
    psycopg's ``%(name)s`` on PostgreSQL, so they hold no other colon or percent sign.
    """

    _postgres_sql: ClassVar[dict[str, str]] = {}

    def __init__(self, session: Session) -> None:
        session.flush()  # plain SQL must see what the ORM has not written yet
        connection = session.connection()
        self.postgres = connection.dialect.name == "postgresql"
        self._error: type[Exception] = connection.dialect.loaded_dbapi.Error
        self._cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        if self.postgres:
            converted = self._postgres_sql.get(sql)
            if converted is None:
                converted = self._postgres_sql[sql] = _PARAM.sub(r"%(\1)s", sql)
            sql = converted
        try:
            self._cursor.execute(sql, params or {})
        except self._error as exc:
            # the same exception SQLAlchemy raises, so retries and error messages work as elsewhere
            raise DBAPIError.instance(sql, params, exc, self._error) from exc
        return self._cursor

    def json(self, value: Any) -> Any:
        """A value for a JSON column, serialised as SQLAlchemy's JSON type does."""
        if self.postgres:
            from psycopg.types.json import Json

            return Json(value)
        return json.dumps(value)

    @staticmethod
    def from_json(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str | bytes) else value


class _User(NamedTuple):
    email: str
    role: str
    main_contact: bool
    services: list[str]


def _users(sql: EndStatements, number: str) -> list[_User]:
    return [
        _User(email, role, bool(main), sql.from_json(services) or [])
        for email, role, main, services in sql.execute(_USERS_SQL, {"number": number}).fetchall()
    ]


def preflight(session: Session, ctx: Context, req: EndRequest, *, lock: bool = False) -> Preflight:
    """Run checks 1–5 and report every one of them; nothing changes."""
    return _preflight(EndStatements(session), ctx, req, lock=lock)


def _preflight(sql: EndStatements, ctx: Context, req: EndRequest, *, lock: bool) -> Preflight:
    if not req.service:
        raise InvalidInput(
            "no service given", f"pass --service with one of: {', '.join(ctx.catalogue.codes)}"
        )
    service = ctx.service(req.service, "--service")
    result = Preflight(req, service)
    unknown = [item for item in req.confirm if item not in CHECKLIST_ITEMS]
    if unknown:
        raise InvalidInput(
            f"--confirm: unknown checklist item {unknown[0]!r}",
            f"checklist items: {', '.join(CHECKLIST_ITEMS)}",
        )
    if req.by is not None and req.by not in validation.ENDED_BY:
        raise InvalidInput(f"--by: {req.by!r} is not allowed", "use --by customer or --by office")
    number = req.customer_number
    params = {"number": number, "service": service.code}
    if lock and sql.postgres:
        # A statement of its own, so that the reads below (READ COMMITTED) see what
        # an agent who held the lock before us committed, e.g. that it ended this.
        sql.execute(_LOCK_COMPANY_SQL, params)
    row = sql.execute(_COMPANY_COLLABORATION_SQL, params).fetchone()
    if row is None:
        raise NotFound(
            f"customer {number} does not exist",
            "check the number with `collabctl list`, or load the company with `collabctl import`",
        )
    company_name, sub_state, changed_at, main = row[0], row[10], row[11], row[12]
    collaboration_id, office = row[1], row[2]

    # 1. an active collaboration exists
    if collaboration_id is None:
        latest = sql.execute(_LATEST_COLLABORATION_SQL, params).fetchone()
        if latest is not None:
            found = collaboration_dict((number, company_name, service.code, *latest[1:]))
            result.collaboration = found
            error: CollabError = AlreadyEnded(
                f"the {service.code} collaboration of customer {number} with office "
                f"{found['office_org_number']} already ended at {found['ended_at']} "
                f"(by {found['ended_by']}, outcome {found['outcome']})",
                f"nothing to do; see `collabctl show {number}`",
                details={"collaboration": found},
            )
        else:
            others = [r[0] for r in sql.execute(_ACTIVE_SERVICES_SQL, params).fetchall()]
            error = NotFound(
                f"customer {number} ({company_name}) has no {service.code} collaboration",
                f"active collaborations of {number}: {', '.join(others)}"
                if others
                else f"customer {number} has no active collaboration; see `collabctl show {number}`",
            )
        result.checks.append(Check("collaboration", False, error.message, error))
        return _skip(result, 1)
    result.collaboration_id = collaboration_id
    result.collaboration = collaboration_dict((number, company_name, service.code, *row[2:10]))
    result.checks.append(
        Check("collaboration", True, f"active {service.code} collaboration with office {office}")
    )

    # 2. the acting party is a party to it
    party = ctx.party
    if party is not None and (
        (party.kind == "office" and party.key != office)
        or (party.kind == "customer" and party.key != number)
    ):
        error = NotAParty(
            f"acting as {party}, collabctl cannot end the {service.code} collaboration "
            f"between customer {number} and office {office}",
            "only the company or its office for this service can end it; "
            "a support agent can act without --as",
        )
        result.checks.append(Check("party", False, error.message, error))
        return _skip(result, 2)
    if party is not None:
        if req.by is not None and req.by != party.kind:
            raise InvalidInput(
                f"--by {req.by}: acting as {party}, the collaboration is ended by the {party.kind}",
                "drop --by, or drop --as to act as support agent",
            )
        result.ended_by = party.kind
    else:
        result.ended_by = req.by
    who = result.ended_by or "(not said yet: --by customer|office)"
    result.checks.append(Check("party", True, f"ended by {who}, acting as {ctx.scope}"))

    # 3. the company has a main contact
    if main is None:
        error = MainContactMissing(
            f"customer {number} ({company_name}) has no main contact",
            _main_contact_hint(number, _users(sql, number)),
        )
        result.checks.append(Check("main-contact", False, error.message, error))
        return _skip(result, 3)
    result.checks.append(Check("main-contact", True, f"main contact {main}"))

    # 4. the outcome is one the service allows
    outcome = req.outcome
    if outcome is None and len(service.outcomes) == 1:
        outcome = service.outcomes[0]
    result.outcome = outcome
    allowed = ", ".join(service.outcomes)
    if outcome is None:
        result.checks.append(Check("outcome", None, f"not chosen yet (allowed: {allowed})"))
    elif outcome not in service.outcomes:
        error = OutcomeNotAllowed(
            f"{service.name} cannot end with {outcome!r}",
            f"allowed outcomes for {service.code}: {allowed}"
            + "".join(f"\n  {o}: {OUTCOMES[o].summary}" for o in service.outcomes),
        )
        result.checks.append(Check("outcome", False, error.message, error))
        return _skip(result, 4)
    else:
        result.checks.append(Check("outcome", True, f"{outcome}: {OUTCOMES[outcome].summary}"))

    # 5. the checklist holds
    result.checklist = evaluate_checklist(
        sql, number, service, req.confirm, req.force, records_changed_at=changed_at
    )
    unmet = [c for c in result.checklist if not c.met]
    if unmet:
        error = ChecklistIncomplete(
            f"the {service.code} checklist is not done: "
            + "; ".join(f"{c.item} ({c.detail})" for c in unmet),
            "\n".join(
                f"{c.item}: "
                + CHECKLIST_ITEMS[c.item].how_to_meet.format(customer=number, service=service.code)
                for c in unmet
            )
            + "\nor pass --force to end anyway (recorded in the audit log)",
        )
        result.checks.append(Check("checklist", False, error.message, error))
    elif result.checklist:
        result.checks.append(
            Check("checklist", True, ", ".join(f"{c.item} ({c.by})" for c in result.checklist))
        )
    else:
        result.checks.append(Check("checklist", True, "no checklist for this service"))

    result.subscription_state = sub_state
    return result


def _main_contact_hint(number: str, users: list[_User]) -> str:
    candidates = [u for u in users if u.role != "auditor"]
    if candidates:
        best = next((u for u in candidates if u.role == "administrator"), candidates[0])
        return (
            f"make a user the main contact: collabctl set-main-contact {number} --user {best.email}"
            + (" (promotes them to administrator)" if best.role != "administrator" else "")
            + f"\nor, if the customer is not among the users: collabctl add-user {number} "
            "--email EMAIL --name NAME --main-contact"
        )
    return (
        f"the company has no user who can be main contact; create one: "
        f"collabctl add-user {number} --email EMAIL --name NAME --main-contact"
    )


def evaluate_checklist(
    sql: EndStatements,
    number: str,
    service: Service,
    confirm: tuple[str, ...],
    force: bool,
    *,
    records_changed_at: str | None,
) -> list[ChecklistState]:
    states = []
    for item in service.checklist:
        met, detail = _computed(sql, item, number, service.code, records_changed_at)
        by = "data" if met else "unmet"
        if not met and item in confirm:
            if CHECKLIST_ITEMS[item].attestable:
                met, by, detail = True, "attested", "confirmed by the agent"
            else:
                detail += "; --confirm cannot meet it: it is computed from the data"
        if not met and force:
            met, by = True, "forced"
        states.append(ChecklistState(item, met, by, detail))
    return states


def _computed(
    sql: EndStatements, item: str, number: str, service: str, changed: str | None
) -> tuple[bool, str]:
    if item in ("reports-submitted", "outlays-submitted"):
        kind, noun = (
            ("expense-report", "expense report")
            if item == "reports-submitted"
            else ("outlay", "outlay")
        )
        params = {"number": number, "service": service, "kind": kind}
        drafts = [r[0] for r in sql.execute(_DRAFTS_SQL, params).fetchall()]
        return not drafts, _drafts(noun, drafts)
    if item == "customer-user-added":
        with_access = [
            u.email for u in _users(sql, number) if u.role != "auditor" and service in u.services
        ]
        if with_access:
            return True, f"{with_access[0]} has access"
        return False, "no user of the company (other than auditors) has access"
    if item == "backup-handed-over":
        exported = last_export_covering(sql, number, service)
        if exported is not None and (changed is None or exported > changed):
            return True, f"exported at {exported}"
        if exported is not None:
            return False, f"the last export ({exported}) is older than the last change ({changed})"
        return False, "no export made"
    if item == "data-synchronised":
        return False, "not confirmed"
    raise AssertionError(f"unknown checklist item {item}")


def _drafts(kind: str, drafts: list[str]) -> str:
    if not drafts:
        return f"no {kind} is a draft"
    shown = ", ".join(drafts[:5]) + (f" and {len(drafts) - 5} more" if len(drafts) > 5 else "")
    return f"{len(drafts)} {kind}{'s are' if len(drafts) != 1 else ' is a'} draft{'s' if len(drafts) != 1 else ''}: {shown}"


def last_export_covering(sql: EndStatements, number: str, service: str) -> str | None:
    """The newest export of this company that included the service (audit log)."""
    for at, event_service, details in sql.execute(_EXPORTS_SQL, {"number": number}):
        if event_service == service or (
            event_service is None and service in (sql.from_json(details) or {}).get("services", [])
        ):
            return str(at)
    return None


def require_answers(pre: Preflight) -> None:
    """What the checks leave open but an end needs: on whose behalf, and the outcome."""
    if pre.ended_by is None:
        raise InvalidInput(
            "say on whose behalf the collaboration ends",
            "pass --by customer or --by office (or act as a party with --as)",
        )
    if pre.outcome is None:
        raise InvalidInput(
            f"choose what happens to {pre.service.code} afterwards",
            f"pass --outcome with one of: {', '.join(pre.service.outcomes)}",
        )


class IncompleteEnd(RuntimeError):
    """An end failed after its first change: the transaction must not be committed."""


def end_collaboration(
    session: Session,
    ctx: Context,
    req: EndRequest,
    backup_dir: Path,
    *,
    statements: EndStatements | None = None,
) -> EndResult:
    """Checks 1–5 under lock, then the change, in the caller's transaction.

    A refusal (a :class:`CollabError`) leaves nothing changed, so a caller that
    ends many in one transaction can carry on after one is refused.
    Any failure after the first change is some other exception, which the
    caller's transaction does not survive: an end is all done or not at all.
    ``statements`` lets such a caller reuse one :class:`EndStatements`.
    """
    sql = statements or EndStatements(session)
    pre = _preflight(sql, ctx, req, lock=True)
    if pre.error is not None:
        raise pre.error
    require_answers(pre)
    assert pre.collaboration is not None and pre.collaboration_id is not None
    assert pre.ended_by is not None and pre.outcome is not None
    number, service, outcome = req.customer_number, pre.service.code, pre.outcome
    at = now_iso()
    params = {
        "id": pre.collaboration_id,
        "at": at,
        "ended_by": pre.ended_by,
        "actor": ctx.actor,
        "outcome": outcome,
        "reason": req.reason,
    }
    backup_path = None
    if outcome == "delete" and req.backup:
        # The backup shows the collaboration ended (restoring it brings back the data, not
        # the collaboration), so it is written after the row changed; the savepoint makes
        # a backup that cannot be written a refusal that leaves nothing changed.
        sql.execute(_SAVEPOINT_SQL)
        try:
            _end_row(sql, params)
            backup_path = str(write_backup(session, number, service, backup_dir, at))
        except CollabError:
            sql.execute(_ROLLBACK_TO_SAVEPOINT_SQL)
            sql.execute(_RELEASE_SAVEPOINT_SQL)
            raise
        sql.execute(_RELEASE_SAVEPOINT_SQL)
    else:
        _end_row(sql, params)
    try:
        return _apply_end(sql, ctx, req, pre, at, backup_path)
    except CollabError as exc:
        raise IncompleteEnd(f"the end of {number} {service} failed halfway: {exc}") from exc


def _end_row(sql: EndStatements, params: dict[str, Any]) -> None:
    if sql.execute(_END_SQL, params).rowcount != 1:  # nothing changed: still a plain refusal
        raise Conflict(
            "the collaboration changed while it was being ended",
            "run the command again; it will report the current state",
        )


def _apply_end(
    sql: EndStatements,
    ctx: Context,
    req: EndRequest,
    pre: Preflight,
    at: str,
    backup_path: str | None,
) -> EndResult:
    """Everything after the collaboration itself ended: subscription, records, audit event."""
    assert pre.collaboration is not None and pre.outcome is not None
    number, service, outcome = req.customer_number, pre.service.code, pre.outcome
    after = OUTCOMES[outcome].subscription_state
    params = {"number": number, "service": service, "state": after, "at": at}
    deleted = 0
    if outcome == "delete":
        deleted = sql.execute(_DELETE_RECORDS_SQL, params).rowcount
    if pre.subscription_state is None:
        sql.execute(_INSERT_SUBSCRIPTION_SQL, params)
    elif deleted:
        sql.execute(_UPDATE_SUBSCRIPTION_DELETED_SQL, params)
    elif pre.subscription_state != after:
        sql.execute(_UPDATE_SUBSCRIPTION_SQL, params)
    collaboration = {
        **pre.collaboration,
        "state": "ended",
        "ended_at": at,
        "ended_by": pre.ended_by,
        "outcome": outcome,
        "reason": req.reason,
    }
    details = {
        "office_org_number": pre.collaboration["office_org_number"],
        "ended_by": pre.ended_by,
        "outcome": outcome,
        "reason": req.reason,
        "subscription": {"before": pre.subscription_state, "after": after},
        "checklist": {c.item: c.by for c in pre.checklist},
        "confirmed": [c.item for c in pre.checklist if c.by == "attested"],
        "forced": pre.forced,
        "backup_path": backup_path,
        "records_deleted": deleted,
    }
    sql.execute(
        _AUDIT_SQL,
        {
            "at": at,
            "actor": ctx.actor,
            "scope": ctx.scope,
            "action": "end",
            "number": number,
            "service": service,
            "details": sql.json(details),
        },
    )
    return EndResult(
        collaboration,
        pre.subscription_state,
        after,
        pre.checklist,
        pre.forced,
        backup_path,
        deleted,
    )


def write_backup(session: Session, number: str, service: str, directory: Path, at: str) -> Path:
    """Everything ``delete`` is about to remove, as a private JSON file (importable)."""
    from collabctl.operations.exporting import company_document
    from collabctl.operations.restore import seal_backup

    # sealed with the SHA-256 of its content, which `collabctl restore` checks
    document = seal_backup(company_document(session, number, [service], at))
    stamp = at.replace("-", "").replace(":", "").replace(".", "")
    path = directory / f"{number}-{service}-{stamp}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        write_private_json(path, document)
    except OSError as exc:
        raise InvalidInput(
            f"cannot write the backup file {path}: {exc.strerror or exc}",
            f"make {directory} a directory you can write to, "
            "or pass --no-backup to delete without a backup",
        ) from None
    return path


def write_private_json(path: Path, document: Any) -> None:
    """Write a file only its owner can read; never leave a half-written file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
