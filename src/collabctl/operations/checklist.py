"""The end checklist of a service: each item computed from the data, attested by the
agent (``--confirm``), or forced (``--force``), as SPEC §2 Checklist items says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collabctl.domain.catalogue import CHECKLIST_ITEMS, Service
from collabctl.store import end_queries as q
from collabctl.store.statements import Statements


@dataclass
class ChecklistState:
    item: str
    met: bool
    by: str  # data | attested | forced | unmet
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "met": self.met, "by": self.by, "detail": self.detail}


def evaluate_checklist(
    sql: Statements,
    number: str,
    service: Service,
    confirm: tuple[str, ...],
    force: bool,
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
    sql: Statements, item: str, number: str, service: str, changed: str | None
) -> tuple[bool, str]:
    if item in ("reports-submitted", "outlays-submitted"):
        kind, noun = (
            ("expense-report", "expense report")
            if item == "reports-submitted"
            else ("outlay", "outlay")
        )
        drafts = q.draft_record_ids(sql, number, service, kind)
        return not drafts, _drafts(noun, drafts)
    if item == "customer-user-added":
        with_access = [
            u.email
            for u in q.company_users(sql, number)
            if u.role != "auditor" and service in u.services
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


def last_export_covering(sql: Statements, number: str, service: str) -> str | None:
    """The newest export of this company that included the service (audit log)."""
    for event in q.export_events(sql, number):
        if event.service == service or (
            event.service is None and service in event.details.get("services", [])
        ):
            return event.at
    return None
